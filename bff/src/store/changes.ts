/**
 * How a store tells a per-process cache (store/session-cache.ts) that a session or one of its
 * connections changed, and how current an entry the cache read earlier can still be taken to be.
 *
 * - Every store calls `changed` synchronously after each of its own writes to a session or connection:
 *   a change made through this process is seen at once.
 * - Changes made by other processes arrive as the store can bring them: Redis pushes them (client-side
 *   caching, CLIENT TRACKING; store/redis-invalidation.ts), SQLite counts them (`PRAGMA data_version`),
 *   the memory store has none.
 */
export interface ChangeListener {
  /** The session stored under `sessionKey` (its storageKey) changed; with `server`, only that connection. */
  changed(sessionKey: string, server?: string): void;
  /** The binding of the MCP session stored under `mcpKey` (its storageKey) changed or ended. */
  mcpChanged(mcpKey: string): void;
  /** Anything may have changed (an invalidation channel was lost and is back, a FLUSHALL): forget everything. */
  reset(): void;
}

export interface StoreChanges {
  /** Registers a listener; returns what unregisters it. */
  listen(listener: ChangeListener): () => void;
  /** Taken just before a read from the store: what `currentAsOf` is asked about later. */
  mark(): number;
  /**
   * The latest time (epoch ms) at which a value read after `mark` is known to have still been what the
   * store held, if nobody told a listener otherwise since: `now` when nothing can have been missed,
   * `-Infinity` when nothing is known (the cache then trusts an entry only by its age).
   */
  currentAsOf(mark: number, now: number): number;
}

/** The listeners of one store object, told synchronously. */
export class ChangeListeners {
  private readonly listeners = new Set<ChangeListener>();

  add(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  changed(sessionKey: string, server?: string): void {
    for (const listener of this.listeners) listener.changed(sessionKey, server);
  }

  mcpChanged(mcpKey: string): void {
    for (const listener of this.listeners) listener.mcpChanged(mcpKey);
  }

  reset(): void {
    for (const listener of this.listeners) listener.reset();
  }
}

/** A store that only this process writes to (the memory store): its own notifications are everything. */
export class ProcessChanges implements StoreChanges {
  readonly listeners = new ChangeListeners();

  listen(listener: ChangeListener): () => void {
    return this.listeners.add(listener);
  }
  mark(): number {
    return 0;
  }
  currentAsOf(_mark: number, now: number): number {
    return now;
  }
}

/**
 * A store file shared with other processes (SQLite): its own writes are told at once; what others
 * committed shows as a change of `version` (`PRAGMA data_version`, which moves only for other
 * connections' commits). An entry read while the version was `mark` is current as long as it has not
 * moved; one read (and one statement) answers every entry asked about within the same millisecond.
 */
export class VersionedChanges implements StoreChanges {
  readonly listeners = new ChangeListeners();
  private askedAt = Number.NaN;
  private last = Number.NaN;

  /** @param version the store's change counter, or undefined when it cannot be read (closed). */
  constructor(private readonly version: () => number | undefined) {}

  listen(listener: ChangeListener): () => void {
    return this.listeners.add(listener);
  }
  mark(): number {
    this.askedAt = Number.NaN;
    return this.version() ?? Number.NaN;
  }
  currentAsOf(mark: number, now: number): number {
    if (this.askedAt !== now) {
      this.last = this.version() ?? Number.NaN;
      this.askedAt = now;
    }
    return this.last === mark ? now : Number.NEGATIVE_INFINITY;
  }
}
