import { Redis } from 'ioredis';
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config, RateLimitConfig } from '../config.js';
import type { Logger } from '../log.js';

/** What is limited per client address: the routes anyone can make the BFF work for. */
export type LimitName = 'login' | 'callback' | 'anonymousMcp' | 'backchannelLogout';

export interface RateLimits {
  /**
   * Counts one request from `key` (a client address) against `name`: undefined when it may go ahead,
   * otherwise the seconds until the next one may (for Retry-After).
   */
  consume(name: LimitName, key: string, reqId?: string): Promise<number | undefined>;
  close(): Promise<void>;
}

const NAMES: readonly LimitName[] = ['login', 'callback', 'anonymousMcp', 'backchannelLogout'];

/** Keys in Redis sit beside the token store's (`mcp-bff:`), where a dump shows what they are. */
const REDIS_PREFIX = 'mcp-bff:rl:';

/**
 * Fixed-window counters from rate-limiter-flexible: in this process, or in Redis so that every BFF
 * instance sharing the store shares each address's budget. A limit of 0 is off.
 */
export class FlexibleRateLimits implements RateLimits {
  private readonly limiters = new Map<LimitName, RateLimiterAbstract>();

  constructor(
    private readonly limits: RateLimitConfig,
    private readonly log: Logger | undefined,
    redis?: Redis,
    private readonly onClose: () => Promise<void> = async () => {},
  ) {
    for (const name of NAMES) {
      const points = limits[name];
      if (points <= 0) continue;
      const duration = limits.windowSeconds;
      const memory = new RateLimiterMemory({ keyPrefix: name, points, duration });
      this.limiters.set(
        name,
        redis
          ? new RateLimiterRedis({
              storeClient: redis,
              keyPrefix: `${REDIS_PREFIX}${name}`,
              points,
              duration,
              // An address over its budget is refused from memory for the rest of the window: a flood
              // costs Redis one command per address and window, not one per request.
              inMemoryBlockOnConsumed: points + 1,
              // While Redis is away each instance counts on its own rather than letting everyone through.
              rejectIfRedisNotReady: true,
              insuranceLimiter: memory,
            })
          : memory,
      );
    }
  }

  async consume(name: LimitName, key: string, reqId?: string): Promise<number | undefined> {
    const limiter = this.limiters.get(name);
    if (!limiter) return undefined;
    try {
      await limiter.consume(key);
      return undefined;
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) {
        // Once per address and window, not once per refused request: a flood must not flood the log.
        if (rejection.consumedPoints === this.limits[name] + 1) this.log?.warn({ event: 'rate_limited', limit: name, reqId });
        return Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
      }
      // The counter and its fallback both failed: serve the request rather than refuse everybody.
      this.log?.error({ event: 'rate_limit_unavailable', limit: name, err: { name: (rejection as Error).name } });
      return undefined;
    }
  }

  close(): Promise<void> {
    return this.onClose();
  }
}

/** In-process limits: one BFF instance, or tests. */
export function memoryRateLimits(config: Pick<Config, 'rateLimits'>, log?: Logger): RateLimits {
  return new FlexibleRateLimits(config.rateLimits, log);
}

/**
 * The limits `main.ts` uses: in Redis when the token store is Redis (shared by every instance), in
 * memory otherwise (SQLite is one host's, and one process's counters are as good as a shared table).
 * Redis that is not reachable yet does not stop the start: each instance counts in memory until it is.
 */
export async function openRateLimits(config: Pick<Config, 'rateLimits' | 'tokenStore'>, log: Logger): Promise<RateLimits> {
  if (config.tokenStore.kind !== 'redis') return memoryRateLimits(config, log);
  const redis = new Redis(config.tokenStore.url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2_000,
    commandTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 1_000),
  });
  let down = false;
  // The URL may hold a password: only the error's name and code are logged, once per outage.
  redis.on('error', (error: Error & { code?: string }) => {
    if (down) return;
    down = true;
    log.warn({ event: 'rate_limit_store_unavailable', err: { name: error.name, errorCode: error.code } });
  });
  redis.on('ready', () => {
    down = false;
  });
  await Promise.race([redis.connect().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
  return new FlexibleRateLimits(config.rateLimits, log, redis, async () => {
    redis.disconnect();
  });
}
