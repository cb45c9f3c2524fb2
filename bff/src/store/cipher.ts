import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export interface CipherKey {
  /** Short identifier written in front of each ciphertext, so the right key decrypts it after rotation. */
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

/**
 * AES-256-GCM for records at rest: `v1.<keyId>.<iv>.<tag>.<ciphertext>` (base64url parts).
 * The first key encrypts; every key decrypts. `aad` binds a ciphertext to where it is stored, so a
 * record copied under another session's key fails to decrypt.
 */
export class RecordCipher {
  private readonly byId: Map<string, Buffer>;
  private readonly current: CipherKey;

  constructor(keys: CipherKey[]) {
    const [first] = keys;
    if (!first) throw new Error('"keys" must contain at least one key');
    for (const k of keys) {
      if (k.key.length !== 32) throw new Error(`key "${k.id}" must be 32 bytes`);
      if (!/^[A-Za-z0-9_-]{1,32}$/.test(k.id)) throw new Error(`key id "${k.id}" must be 1-32 URL-safe characters`);
    }
    this.current = first;
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  static withRandomKey(): RecordCipher {
    return new RecordCipher([{ id: 'ephemeral', key: randomBytes(32) }]);
  }

  /** The id of the key that encrypts. */
  get currentKeyId(): string {
    return this.current.id;
  }

  /** True when `sealed` was encrypted under an older key and should be written again under the newest. */
  isStale(sealed: string): boolean {
    return keyIdOf(sealed) !== this.current.id;
  }

  encrypt(plaintext: string, aad: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return ['v1', this.current.id, iv.toString('base64url'), tag.toString('base64url'), body.toString('base64url')].join('.');
  }

  decrypt(sealed: string, aad: string): string {
    const [version, keyId, iv, tag, body] = sealed.split('.');
    if (version !== 'v1' || !keyId || !iv || !tag || body === undefined) throw new Error('malformed ciphertext');
    const key = this.byId.get(keyId);
    if (!key) throw new Error(`no key "${keyId}" to decrypt this record`);
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  }
}

/** The key id a ciphertext names (not secret: it is written in clear in front of it). */
export function keyIdOf(sealed: string): string | undefined {
  const [version, keyId] = sealed.split('.', 2);
  return version === 'v1' ? keyId : undefined;
}
