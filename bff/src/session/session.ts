import type { Context } from 'hono';
import { StoreUnavailable } from '../store/errors.js';
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
    /** How long a login waits for a refresh of the previous session to finish (see rotate). */
    private readonly rotationWaitMs = 30_000,
  ) {
    this.touchEveryMs = Math.min(60_000, (lifetime.idleTimeoutSeconds * 1000) / 10);
  }

  async current(c: Context): Promise<SessionRecord | undefined> {
    const cookie = await this.cookies.readSessionCookie(c);
    if (!cookie) return undefined;
    const session = await this.store.getSession(cookie.sid);
    return session && this.inUse(c, cookie, session);
  }

  /**
   * The current session with its connection to `server`, read together: every proxied call needs both.
   * Answered without waiting when everything it needs is in memory (the cookie's seal, the session and
   * its connection in the store's cache) and nothing has to be written back: most proxied calls.
   */
  currentWithConnection(c: Context, server: string): SessionWithConnection | undefined | Promise<SessionWithConnection | undefined> {
    const cookie = this.cookies.cachedSessionCookie(c);
    const found = cookie && this.store.peekSessionWithConnection?.(cookie.sid, server);
    if (!found) return this.readWithConnection(c, server);
    if (!cookie.sealedWithOldSecret && this.idleEndToWrite(found.session, Date.now()) === undefined) return found;
    // In memory, but its idle end or its cookie is to be written first.
    return this.inUse(c, cookie, found.session).then(() => found);
  }

  private async readWithConnection(c: Context, server: string): Promise<SessionWithConnection | undefined> {
    const cookie = await this.cookies.readSessionCookie(c);
    if (!cookie) return undefined;
    const found = await this.store.getSessionWithConnection(cookie.sid, server);
    if (found) await this.inUse(c, cookie, found.session);
    return found;
  }

  /** The idle end to write back for a session used at `now`, or undefined when the stored one is close enough. */
  private idleEndToWrite(session: SessionRecord, now: number): number | undefined {
    const idleExpiresAt = Math.min(now + this.lifetime.idleTimeoutSeconds * 1000, session.expiresAt);
    // Also backwards: a lowered SESSION_IDLE_TIMEOUT_SECONDS applies at the next use.
    return Math.abs(idleExpiresAt - session.idleExpiresAt) >= this.touchEveryMs ? idleExpiresAt : undefined;
  }

  /** A live session was used: its idle end moves, and its cookie is sealed again under the newest secret. */
  private async inUse(c: Context, cookie: { sealedWithOldSecret: boolean }, session: SessionRecord): Promise<SessionRecord> {
    const now = Date.now();
    const idleExpiresAt = this.idleEndToWrite(session, now);
    if (idleExpiresAt !== undefined) {
      await this.store.touchSession(session.id, idleExpiresAt);
      session.idleExpiresAt = idleExpiresAt;
    }
    // Secret rotation: a cookie sealed with an older secret is sealed again with the newest, so the
    // old secret can be removed once every live session has been seen (or has ended).
    if (cookie.sealedWithOldSecret) await this.cookies.writeSessionId(c, session.id, secondsUntil(session.expiresAt, now));
    return session;
  }

  /**
   * A short-lived server-side session no session cookie points to: a login's tokens wait in it for the
   * same-site bounce that merges them into the browser's session; after a logout, what a sign-out at
   * an authorization server needs waits in one for the person to choose it.
   */
  async createDetached(ttlSeconds = COMPLETION_TTL_SECONDS): Promise<SessionRecord> {
    const now = Date.now();
    const expiresAt = now + ttlSeconds * 1000;
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
    // The connections move in one step, and never while one of them is being refreshed: that refresh
    // would write to the old session and be lost with it, leaving the new one a spent refresh token.
    const deadline = Date.now() + this.rotationWaitMs;
    for (let pause = 20; !(await this.store.rotateSession(previous?.id, session)); pause = Math.min(pause * 2, 250)) {
      if (Date.now() > deadline) throw new StoreUnavailable('a refresh of the previous session did not finish in time');
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
    await this.cookies.writeSessionId(c, session.id, this.lifetime.ttlSeconds);
    return session;
  }
}

function secondsUntil(at: number, now: number): number {
  return Math.ceil((at - now) / 1000);
}
