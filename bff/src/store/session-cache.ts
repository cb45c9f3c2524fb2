import type { ChangeListener, StoreChanges } from './changes.js';
import { DelegatingStore } from './delegating.js';
import { storageKey } from './keys.js';
import {
  type McpSessionOwner,
  type SessionRecord,
  type SessionWithConnection,
  sessionEndsAt,
  type TokenRecord,
  type TokenStore,
} from './types.js';

export interface SessionCacheOptions {
  /** Most sessions kept (the least recently used goes first); default 10,000. 0 turns the cache off. */
  maxSessions?: number;
  /**
   * How old an entry may be when nothing says it is still current (the store's change feed is down, or
   * has none for other processes): it is read again after this. Default 1,000 ms.
   */
  maxStalenessMs?: number;
  now?: () => number;
}

/** What was read when: `mark` is the store's (StoreChanges.mark) for that read. */
interface Checked {
  checkedAt: number;
  mark: number;
}
interface ConnectionEntry extends Checked {
  record: TokenRecord | undefined;
}
interface SessionEntry extends Checked {
  session: SessionRecord;
  connections: Map<string, ConnectionEntry>;
}
/** Whose an MCP session is, valid while the session's entry it was read with is still the cached one. */
interface OwnerEntry extends Checked {
  owner: McpSessionOwner;
  session: SessionEntry;
}
/** Reads of one session in flight: a change while one runs means its answer is not kept. */
interface Reading {
  version: number;
  readers: number;
}

/**
 * A per-process cache of what every proxied MCP call reads: the session's liveness and its decrypted
 * token record for the server (`getSessionWithConnection`; `getSession` for liveness alone). The store stays the source of truth:
 *
 * - A change made through this process (logout, refresh, revocation, session end, back-channel logout,
 *   admin revoke, a touch) takes effect at once: the store tells the cache synchronously after each of
 *   its writes (store/changes.ts). A refresh is written through, never replaced by an older generation.
 * - A change made by another process arrives as the store brings it: pushed by Redis (CLIENT TRACKING),
 *   so effectively at once; otherwise (SQLite shared by several processes, or Redis while its
 *   invalidation connection is lost) an entry older than `maxStalenessMs` is used only when the store
 *   says nothing changed since it was read, else read again.
 * - A read that a change overtook is not kept (its answer may predate the change).
 * - The cache never extends a session: a hit past the session's idle or absolute end is read again from
 *   the store (another instance may have moved the idle end), and the idle end is still written to the
 *   store by Sessions.inUse as before.
 * - Bounded: at most `maxSessions` sessions, the least recently used dropped first.
 *
 * The owner of an MCP session (2025-11-25's Mcp-Session-Id, checked on each call) is kept too, while
 * its session's entry is: a binding's change or end is a notice of its own, a session's end drops it.
 *
 * Everything else, including the refresh path's reads under its lock (`getConnection`), goes to the
 * store as before.
 */
export class CachedStore extends DelegatingStore implements ChangeListener {
  private readonly entries = new Map<string, SessionEntry>();
  private readonly reading = new Map<string, Reading>();
  /** By the MCP session's storage key. */
  private readonly owners = new Map<string, OwnerEntry>();
  /** Counts resets: a read that began before one is not kept. */
  private resets = 0;
  private readonly maxSessions: number;
  private readonly maxStalenessMs: number;
  private readonly now: () => number;
  private readonly unlisten: () => void;
  /** Calls answered from the cache, and from the store (for tests and measurements). */
  hits = 0;
  misses = 0;

  constructor(
    inner: TokenStore,
    private readonly feed: StoreChanges,
    options: SessionCacheOptions = {},
  ) {
    super(inner);
    this.maxSessions = options.maxSessions ?? 10_000;
    this.maxStalenessMs = options.maxStalenessMs ?? 1_000;
    this.now = options.now ?? Date.now;
    this.unlisten = feed.listen(this);
  }

  /** Sessions cached now. */
  get size(): number {
    return this.entries.size;
  }

  override async getSessionWithConnection(id: string, server: string): Promise<SessionWithConnection | undefined> {
    const hit = this.peekSessionWithConnection(id, server);
    if (hit !== undefined) return hit;
    this.misses++;
    return this.read(storageKey(id), id, server);
  }

  /** The cached answer of getSessionWithConnection when there is a current one (a hit), else undefined. */
  peekSessionWithConnection(id: string, server: string): SessionWithConnection | undefined {
    const key = storageKey(id);
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    const now = this.now();
    const connection = entry.connections.get(server);
    // Past its end (by what this process knows) the session is asked for again: never served as live.
    if (connection === undefined || sessionEndsAt(entry.session) <= now || !this.current(entry, now) || !this.current(connection, now)) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    this.hits++;
    return { session: { ...entry.session }, record: connection.record && { ...connection.record } };
  }

  private async read(key: string, id: string, server: string): Promise<SessionWithConnection | undefined> {
    const mark = this.feed.mark();
    const at = this.now();
    const { value: found, unchanged } = await this.watching(key, () => this.inner.getSessionWithConnection(id, server));
    if (unchanged) this.keep(key, server, found, at, mark);
    return found;
  }

  /** Runs a read of what is filed under `key`, and tells whether a notice about it arrived meanwhile. */
  private async watching<T>(key: string, read: () => Promise<T>): Promise<{ value: T; unchanged: boolean }> {
    let reading = this.reading.get(key);
    if (reading === undefined) {
      reading = { version: 0, readers: 0 };
      this.reading.set(key, reading);
    }
    reading.readers++;
    const version = reading.version;
    const resets = this.resets;
    try {
      const value = await read();
      return { value, unchanged: reading.version === version && resets === this.resets };
    } finally {
      if (--reading.readers === 0) this.reading.delete(key);
    }
  }

  private bump(key: string): void {
    const reading = this.reading.get(key);
    if (reading !== undefined) reading.version++;
  }

  private keep(key: string, server: string, found: SessionWithConnection | undefined, at: number, mark: number): void {
    const entry = this.keepSession(key, found?.session, at, mark);
    if (entry !== undefined && found !== undefined) this.keepConnection(entry, server, found.record && { ...found.record }, at, mark);
  }

  /** Keeps what a read found of a session (undefined: it is not live), as the most recently used. */
  private keepSession(key: string, session: SessionRecord | undefined, at: number, mark: number): SessionEntry | undefined {
    if (this.maxSessions <= 0) return undefined;
    if (session === undefined) {
      this.entries.delete(key);
      return undefined;
    }
    let entry = this.entries.get(key);
    if (entry === undefined) {
      if (this.entries.size >= this.maxSessions) {
        const oldest = this.entries.keys().next();
        if (!oldest.done) this.entries.delete(oldest.value);
      }
      entry = { session: { ...session }, checkedAt: at, mark, connections: new Map() };
      this.entries.set(key, entry);
    } else {
      this.entries.delete(key);
      this.entries.set(key, entry);
      if (at >= entry.checkedAt) Object.assign(entry, { session: { ...session }, checkedAt: at, mark });
    }
    return entry;
  }

  /** The live session (its liveness only, as every request without a connection to read asks). */
  override async getSession(id: string): Promise<SessionRecord | undefined> {
    const key = storageKey(id);
    const entry = this.entries.get(key);
    if (entry !== undefined) {
      const now = this.now();
      if (sessionEndsAt(entry.session) > now && this.current(entry, now)) {
        this.entries.delete(key);
        this.entries.set(key, entry);
        this.hits++;
        return { ...entry.session };
      }
    }
    this.misses++;
    const mark = this.feed.mark();
    const at = this.now();
    const { value: session, unchanged } = await this.watching(key, () => this.inner.getSession(id));
    if (unchanged) this.keepSession(key, session, at, mark);
    return session;
  }

  /**
   * A refreshed record is never replaced by an older generation read before it was known (a read that
   * began before the refresh was written). A later read is the store's truth, even of a lower generation:
   * the connection was ended and made again by a new login.
   */
  private keepConnection(entry: SessionEntry, server: string, record: TokenRecord | undefined, at: number, mark: number): void {
    const held = entry.connections.get(server);
    if (held !== undefined && held.checkedAt > at && (record === undefined || (held.record?.generation ?? -1) > record.generation)) return;
    entry.connections.set(server, { record, checkedAt: at, mark });
  }

  /** Whether an entry can be used now: read recently enough, or the store says nothing changed since. */
  private current(entry: Checked, now: number): boolean {
    if (now - entry.checkedAt <= this.maxStalenessMs) return true;
    const asOf = this.feed.currentAsOf(entry.mark, now);
    if (asOf > entry.checkedAt) entry.checkedAt = asOf;
    return now - entry.checkedAt <= this.maxStalenessMs;
  }

  override async getMcpSessionOwner(mcpSessionId: string): Promise<McpSessionOwner | undefined> {
    const mcpKey = storageKey(mcpSessionId);
    const hit = this.owners.get(mcpKey);
    if (hit !== undefined) {
      const now = this.now();
      if (
        this.entries.get(storageKey(hit.owner.sessionId)) === hit.session &&
        sessionEndsAt(hit.session.session) > now &&
        this.current(hit.session, now) &&
        this.current(hit, now)
      ) {
        this.hits++;
        return { ...hit.owner };
      }
      this.owners.delete(mcpKey);
    }
    this.misses++;
    const mark = this.feed.mark();
    const at = this.now();
    const { value: owner, unchanged } = await this.watching(`m:${mcpKey}`, () => this.inner.getMcpSessionOwner(mcpSessionId));
    // Kept only with its session's entry (the proxy has just read it), and only if nothing changed meanwhile.
    const session = owner && this.entries.get(storageKey(owner.sessionId));
    if (owner !== undefined && session !== undefined && unchanged && this.maxSessions > 0) {
      if (this.owners.size >= this.maxSessions) {
        const oldest = this.owners.keys().next();
        if (!oldest.done) this.owners.delete(oldest.value);
      }
      this.owners.set(mcpKey, { owner: { ...owner }, session, checkedAt: at, mark });
    }
    return owner;
  }

  // ChangeListener: what the store says changed.

  mcpChanged(mcpKey: string): void {
    this.bump(`m:${mcpKey}`);
    this.owners.delete(mcpKey);
  }

  changed(sessionKey: string, server?: string): void {
    this.bump(sessionKey);
    if (server === undefined) this.entries.delete(sessionKey);
    else this.entries.get(sessionKey)?.connections.delete(server);
  }

  reset(): void {
    this.resets++;
    this.entries.clear();
    this.owners.clear();
  }

  // Writes that are also kept.

  override async replaceConnection(sessionId: string, server: string, expectedGeneration: number, record: TokenRecord): Promise<boolean> {
    const mark = this.feed.mark();
    const at = this.now();
    const replaced = await this.inner.replaceConnection(sessionId, server, expectedGeneration, record);
    // Written through (the store's own notice dropped the old one): this process uses the refreshed
    // tokens without reading them back. Only into a session still cached: a change that arrived
    // meanwhile (a logout) has dropped it.
    const entry = replaced ? this.entries.get(storageKey(sessionId)) : undefined;
    if (entry !== undefined) this.keepConnection(entry, server, { ...record, generation: expectedGeneration + 1 }, at, mark);
    return replaced;
  }

  override async close(): Promise<void> {
    this.unlisten();
    this.entries.clear();
    this.owners.clear();
    await this.inner.close();
  }

  // Everything else as the store does it (its writes tell this cache through `changes`).

}
