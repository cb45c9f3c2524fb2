/**
 * Remembers, for a short time, what sealed values unsealed to: the two unseals on every proxied MCP
 * call (the session cookie's iron-session seal, and the token record's AES-GCM ciphertext) were the
 * largest shares of its CPU, and both read the same value again on every call of a session.
 *
 * - Only successful unseals are kept: a forged or expired value is never cached, so junk cannot fill it.
 * - Bounded: the oldest entry goes first (all entries live equally long, so it is also the soonest due).
 * - Entries live `ttlMs` at most, so a removed secret or key stops opening values within that time.
 */
export interface UnsealCacheOptions {
  /** How long an unsealed value is reused; default 60 s. */
  ttlMs?: number;
  /** Most entries kept; default 10,000. */
  maxEntries?: number;
  now?: () => number;
}

export class UnsealCache<T> {
  private readonly entries = new Map<string, { value: T; until: number }>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: UnsealCacheOptions = {}) {
    this.ttlMs = options.ttlMs ?? 60_000;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** The cached value for `key`, or what `unseal` gives (kept when it is not undefined). */
  async get(key: string, unseal: () => Promise<T | undefined>): Promise<T | undefined> {
    const hit = this.peek(key);
    if (hit !== undefined) return hit;
    const value = await unseal();
    if (value !== undefined) this.put(key, value);
    return value;
  }

  /** The live value for `key`, if any. */
  peek(key: string): T | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    if (hit.until > this.now()) return hit.value;
    this.entries.delete(key);
    return undefined;
  }

  /** Keeps `value` for `key` (replacing what was there) for `ttlMs`. */
  put(key: string, value: T): void {
    if (this.ttlMs <= 0 || this.maxEntries <= 0) return;
    if (!this.entries.delete(key) && this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { value, until: this.now() + this.ttlMs });
  }

  get size(): number {
    return this.entries.size;
  }
}
