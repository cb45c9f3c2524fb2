import type { Logger } from '../log.js';
import { StoreUnavailable } from '../store/errors.js';
import type { TokenRecord, TokenStore } from '../store/types.js';
import type { OAuthClient } from './client.js';
import { OAuthFailure } from './errors.js';

/** Refresh when less than min(5 minutes, half the token's lifetime) remains. */
export function needsRefresh(record: TokenRecord, now = Date.now()): boolean {
  if (record.expiresAt === undefined) return false;
  const lifetime = record.expiresAt - record.issuedAt;
  const margin = Math.min(5 * 60 * 1000, lifetime / 2);
  return record.expiresAt - now < margin;
}

export type AccessOutcome =
  | { kind: 'ok'; record: TokenRecord }
  /** No connection, or the grant is gone: the user must log in again. */
  | { kind: 'login_required' }
  /** The AS cannot be reached (or another instance's refresh did not finish in time); the connection is kept. */
  | { kind: 'unavailable'; cause: unknown };

/**
 * How long a refresh lock lives: longer than the longest refresh can take, which is discovery when its
 * cache is cold (up to two requests for the server's protected resource metadata, up to three for the
 * AS's) plus the token request and its one retry, each bounded by the authorization server timeout,
 * plus a margin. A lock whose holder died lapses after this.
 */
export function refreshLockTtlMs(authServerTimeoutMs: number): number {
  return 7 * authServerTimeoutMs + 2_000;
}

export interface TokenManagerOptions {
  /** See refreshLockTtlMs. */
  lockTtlMs?: number;
}

/** Writing refreshed tokens is retried this long: the AS has already spent the old refresh token. */
const STORE_WRITE_RETRY_MS = [100, 300, 1_000, 2_000];

/**
 * Hands out usable access tokens for (session, server), refreshing them first when they are about to
 * expire. One refresh at a time per (session, server): concurrent callers in this process share one
 * promise, and across processes sharing the store a lock in the store admits one refresher. Whoever
 * waited re-reads the store afterwards, so a refresh token is never sent again once its successor is
 * stored. Writes are compare-and-set on the record's generation.
 */
export class TokenManager {
  private readonly inflight = new Map<string, Promise<AccessOutcome>>();
  private readonly lockTtlMs: number;

  constructor(
    private readonly store: TokenStore,
    private readonly clients: ReadonlyMap<string, OAuthClient>,
    private readonly log: Logger,
    options: TokenManagerOptions = {},
  ) {
    this.lockTtlMs = options.lockTtlMs ?? refreshLockTtlMs(10_000);
  }

  /**
   * @param rejectedAccessToken the access token an upstream just refused: refresh even if it looks
   *   fresh, unless another request already replaced it.
   */
  async getAccess(sessionId: string, server: string, rejectedAccessToken?: string): Promise<AccessOutcome> {
    return this.accessWith(sessionId, server, await this.store.getConnection(sessionId, server), rejectedAccessToken);
  }

  /** Like getAccess, from the connection record the caller has just read from the store. */
  async accessWith(sessionId: string, server: string, record: TokenRecord | undefined, rejectedAccessToken?: string): Promise<AccessOutcome> {
    if (!record) return { kind: 'login_required' };
    if (!isStale(record, rejectedAccessToken)) return { kind: 'ok', record };

    const key = `${sessionId}\u0000${server}`;
    const running = this.inflight.get(key);
    if (running) return running;
    const refresh = this.refreshOnce(sessionId, server, record, rejectedAccessToken).finally(() => this.inflight.delete(key));
    this.inflight.set(key, refresh);
    return refresh;
  }

  /** Takes the store's lock for (session, server), or waits for whoever holds it and uses their result. */
  private async refreshOnce(sessionId: string, server: string, seen: TokenRecord, rejected: string | undefined): Promise<AccessOutcome> {
    const lockName = `refresh\u0000${sessionId}\u0000${server}`;
    // A holder that died leaves a lock that lapses after lockTtlMs; waiting longer than that means
    // something else is wrong, and the answer is 503 (the connection is kept).
    const deadline = Date.now() + this.lockTtlMs + 2_000;
    const settled = (current: TokenRecord | undefined): AccessOutcome | undefined => {
      if (!current) return { kind: 'login_required' };
      if (current.generation !== seen.generation || !isStale(current, rejected)) return { kind: 'ok', record: current };
      return undefined;
    };
    for (let pause = 20; ; pause = Math.min(pause * 2, 250)) {
      const token = await this.store.acquireLock(lockName, this.lockTtlMs);
      if (token) {
        try {
          // Under the lock, look again: another instance may have refreshed meanwhile, and then only
          // its refresh token is still good.
          const current = await this.store.getConnection(sessionId, server);
          return settled(current) ?? (await this.refresh(sessionId, server, current as TokenRecord));
        } finally {
          // If this fails the lock simply lapses.
          await this.store.releaseLock(lockName, token).catch((error: unknown) => {
            this.log.warn({ event: 'refresh_lock_release_failed', server, err: describe(error) });
          });
        }
      }
      await sleep(pause);
      const outcome = settled(await this.store.getConnection(sessionId, server));
      if (outcome) return outcome;
      if (Date.now() > deadline) {
        this.log.warn({ event: 'refresh_wait_timed_out', server });
        return { kind: 'unavailable', cause: new Error('another refresh did not finish in time') };
      }
    }
  }

  /** Called with the lock held and `record` just read from the store. */
  private async refresh(sessionId: string, server: string, record: TokenRecord): Promise<AccessOutcome> {
    const client = this.clients.get(server);
    if (!client) return { kind: 'login_required' };
    let next: TokenRecord;
    try {
      next = await client.refresh(record);
    } catch (error) {
      if (error instanceof OAuthFailure && error.code === 'issuer_changed') {
        // The server moved to another AS: these tokens are of no use there, the user logs in anew.
        this.log.info({ event: 'authorization_server_changed', server, issuer: record.issuer });
        await this.store.deleteConnection(sessionId, server, record.generation);
        return { kind: 'login_required' };
      }
      if (error instanceof OAuthFailure && (error.code === 'invalid_grant' || error.code === 'invalid_response')) {
        // After a race (a lock that lapsed under a slow holder) the token may have been spent by an
        // instance that stored its successor: look before ending the connection.
        const stored = await this.store.getConnection(sessionId, server);
        if (stored && stored.generation !== record.generation) return { kind: 'ok', record: stored };
        this.log.warn({ event: 'security', kind: 'refresh_rejected', server, reason: error.code });
        await this.store.deleteConnection(sessionId, server, record.generation);
        return { kind: 'login_required' };
      }
      this.log.warn({ event: 'refresh_unavailable', server, err: describe(error) });
      return { kind: 'unavailable', cause: error };
    }
    if (await this.writeRefreshed(sessionId, server, record.generation, next)) {
      this.log.info({ event: 'token_refreshed', server, rotated: next.refreshToken !== record.refreshToken });
      return { kind: 'ok', record: { ...next, generation: record.generation + 1 } };
    }
    // Compare-and-set lost: the session ended meanwhile (logout: never resurrect it), or another
    // instance wrote first. What the store holds wins.
    const stored = await this.store.getConnection(sessionId, server);
    return stored ? { kind: 'ok', record: stored } : { kind: 'login_required' };
  }

  /**
   * The AS has spent the old refresh token; losing the new one to a brief store outage would end the
   * connection, so the write is retried for a few seconds before giving up.
   */
  private async writeRefreshed(sessionId: string, server: string, generation: number, next: TokenRecord): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.store.replaceConnection(sessionId, server, generation, next);
      } catch (error) {
        const pause = STORE_WRITE_RETRY_MS[attempt];
        if (!(error instanceof StoreUnavailable) || pause === undefined) {
          this.log.error({ event: 'refreshed_tokens_not_stored', server, err: describe(error) });
          throw error;
        }
        await sleep(pause);
      }
    }
  }
}

function isStale(record: TokenRecord, rejectedAccessToken: string | undefined): boolean {
  return rejectedAccessToken !== undefined ? record.accessToken === rejectedAccessToken : needsRefresh(record);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A log-safe description of an error: its name and code, never a response body or token. */
export function describe(error: unknown): { name: string; errorCode?: string; message?: string } {
  // Not `code`: the logger redacts every field of that name (authorization codes).
  if (error instanceof OAuthFailure) return { name: error.name, errorCode: error.code, message: error.message };
  if (error instanceof Error) return { name: error.name, errorCode: (error as { code?: string }).code };
  return { name: typeof error };
}
