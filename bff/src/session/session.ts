import type { Context } from 'hono';
import type { SessionRecord, SessionWithConnection, TokenStore } from '../store/types.js';
import { COMPLETION_TTL_SECONDS, type CookieJar, newSessionId } from './cookies.js';

export interface SessionLifetime {
  /** Absolute lifetime from login, seconds. */
  ttlSeconds: number;
  /** A session unused for this long ends, seconds. */
  idleTimeoutSeconds: number;
}

/**
 * Resolves the browser's session cookie to a live server-side session. A cookie that does not unseal
 * (tampered, expired, or sealed with a secret that was since removed), or names a session that ended,
 * is simply anonymous. A store that cannot be reached is not "anonymous": its error propagates (503).
 */
export class Sessions {
  /** The idle end is written back at most this often, not on every request. */
  private readonly touchEveryMs: number;

  constructor(
    private readonly cookies: CookieJar,
    private readonly store: TokenStore,
    private readonly lifetime: SessionLifetime,
  ) {
    this.touchEveryMs = Math.min(60_000, (lifetime.idleTimeoutSeconds * 1000) / 10);
  }

  async current(c: Context): Promise<SessionRecord | undefined> {
    const cookie = await this.cookies.readSessionCookie(c);
    if (!cookie) return undefined;
    const session = await this.store.getSession(cookie.sid);
    return session && this.inUse(c, cookie, session);
  }

  /** The current session with its connection to `server`, read together: every proxied call needs both. */
  async currentWithConnection(c: Context, server: string): Promise<SessionWithConnection | undefined> {
    const cookie = await this.cookies.readSessionCookie(c);
    if (!cookie) return undefined;
    const found = await this.store.getSessionWithConnection(cookie.sid, server);
    if (found) await this.inUse(c, cookie, found.session);
    return found;
  }

  /** A live session was used: its idle end moves, and its cookie is sealed again under the newest secret. */
  private async inUse(c: Context, cookie: { sealedWithOldSecret: boolean }, session: SessionRecord): Promise<SessionRecord> {
    const now = Date.now();
    const idleExpiresAt = Math.min(now + this.lifetime.idleTimeoutSeconds * 1000, session.expiresAt);
    // Also backwards: a lowered SESSION_IDLE_TIMEOUT_SECONDS applies at the next use.
    if (Math.abs(idleExpiresAt - session.idleExpiresAt) >= this.touchEveryMs) {
      await this.store.touchSession(session.id, idleExpiresAt);
      session.idleExpiresAt = idleExpiresAt;
    }
    // Secret rotation: a cookie sealed with an older secret is sealed again with the newest, so the
    // old secret can be removed once every live session has been seen (or has ended).
    if (cookie.sealedWithOldSecret) await this.cookies.writeSessionId(c, session.id, secondsUntil(session.expiresAt, now));
    return session;
  }

  /**
   * A short-lived server-side session no cookie points to yet: a login's tokens wait in it for the
   * same-site bounce that merges them into the browser's session.
   */
  async createDetached(): Promise<SessionRecord> {
    const now = Date.now();
    const expiresAt = now + COMPLETION_TTL_SECONDS * 1000;
    const session: SessionRecord = { id: newSessionId(), createdAt: now, expiresAt, idleExpiresAt: expiresAt };
    await this.store.createSession(session);
    return session;
  }

  /**
   * Starts a fresh session id after a login (never reusing the pre-login one: fixation), carrying over
   * the connections the previous session had to other servers.
   */
  async rotate(c: Context, previous: SessionRecord | undefined): Promise<SessionRecord> {
    const now = Date.now();
    const expiresAt = now + this.lifetime.ttlSeconds * 1000;
    const session: SessionRecord = {
      id: newSessionId(),
      createdAt: now,
      expiresAt,
      idleExpiresAt: Math.min(now + this.lifetime.idleTimeoutSeconds * 1000, expiresAt),
    };
    await this.store.createSession(session);
    if (previous) {
      for (const [server, record] of await this.store.listConnections(previous.id)) {
        await this.store.putConnection(session.id, server, record);
      }
      await this.store.deleteSession(previous.id);
    }
    await this.cookies.writeSessionId(c, session.id, this.lifetime.ttlSeconds);
    return session;
  }
}

function secondsUntil(at: number, now: number): number {
  return Math.ceil((at - now) / 1000);
}
