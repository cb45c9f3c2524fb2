import type { Logger } from '../log.js';
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
  /** The AS cannot be reached; the connection is kept. */
  | { kind: 'unavailable'; cause: unknown };

/**
 * Hands out usable access tokens for (session, server), refreshing them first when they are about to
 * expire. Concurrent callers share one refresh per (session, server): the refresh token is used once.
 */
export class TokenManager {
  private readonly inflight = new Map<string, Promise<AccessOutcome>>();

  constructor(
    private readonly store: TokenStore,
    private readonly clients: ReadonlyMap<string, OAuthClient>,
    private readonly log: Logger,
  ) {}

  /**
   * @param rejectedAccessToken the access token an upstream just refused: refresh even if it looks
   *   fresh, unless another request already replaced it.
   */
  async getAccess(sessionId: string, server: string, rejectedAccessToken?: string): Promise<AccessOutcome> {
    const record = await this.store.getConnection(sessionId, server);
    if (!record) return { kind: 'login_required' };
    const stale = rejectedAccessToken !== undefined ? record.accessToken === rejectedAccessToken : needsRefresh(record);
    if (!stale) return { kind: 'ok', record };

    const key = `${sessionId}\u0000${server}`;
    const running = this.inflight.get(key);
    if (running) return running;
    const refresh = this.refresh(sessionId, server, record).finally(() => this.inflight.delete(key));
    this.inflight.set(key, refresh);
    return refresh;
  }

  private async refresh(sessionId: string, server: string, record: TokenRecord): Promise<AccessOutcome> {
    const client = this.clients.get(server);
    if (!client) return { kind: 'login_required' };
    try {
      const next = await client.refresh(record);
      // The session may have ended (logout) while the AS was answering: do not resurrect it.
      if (!(await this.store.getSession(sessionId))) return { kind: 'login_required' };
      await this.store.putConnection(sessionId, server, next);
      this.log.info({ event: 'token_refreshed', server, rotated: next.refreshToken !== record.refreshToken });
      return { kind: 'ok', record: next };
    } catch (error) {
      if (error instanceof OAuthFailure && (error.code === 'invalid_grant' || error.code === 'invalid_response')) {
        this.log.warn({ event: 'security', kind: 'refresh_rejected', server, reason: error.code });
        await this.store.deleteConnection(sessionId, server);
        return { kind: 'login_required' };
      }
      this.log.warn({ event: 'refresh_unavailable', server, err: describe(error) });
      return { kind: 'unavailable', cause: error };
    }
  }
}

/** A log-safe description of an error: its name and code, never a response body or token. */
export function describe(error: unknown): { name: string; errorCode?: string; message?: string } {
  // Not `code`: the logger redacts every field of that name (authorization codes).
  if (error instanceof OAuthFailure) return { name: error.name, errorCode: error.code, message: error.message };
  if (error instanceof Error) return { name: error.name, errorCode: (error as { code?: string }).code };
  return { name: typeof error };
}
