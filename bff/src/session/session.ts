import type { Context } from 'hono';
import type { SessionRecord, TokenStore } from '../store/types.js';
import { type CookieJar, newSessionId } from './cookies.js';

/**
 * Resolves the browser's session cookie to a live server-side session. A cookie that does not unseal,
 * or names a session that ended, is simply anonymous.
 */
export class Sessions {
  constructor(
    private readonly cookies: CookieJar,
    private readonly store: TokenStore,
    private readonly ttlSeconds: number,
  ) {}

  async current(c: Context): Promise<SessionRecord | undefined> {
    const sid = await this.cookies.readSessionId(c);
    return sid ? this.store.getSession(sid) : undefined;
  }

  /**
   * Starts a fresh session id after a login (never reusing the pre-login one: fixation), carrying over
   * the connections the previous session had to other servers.
   */
  async rotate(c: Context, previous: SessionRecord | undefined): Promise<SessionRecord> {
    const now = Date.now();
    const session: SessionRecord = { id: newSessionId(), createdAt: now, expiresAt: now + this.ttlSeconds * 1000 };
    await this.store.createSession(session);
    if (previous) {
      for (const [server, record] of await this.store.listConnections(previous.id)) {
        await this.store.putConnection(session.id, server, record);
      }
      await this.store.deleteSession(previous.id);
    }
    await this.cookies.writeSessionId(c, session.id);
    return session;
  }
}
