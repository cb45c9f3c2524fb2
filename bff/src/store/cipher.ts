import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export interface CipherKey {
  /** Short identifier written in front of each ciphertext, so the right key decrypts it after rotation. */
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

/** The version every ciphertext is written in. */
const CURRENT = 'v2';
const IV_BYTES = 12;
/** The full GCM tag: a shorter one (GCM allows 4 bytes) would make forgeries far cheaper. */
const TAG_BYTES = 16;

/**
 * AES-256-GCM for records at rest: `v2.<keyId>.<iv>.<tag>.<ciphertext>` (base64url parts), with a
 * 16-byte tag. The first key encrypts; every key decrypts.
 *
 * The additional authenticated data binds a ciphertext to where it is stored (`aad`: a record copied
 * under another session's key fails to decrypt) and, for records rewritten in place, to their
 * `generation`: whoever can write to the store but holds no key cannot put an older ciphertext of the
 * same record back under the newer generation. (Putting back the older generation *with* it is a
 * rollback of the whole row, which nothing inside the store can tell from the real thing.)
 *
 * `v1.` ciphertexts (before the generation was bound) still decrypt, with `aad` alone; `isStale` calls
 * them stale, so stores write them back as `v2.` when they read them, and `rekey` rewrites the rest.
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

  /**
   * True when `sealed` should be written again: it was encrypted under an older key, or in the older
   * format (whose AAD did not bind the generation).
   */
  isStale(sealed: string): boolean {
    return !sealed.startsWith(`${CURRENT}.`) || keyIdOf(sealed) !== this.current.id;
  }

  /** @param generation the record's generation, for records that are rewritten in place. */
  encrypt(plaintext: string, aad: string, generation?: number): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(additionalData(aad, generation));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [CURRENT, this.current.id, iv.toString('base64url'), tag.toString('base64url'), body.toString('base64url')].join('.');
  }

  /** Throws unless `sealed` was encrypted for exactly this `aad` and `generation`. */
  decrypt(sealed: string, aad: string, generation?: number): string {
    const [version, keyId, ivText, tagText, bodyText, extra] = sealed.split('.');
    if ((version !== CURRENT && version !== 'v1') || !keyId || !ivText || !tagText || bodyText === undefined || extra !== undefined) {
      throw new Error('malformed ciphertext');
    }
    const key = this.byId.get(keyId);
    if (!key) throw new Error(`no key "${keyId}" to decrypt this record`);
    const iv = Buffer.from(ivText, 'base64url');
    const tag = Buffer.from(tagText, 'base64url');
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new Error('malformed ciphertext');
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(version === CURRENT ? additionalData(aad, generation) : Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(Buffer.from(bodyText, 'base64url')), decipher.final()]).toString('utf8');
  }
}

/**
 * v2's AAD: the version, where the record is stored, and its generation ('' for records without one),
 * NUL-separated (none of them contains a NUL). The version in it means a v2 ciphertext relabelled
 * `v1.` does not open either.
 */
function additionalData(aad: string, generation: number | undefined): Buffer {
  return Buffer.from(`${CURRENT}\u0000${aad}\u0000${generation ?? ''}`, 'utf8');
}

/** The key id a ciphertext names (not secret: it is written in clear in front of it). */
export function keyIdOf(sealed: string): string | undefined {
  const [version, keyId] = sealed.split('.', 2);
  return version === CURRENT || version === 'v1' ? keyId : undefined;
}
