import type { Logger } from '../log.js';
import type { RecordCipher } from './cipher.js';

export interface Opened<T> {
  value: T;
  /** Under an older key: the store writes it back under the newest one. */
  stale: boolean;
}

/**
 * JSON values encrypted with the record cipher, shared by every store. A value no configured key opens
 * (its key was removed after a rotation, or it was tampered with) reads as absent, never as an error:
 * the user signs in again rather than meeting a 500.
 */
export class Sealer {
  constructor(
    private readonly cipher: RecordCipher,
    private readonly log?: Logger,
  ) {}

  seal(value: unknown, aad: string): string {
    return this.cipher.encrypt(JSON.stringify(value), aad);
  }

  open<T>(sealed: string, aad: string): Opened<T> | undefined {
    try {
      return { value: JSON.parse(this.cipher.decrypt(sealed, aad)) as T, stale: this.cipher.isStale(sealed) };
    } catch (error) {
      // The message names at most a key id, never key material or plaintext.
      this.log?.warn({ event: 'record_unreadable', reason: (error as Error).message });
      return undefined;
    }
  }
}
