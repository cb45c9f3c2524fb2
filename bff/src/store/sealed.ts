import type { Logger } from '../log.js';
import type { RecordCipher } from './cipher.js';
import { UnsealCache, type UnsealCacheOptions } from './unseal-cache.js';

export interface Opened<T> {
  value: T;
  /** Under an older key: the store writes it back under the newest one. */
  stale: boolean;
}

/**
 * JSON values encrypted with the record cipher, shared by every store. A value no configured key opens
 * (its key was removed after a rotation, or it was tampered with, or put back under a generation it was
 * not written for) reads as absent, never as an error: the user signs in again rather than meeting a 500.
 */
export class Sealer {
  /**
   * The last ciphertext opened under each AAD (each AAD names one stored record), the generation it
   * opened for, and its plaintext: a proxied MCP call reads the same token record on every call. A
   * ciphertext opens to the same plaintext for the same generation, so nothing here can be stale: a
   * refreshed record is a new ciphertext and replaces the entry. JSON text, so no caller can change what
   * another one reads.
   */
  private readonly opened: UnsealCache<{ sealed: string; generation: number | undefined; plaintext: string }>;

  constructor(
    private readonly cipher: RecordCipher,
    private readonly log?: Logger,
    cache: UnsealCacheOptions = { maxEntries: 1_000 },
  ) {
    this.opened = new UnsealCache(cache);
  }

  /** @param generation the record's generation, for records rewritten in place (token records). */
  seal(value: unknown, aad: string, generation?: number): string {
    return this.cipher.encrypt(JSON.stringify(value), aad, generation);
  }

  /** @param generation the generation the store holds next to `sealed`: the ciphertext must be for it. */
  open<T>(sealed: string, aad: string, generation?: number): Opened<T> | undefined {
    try {
      return { value: JSON.parse(this.decrypt(sealed, aad, generation)) as T, stale: this.cipher.isStale(sealed) };
    } catch (error) {
      // The message names at most a key id, never key material or plaintext.
      this.log?.warn({ event: 'record_unreadable', reason: (error as Error).message });
      return undefined;
    }
  }

  /** How many plaintexts are kept (for tests). */
  get cachedCount(): number {
    return this.opened.size;
  }

  private decrypt(sealed: string, aad: string, generation: number | undefined): string {
    const hit = this.opened.peek(aad);
    if (hit?.sealed === sealed && hit.generation === generation) return hit.plaintext;
    const plaintext = this.cipher.decrypt(sealed, aad, generation);
    this.opened.put(aad, { sealed, generation, plaintext });
    return plaintext;
  }
}
