import type { Logger } from '../log.js';
import { type Metrics, noMetrics, type RefreshOutcome } from '../metrics.js';
import { StoreUnavailable } from '../store/errors.js';
import { refreshLockName } from '../store/locks.js';
import type { LockFence, TokenRecord, TokenStore } from '../store/types.js';
import { MIN_REQUEST_MS, type OAuthClient } from './client.js';
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
  /** The AS cannot be reached, or the refresh did not finish in time; the connection is kept. */
  | { kind: 'unavailable'; cause: unknown };

/**
 * The longest a call waits for a refresh, its own or one it waits for: the authorization server
 * timeout plus 2 s (12 s by default). Everything a refresh sends to the AS (discovery, the token
 * request and its one retry) is cut short to fit; past it the call is answered 503 and the connection
 * kept.
 */
export function refreshDeadlineMs(authServerTimeoutMs: number): number {
  return authServerTimeoutMs + 2_000;
}

/**
 * How long a refresh lock lives unless renewed: half the refresh deadline. Its holder renews it every
 * third of that for as long as it works (the AS, the store's write retries), so it does not lapse under
 * a live holder however slow things get; a holder that died frees it this long after its last renewal,
 * early enough that a caller waiting behind it still has half its own deadline to refresh.
 */
export function refreshLockTtlMs(authServerTimeoutMs: number): number {
  return Math.max(1_000, Math.ceil(refreshDeadlineMs(authServerTimeoutMs) / 2));
}

/** TokenManagerOptions for an authorization server timeout. */
export function refreshTiming(authServerTimeoutMs: number): Required<Pick<TokenManagerOptions, 'lockTtlMs' | 'deadlineMs'>> {
  return { lockTtlMs: refreshLockTtlMs(authServerTimeoutMs), deadlineMs: refreshDeadlineMs(authServerTimeoutMs) };
}

export interface TokenManagerOptions {
  /** See refreshLockTtlMs. */
  lockTtlMs?: number;
  /** See refreshDeadlineMs. */
  deadlineMs?: number;
  /**
   * Where held locks are registered, so that a process exiting in the middle of a refresh releases
   * them rather than leave them to lapse (bff/src/http/drain.ts).
   */
  locks?: { lock(release: () => Promise<void>): () => void };
}

/** Where the last failed refresh of (session, server) is noted for the connection details view. */
export function refreshNoteKey(sessionId: string, server: string): string {
  return `refresh:${sessionId}\u0000${server}`;
}
/** How long a failed refresh stays noted. */
export const REFRESH_NOTE_TTL_MS = 60 * 60 * 1000;

/** Writing refreshed tokens is retried this long: the AS has already spent the old refresh token. */
const STORE_WRITE_RETRY_MS = [100, 300, 1_000, 2_000];

/** A refresh lock while its holder works: renewed in the background, and whether it was lost. */
interface HeldLock {
  readonly fence: LockFence;
  /** True once a renewal found the lock gone (lapsed, maybe taken by another instance). */
  readonly lost: boolean;
  release(): Promise<void>;
}

interface Inflight {
  /** Numbers the refreshes this process started, in order. */
  id: number;
  outcome: Promise<AccessOutcome>;
}

/**
 * Hands out usable access tokens for (session, server), refreshing them first when they are about to
 * expire. One refresh at a time per (session, server): concurrent callers in this process share one
 * promise, and across processes sharing the store a lock in the store admits one refresher, renewed
 * while it works. Whoever waited re-reads the store afterwards, so a refresh token is never sent again
 * once its successor is stored. Writes are compare-and-set on the record's generation; a connection is
 * ended only while its refresher still holds the lock (fenced), never by one whose lock lapsed.
 *
 * What a call waits is bounded by its own deadline: a call that only waited for a refresh begun before
 * it arrived (say, one hanging on an AS that has since recovered) and saw it fail gets one attempt of
 * its own in the time it has left.
 */
export class TokenManager {
  private readonly inflight = new Map<string, Inflight>();
  private started = 0;
  private readonly lockTtlMs: number;
  private readonly deadlineMs: number;
  private readonly locks: TokenManagerOptions['locks'];

  constructor(
    private readonly store: TokenStore,
    private readonly clients: ReadonlyMap<string, OAuthClient>,
    private readonly log: Logger,
    options: TokenManagerOptions = {},
    private readonly metrics: Pick<Metrics, 'refresh'> = noMetrics,
  ) {
    const defaults = refreshTiming(10_000);
    this.lockTtlMs = options.lockTtlMs ?? defaults.lockTtlMs;
    this.deadlineMs = options.deadlineMs ?? Math.max(defaults.deadlineMs, 2 * this.lockTtlMs);
    this.locks = options.locks;
  }

  /**
   * @param rejectedAccessToken the access token an upstream just refused: refresh even if it looks
   *   fresh, unless another request already replaced it.
   */
  async getAccess(sessionId: string, server: string, rejectedAccessToken?: string): Promise<AccessOutcome> {
    return this.accessWith(sessionId, server, await this.store.getConnection(sessionId, server), rejectedAccessToken);
  }

  /**
   * accessWith, answered without waiting when the record needs no refresh (then it is used as it is,
   * whichever manager this is): what most proxied calls find.
   */
  accessNow(sessionId: string, server: string, record: TokenRecord | undefined): AccessOutcome | Promise<AccessOutcome> {
    if (record && !needsRefresh(record)) return { kind: 'ok', record };
    return this.accessWith(sessionId, server, record);
  }

  /** Like getAccess, from the connection record the caller has just read from the store. */
  async accessWith(sessionId: string, server: string, record: TokenRecord | undefined, rejectedAccessToken?: string): Promise<AccessOutcome> {
    if (!record) return { kind: 'login_required' };
    if (!isStale(record, rejectedAccessToken)) return { kind: 'ok', record };

    const key = `${sessionId}\u0000${server}`;
    const deadline = Date.now() + this.deadlineMs;
    const startedBefore = this.started;
    for (;;) {
      let running = this.inflight.get(key);
      if (!running) {
        const id = ++this.started;
        const outcome = this.counted(server, this.refreshOnce(sessionId, server, record, rejectedAccessToken, deadline)).finally(() => {
          if (this.inflight.get(key)?.id === id) this.inflight.delete(key);
        });
        running = { id, outcome };
        this.inflight.set(key, running);
      }
      const outcome = await running.outcome;
      // A failed refresh that began before this call arrived may have hung on an AS that has since
      // recovered: this call gets one of its own, if it has the time. One it started, or one that began
      // after it arrived, is its answer.
      if (outcome.kind !== 'unavailable' || running.id > startedBefore || deadline - Date.now() < MIN_REQUEST_MS) return outcome;
    }
  }

  /** Counts one refresh by its outcome (see RefreshOutcome); a store failure counts as failed. */
  private async counted(server: string, refresh: Promise<{ outcome: AccessOutcome; how: RefreshOutcome }>): Promise<AccessOutcome> {
    try {
      const { outcome, how } = await refresh;
      this.metrics.refresh(server, how);
      return outcome;
    } catch (error) {
      this.metrics.refresh(server, 'failed');
      throw error;
    }
  }

  /** Takes the store's lock for (session, server), or waits for whoever holds it and uses their result. */
  private async refreshOnce(
    sessionId: string,
    server: string,
    seen: TokenRecord,
    rejected: string | undefined,
    deadline: number,
  ): Promise<{ outcome: AccessOutcome; how: RefreshOutcome }> {
    const lockName = refreshLockName(sessionId, server);
    const own = (outcome: AccessOutcome) => ({
      outcome,
      how: (outcome.kind === 'ok' ? 'ok' : outcome.kind === 'unavailable' ? 'failed' : 'rejected') as RefreshOutcome,
    });
    const settled = (current: TokenRecord | undefined): AccessOutcome | undefined => {
      if (!current) return { kind: 'login_required' };
      if (current.generation !== seen.generation || !isStale(current, rejected)) return { kind: 'ok', record: current };
      return undefined;
    };
    for (let pause = 20; ; pause = Math.min(pause * 2, 250)) {
      // No refresh is started without the time to finish it.
      const token = deadline - Date.now() >= MIN_REQUEST_MS ? await this.store.acquireLock(lockName, this.lockTtlMs) : undefined;
      if (token) {
        const lock = this.hold(lockName, token, server);
        try {
          // Under the lock, look again: another instance may have refreshed meanwhile, and then only
          // its refresh token is still good.
          const current = await this.store.getConnection(sessionId, server);
          const done = settled(current);
          if (done) return { outcome: done, how: 'waited' };
          return own(await this.refresh(sessionId, server, current as TokenRecord, lock, deadline));
        } finally {
          await lock.release();
        }
      }
      await sleep(Math.max(0, Math.min(pause, deadline - Date.now())));
      const outcome = settled(await this.store.getConnection(sessionId, server));
      if (outcome) return { outcome, how: 'waited' };
      if (Date.now() >= deadline) {
        this.log.warn({ event: 'refresh_wait_timed_out', server });
        return { outcome: { kind: 'unavailable', cause: new Error('the refresh did not finish in time') }, how: 'failed' };
      }
    }
  }

  /** Renews the lock every third of its lifetime until released; notes when a renewal finds it gone. */
  private hold(name: string, token: string, server: string): HeldLock {
    let lost = false;
    let renewing = false;
    const timer = setInterval(() => {
      if (renewing || lost) return;
      renewing = true;
      this.store
        .extendLock(name, token, this.lockTtlMs)
        .then(
          (held) => {
            if (held) return;
            lost = true;
            this.log.warn({ event: 'refresh_lock_lost', server });
          },
          // The store did not answer: the next renewal tries again, well before the lock lapses.
          () => undefined,
        )
        .finally(() => {
          renewing = false;
        });
    }, Math.max(50, Math.floor(this.lockTtlMs / 3)));
    timer.unref();
    let released: Promise<void> | undefined;
    const release = () => {
      released ??= (async () => {
        clearInterval(timer);
        // If this fails the lock simply lapses.
        await this.store.releaseLock(name, token).catch((error: unknown) => {
          this.log.warn({ event: 'refresh_lock_release_failed', server, err: describe(error) });
        });
        // Only now: a process waiting for its refreshes to end closes the store next.
        unregister();
      })();
      return released;
    };
    const unregister = this.locks?.lock(release) ?? (() => {});
    return {
      fence: { name, token },
      get lost() {
        return lost;
      },
      release,
    };
  }

  /** Called with the lock held and `record` just read from the store. */
  private async refresh(sessionId: string, server: string, record: TokenRecord, lock: HeldLock, deadline: number): Promise<AccessOutcome> {
    const client = this.clients.get(server);
    if (!client) return { kind: 'login_required' };
    let next: TokenRecord;
    try {
      next = await client.refresh(record, { deadline, maySend: () => !lock.lost });
    } catch (error) {
      if (error instanceof OAuthFailure && error.code === 'issuer_changed') {
        // The server moved to another AS: these tokens are of no use there, the user logs in anew.
        this.log.info({ event: 'authorization_server_changed', server, issuer: record.issuer });
        await this.noteFailure(sessionId, server, `The server now names another authorization server than ${record.issuer}, which issued these tokens: the connection was ended. Connect again to sign in at the new one.`);
        return this.end(sessionId, server, record, lock);
      }
      if (error instanceof OAuthFailure && error.code === 'invalid_client') {
        // The AS no longer takes the client these tokens were issued to: they are lost with it, and the
        // next login registers a new one.
        this.log.warn({ event: 'security', kind: 'client_rejected', server, issuer: record.issuer });
        await client.rejectClient(record).catch((e: unknown) => this.log.warn({ event: 'client_reject_failed', server, err: describe(e) }));
        await this.noteFailure(sessionId, server, 'The authorization server no longer accepts the client these tokens were issued to (its registration was removed, or its secret expired): the connection was ended. Connect again.');
        return this.end(sessionId, server, record, lock);
      }
      if (error instanceof OAuthFailure && (error.code === 'invalid_grant' || error.code === 'invalid_response')) {
        // After a race (a lock that lapsed under a slow holder) the token may have been spent by an
        // instance that stored its successor: look before ending the connection.
        const stored = await this.store.getConnection(sessionId, server);
        if (stored && stored.generation !== record.generation) return { kind: 'ok', record: stored };
        this.log.warn({ event: 'security', kind: 'refresh_rejected', server, reason: error.code });
        await this.noteFailure(
          sessionId,
          server,
          record.refreshToken
            ? 'The authorization server refused the refresh token (it expired, or access was revoked): the connection was ended. Connect again.'
            : 'The access token expired and no refresh token was issued to renew it: the connection was ended. Connect again.',
        );
        return this.end(sessionId, server, record, lock);
      }
      this.log.warn({ event: 'refresh_unavailable', server, err: describe(error) });
      await this.noteFailure(sessionId, server, 'The authorization server could not be reached (or did not answer in time) to renew the access token. The connection is kept; renewing is tried again at the next use.');
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

  /** Notes a failed refresh for the connection details view; never in the way of the refresh's outcome. */
  private async noteFailure(sessionId: string, server: string, detail: string): Promise<void> {
    await this.store
      .putNote(refreshNoteKey(sessionId, server), { at: Date.now(), outcome: 'failed', detail }, REFRESH_NOTE_TTL_MS)
      .catch((error: unknown) => this.log.warn({ event: 'refresh_note_failed', server, err: describe(error) }));
  }

  /**
   * Ends the connection `record` came from, only while this refresher still holds its lock (fenced in
   * the store): one whose lock lapsed may be looking at a refresh token another instance has just spent
   * and is about to replace, and must leave the connection to it.
   */
  private async end(sessionId: string, server: string, record: TokenRecord, lock: HeldLock): Promise<AccessOutcome> {
    if (!lock.lost && (await this.store.deleteConnection(sessionId, server, record.generation, lock.fence))) return { kind: 'login_required' };
    const stored = await this.store.getConnection(sessionId, server);
    if (!stored) return { kind: 'login_required' };
    if (stored.generation !== record.generation) return { kind: 'ok', record: stored };
    this.log.warn({ event: 'refresh_lock_lost', server, kept: true });
    return { kind: 'unavailable', cause: new Error('the refresh lock was lost; the connection is left to its new holder') };
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

export function isStale(record: TokenRecord, rejectedAccessToken: string | undefined): boolean {
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
