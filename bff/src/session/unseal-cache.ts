/**
 * Remembers, for a short time, what a sealed cookie unsealed to.
 *
 * Unsealing an iron-session seal derives two keys with PBKDF2 and runs AES-CBC and an HMAC through
 * WebCrypto: the largest CPU cost of a proxied MCP request, and several thread-pool round trips of
 * latency. The session cookie is the same on every request of a session, so its unsealed content is
 * kept here, keyed by the exact cookie value.
 *
 * - Only successful unseals are kept: a forged or expired cookie is never cached, so junk cannot fill it.
 * - Bounded: the oldest entry goes first (all entries live equally long, so it is also the soonest due).
 * - What it holds is only the session id; every request still asks the store whether that session is
 *   live, so logout and session expiry take effect at once. Removing a secret takes effect within `ttlMs`.
 */
export interface UnsealCacheOptions {
  /** How long an unsealed value is reused; default 60 s. */
  ttlMs?: number;
  /** Most entries kept; default 10,000 (a few MB of cookie strings). */
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

  /** The cached value for `sealed`, or what `unseal` gives (kept when it is not undefined). */
  async get(sealed: string, unseal: () => Promise<T | undefined>): Promise<T | undefined> {
    const now = this.now();
    const hit = this.entries.get(sealed);
    if (hit) {
      if (hit.until > now) return hit.value;
      this.entries.delete(sealed);
    }
    const value = await unseal();
    if (value === undefined || this.ttlMs <= 0) return value;
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(sealed, { value, until: now + this.ttlMs });
    return value;
  }

  get size(): number {
    return this.entries.size;
  }
}
