import { Redis } from 'ioredis';
import type { Logger } from '../log.js';
import { type ChangeListener, ChangeListeners, type StoreChanges } from './changes.js';

export interface RedisInvalidationOptions {
  /** The store's Redis URL. */
  url: string;
  /** The store's key prefix: sessions live under `<prefix>s:<storage key>`. */
  prefix: string;
  log?: Logger;
  /**
   * How often the invalidation connection is pinged. An answered ping proves that every invalidation
   * for a write made before it was sent has arrived (one connection, in order); default 250 ms.
   */
  heartbeatMs?: number;
  /** Wait before reconnecting after `attempt` failures; default 50 ms doubling up to 1 s. */
  retryDelayMs?: (attempt: number) => number;
  now?: () => number;
}

const CHANNEL = '__redis__:invalidate';
/** After a failure to turn tracking on (not a lost connection): the wait before trying again. */
const TRACKING_RETRY_MS = 5_000;

/**
 * The changes of a Redis store: its own writes, told by the store at once, and everybody's, pushed by
 * Redis (server-assisted client-side caching, `CLIENT TRACKING ... BCAST PREFIX <prefix>s: PREFIX
 * <prefix>m:`): one connection of its own, redirected to itself and subscribed to
 * `__redis__:invalidate`, hears of every change of a session hash or an MCP session binding (a write by
 * any instance, a deletion, an expiry), within a round trip.
 *
 * While that connection is down (or has not answered a ping for a second) nothing vouches for a cached
 * entry beyond its age, so the cache (store/session-cache.ts) reads again what is older than its bound
 * (1 s). When the connection is back, tracking is turned on again, and the cache is emptied: what
 * changed in between was not heard.
 */
export class RedisInvalidation implements StoreChanges {
  readonly listeners = new ChangeListeners();
  private readonly redis: Redis;
  private readonly sessionPrefix: string;
  private readonly mcpPrefix: string;
  private readonly log: Logger | undefined;
  private readonly now: () => number;
  private readonly heartbeatMs: number;
  private timer: NodeJS.Timeout | undefined;
  /** Moves on every loss and every new start of tracking: marks of another epoch vouch for nothing. */
  private epoch = 0;
  private tracking = false;
  /** When the latest answered ping was sent (this epoch): every change before it has been heard. */
  private syncedAt = Number.NEGATIVE_INFINITY;
  private pingSentAt: number | undefined;
  private down = false;
  private started = false;
  private closed = false;

  constructor(options: RedisInvalidationOptions) {
    this.sessionPrefix = `${options.prefix}s:`;
    this.mcpPrefix = `${options.prefix}m:`;
    this.log = options.log;
    this.now = options.now ?? Date.now;
    this.heartbeatMs = options.heartbeatMs ?? 250;
    const retry = options.retryDelayMs ?? ((attempt: number) => Math.min(50 * 2 ** attempt, 1_000));
    this.redis = new Redis(options.url, {
      lazyConnect: true,
      connectionName: 'mcp-bff-invalidation',
      autoResubscribe: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 2_000,
      commandTimeout: 2_000,
      retryStrategy: retry,
    });
    this.redis.on('ready', () => void this.track());
    this.redis.on('close', () => this.lost());
    // Logged once per outage; the URL (which may hold a password) never is.
    this.redis.on('error', (error: Error & { code?: string }) => {
      if (this.down) return;
      this.down = true;
      this.log?.warn({ event: 'store_invalidation_unavailable', store: 'redis', err: { name: error.name, errorCode: error.code } });
    });
    this.redis.on('messageBuffer', (channel: Buffer, message: unknown) => {
      if (channel.toString() === CHANNEL) this.invalidated(message);
    });
  }

  listen(listener: ChangeListener): () => void {
    this.start();
    return this.listeners.add(listener);
  }

  mark(): number {
    return this.tracking ? this.epoch : Number.NaN;
  }

  currentAsOf(mark: number, now: number): number {
    if (!this.tracking || mark !== this.epoch) return Number.NEGATIVE_INFINITY;
    return Math.min(this.syncedAt, now);
  }

  /** Whether invalidations are being heard now (for tests and readiness). */
  get active(): boolean {
    return this.tracking;
  }

  /** Connects (in the background; it keeps trying) and starts the heartbeat. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.redis.connect().catch(() => undefined);
    this.timer = setInterval(() => this.heartbeat(), this.heartbeatMs);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.lost();
    this.redis.disconnect(false);
  }

  private async track(): Promise<void> {
    const redis = this.redis;
    try {
      const id = await redis.client('ID');
      const since = this.now();
      await redis.client('TRACKING', 'ON', 'REDIRECT', String(id), 'BCAST', 'PREFIX', this.sessionPrefix, 'PREFIX', this.mcpPrefix);
      await redis.subscribe(CHANNEL);
      // Heard from here on; what changed before was not: everything cached is forgotten.
      this.epoch++;
      this.syncedAt = since;
      this.tracking = true;
      this.listeners.reset();
      if (this.down) this.log?.info({ event: 'store_invalidation_available', store: 'redis' });
      this.down = false;
    } catch (error) {
      if (this.closed) return;
      // E.g. an ACL without CLIENT or SUBSCRIBE, or a Redis before 6: the cache keeps to its 1 s bound.
      // Logged once per outage; a new connection tries again a little later.
      if (!this.down) {
        this.down = true;
        this.log?.warn({ event: 'store_invalidation_failed', store: 'redis', err: { name: (error as Error).name, message: (error as Error).message } });
      }
      setTimeout(() => {
        // Unless a reconnection (the connection was lost meanwhile) has tracked since.
        if (!this.closed && !this.tracking) redis.disconnect(true);
      }, TRACKING_RETRY_MS).unref();
    }
  }

  private lost(): void {
    if (!this.tracking) return;
    this.tracking = false;
    this.epoch++;
    this.pingSentAt = undefined;
    this.syncedAt = Number.NEGATIVE_INFINITY;
  }

  private heartbeat(): void {
    if (!this.tracking) return;
    const now = this.now();
    if (this.pingSentAt !== undefined) {
      // A connection that stopped answering is given up: a new one starts tracking afresh.
      if (now - this.pingSentAt > 5_000) this.redis.disconnect(true);
      return;
    }
    const epoch = this.epoch;
    const sentAt = now;
    this.pingSentAt = sentAt;
    this.redis.ping().then(
      () => {
        if (this.epoch !== epoch) return;
        this.pingSentAt = undefined;
        if (sentAt > this.syncedAt) this.syncedAt = sentAt;
      },
      () => {
        if (this.epoch === epoch) this.pingSentAt = undefined;
      },
    );
  }

  /** An invalidation: the keys that changed, or null when Redis dropped everything (FLUSHALL, FLUSHDB). */
  private invalidated(message: unknown): void {
    if (message === null || message === undefined) {
      this.listeners.reset();
      return;
    }
    for (const item of Array.isArray(message) ? message : [message]) {
      const key = Buffer.isBuffer(item) ? item.toString() : String(item);
      if (key.startsWith(this.sessionPrefix)) this.listeners.changed(key.slice(this.sessionPrefix.length));
      else if (key.startsWith(this.mcpPrefix)) this.listeners.mcpChanged(key.slice(this.mcpPrefix.length));
    }
  }
}
