import { bffRoutes, LOGOUT_PARAM, type LogoutOutcome, type SignOutOffer } from '@mcp-bff/shared';
import { type Context, Hono } from 'hono';
import type { Logger } from '../log.js';
import type { OAuthClient } from '../oauth/client.js';
import { createState, stateMatches } from '../oauth/pkce.js';
import { postLogoutRedirectUriFor } from '../oauth/redirect-uri.js';
import { describe } from '../oauth/tokens.js';
import { type CookieJar, LOGOUT_TTL_SECONDS, type LogoutTransaction } from '../session/cookies.js';
import type { Sessions } from '../session/session.js';
import type { TokenRecord, TokenStore } from '../store/types.js';
import type { AppEnv } from './env.js';

/**
 * Signing out at the authorization servers too (OpenID Connect RP-Initiated Logout 1.0), after the
 * app's own logout has ended the session and revoked its tokens:
 *
 *   POST /bff/logout                     (auth.ts) offers it for every AS that advertises an
 *                                        end_session_endpoint: what each sign-out needs (issuer, client,
 *                                        ID token) waits server-side in a pending session, which only
 *                                        the sealed logout cookie names
 *   GET  /bff/logout/end-session?server  a link in the app: uses up the offers and redirects to the
 *                                        chosen AS with client_id, id_token_hint, post_logout_redirect_uri
 *                                        and state
 *   GET  /bff/logout/callback?state      the post_logout_redirect_uri: checks state, back to the app
 *
 * One AS per logout: a person signed in at several chooses one, and the app says so.
 */
export interface SignOutDeps {
  publicUrl: string;
  store: TokenStore;
  log: Logger;
  cookies: CookieJar;
  sessions: Sessions;
  clients: ReadonlyMap<string, OAuthClient>;
  /** How long the logout waits for an AS's metadata (the revocations' bound). */
  timeoutMs: number;
}

export class SignOut {
  private readonly postLogoutRedirectUri: string;

  constructor(private readonly deps: SignOutDeps) {
    this.postLogoutRedirectUri = postLogoutRedirectUriFor(deps.publicUrl);
  }

  /**
   * After a logout: the sign-outs on offer for the connections the session had, one per AS, and the
   * logout cookie that lets this browser take one of them. None when no AS advertises a sign-out.
   */
  async offer(c: Context<AppEnv>, connections: ReadonlyMap<string, TokenRecord>): Promise<SignOutOffer[]> {
    const { clients, log, store, sessions, cookies } = this.deps;
    const found = await Promise.all(
      [...connections].map(async ([server, record]) => {
        const client = clients.get(server);
        if (!client) return undefined;
        try {
          const host = await withTimeout(client.endSessionHost(record), this.deps.timeoutMs);
          return host ? { server, record, host, name: client.server.name } : undefined;
        } catch (error) {
          log.warn({ event: 'end_session_unavailable', server, err: describe(error), reqId: c.get('requestId') });
          return undefined;
        }
      }),
    );
    const offered = found.filter((f) => f !== undefined);
    if (offered.length === 0) return [];
    const pending = await sessions.createDetached(LOGOUT_TTL_SECONDS);
    for (const { server, record } of offered) {
      // What a sign-out needs, and no usable token: those were revoked with the session.
      await store.putConnection(pending.id, server, { ...record, accessToken: '', refreshToken: undefined });
    }
    await cookies.writeLogoutTransaction(c, { phase: 'offered', pendingSessionId: pending.id, createdAt: Date.now() });
    const byIssuer = new Map<string, SignOutOffer>();
    for (const { server, record, host, name } of offered) {
      const same = byIssuer.get(record.issuer);
      if (same) same.servers.push(name);
      else byIssuer.set(record.issuer, { host, servers: [name], url: bffRoutes.endSession(server) });
    }
    return [...byIssuer.values()];
  }

  routes(): Hono<AppEnv> {
    const { clients, log, store, cookies } = this.deps;
    const app = new Hono<AppEnv>();
    const backToApp = (c: Context<AppEnv>, outcome: LogoutOutcome) => c.redirect(`/?${LOGOUT_PARAM}=${outcome}`, 302);

    app.get('/logout/end-session', async (c) => {
      const reqId = c.get('requestId');
      // Only the app's own page links here. A navigation another site starts carries the Lax logout
      // cookie too, and must not send the person to a sign-out they did not ask for.
      const site = c.req.header('sec-fetch-site');
      if (site !== undefined && site !== 'same-origin' && site !== 'none') {
        log.warn({ event: 'security', kind: 'end_session_refused', reason: 'started by another site', reqId });
        return backToApp(c, 'sign_out_unconfirmed');
      }
      const txn = await cookies.readLogoutTransaction(c);
      const server = c.req.query('server') ?? '';
      const client = clients.get(server);
      if (txn?.phase !== 'offered' || tooOld(txn) || !client) return backToApp(c, 'sign_out_expired');
      const pending = await store.getSession(txn.pendingSessionId);
      const record = pending ? await store.getConnection(pending.id, server) : undefined;
      // Single use, whichever AS was chosen: the offers end here.
      if (pending) await store.deleteSession(pending.id);
      cookies.clearLogoutTransaction(c);
      if (!record) return backToApp(c, 'sign_out_expired');
      const state = createState();
      let request: Awaited<ReturnType<OAuthClient['endSessionRequest']>>;
      try {
        request = await client.endSessionRequest(record, { postLogoutRedirectUri: this.postLogoutRedirectUri, state });
      } catch (error) {
        log.warn({ event: 'end_session_unavailable', server, err: describe(error), reqId });
        return backToApp(c, 'sign_out_unavailable');
      }
      if (!request) return backToApp(c, 'sign_out_unavailable');
      if (request.returns) await cookies.writeLogoutTransaction(c, { phase: 'sent', state, server, createdAt: Date.now() });
      log.info({ event: 'end_session_started', server, returns: request.returns, idTokenHint: record.idToken !== undefined, reqId });
      return c.redirect(request.url, 302);
    });

    // The post_logout_redirect_uri, reached by a navigation the AS's page started (hence the Lax cookie).
    app.get('/logout/callback', async (c) => {
      const reqId = c.get('requestId');
      const txn = await cookies.readLogoutTransaction(c);
      const states = new URL(c.req.url).searchParams.getAll('state');
      const sent = txn?.phase === 'sent' && !tooOld(txn) ? txn : undefined;
      if (sent && states.length === 1 && stateMatches(states[0] as string, sent.state)) {
        cookies.clearLogoutTransaction(c);
        log.info({ event: 'end_session_finished', server: sent.server, reqId });
        return backToApp(c, 'signed_out');
      }
      // Not the answer to this browser's sign-out in progress (a crafted link, another tab's older one):
      // refused, and that sign-out's own answer still works.
      log.warn({ event: 'security', kind: 'end_session_callback_refused', reason: sent ? 'state missing, duplicated or not the expected one' : 'no sign-out in progress', reqId });
      return backToApp(c, 'sign_out_unconfirmed');
    });

    return app;
  }
}

function tooOld(txn: LogoutTransaction): boolean {
  return Date.now() - txn.createdAt > LOGOUT_TTL_SECONDS * 1000;
}

export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
