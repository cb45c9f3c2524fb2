import { randomBytes } from 'node:crypto';
import {
  bffRoutes,
  type ConnectionInfo,
  LOGIN_ERROR_PARAM,
  type LoginErrorCode,
  type SessionInfo,
} from '@mcp-bff/shared';
import { Hono } from 'hono';
import type { Config } from '../config.js';
import { requireSameOriginApi } from '../http/csrf.js';
import { loginFailedPage } from '../http/pages.js';
import { safeReturnTo } from '../http/return-to.js';
import type { Logger } from '../log.js';
import { CallbackFailure, type OAuthClient } from '../oauth/client.js';
import { OAuthFailure } from '../oauth/errors.js';
import { describe } from '../oauth/tokens.js';
import { type CookieJar, LOGIN_TTL_SECONDS } from '../session/cookies.js';
import type { Sessions } from '../session/session.js';
import type { TokenStore } from '../store/types.js';
import type { AppEnv } from './env.js';

export interface AuthRouteDeps {
  config: Config;
  store: TokenStore;
  log: Logger;
  cookies: CookieJar;
  sessions: Sessions;
  clients: ReadonlyMap<string, OAuthClient>;
}

const REVOKE_TIMEOUT_MS = 5_000;

/** /bff/login, /bff/callback, /bff/session, /bff/logout. */
export function authRoutes(deps: AuthRouteDeps): Hono<AppEnv> {
  const { config, store, log, cookies, sessions, clients } = deps;
  const app = new Hono<AppEnv>();
  const sameOrigin = requireSameOriginApi({ origin: config.publicOrigin, log });

  const backToApp = (code: LoginErrorCode, returnTo = '/') => {
    const url = new URL(returnTo, config.publicOrigin);
    url.searchParams.set(LOGIN_ERROR_PARAM, code);
    return `${url.pathname}${url.search}${url.hash}`;
  };

  // A top-level navigation: the user is sent to the authorization server.
  app.get('/login', async (c) => {
    const returnTo = safeReturnTo(c.req.query('returnTo'), config.publicOrigin);
    const client = clients.get(c.req.query('server') ?? '');
    if (!client) return c.redirect(backToApp('authorization_failed'), 302);
    try {
      const start = await client.startAuthorization(returnTo, randomBytes(16).toString('base64url'));
      await cookies.writeLoginTransaction(c, start.transaction);
      log.info({ event: 'login_started', server: client.server.id, reqId: c.get('requestId') });
      return c.redirect(start.authorizationUrl, 302);
    } catch (error) {
      log.error({ event: 'login_failed', server: client.server.id, err: describe(error), reqId: c.get('requestId') });
      const code = error instanceof OAuthFailure && error.code === 'as_unavailable' ? 'authorization_server_unavailable' : 'authorization_failed';
      return c.redirect(backToApp(code, returnTo), 302);
    }
  });

  app.get('/callback', async (c) => {
    const reqId = c.get('requestId');
    const transaction = await cookies.readLoginTransaction(c);
    // Single use: whatever happens next, this browser's transaction is gone.
    cookies.clearLoginTransaction(c);
    const refuse = (code: LoginErrorCode, reason: string) => {
      log.warn({ event: 'security', kind: 'callback_refused', reason, reqId });
      return c.html(loginFailedPage(code), 400);
    };
    if (!transaction) return refuse('login_expired', 'no valid login transaction cookie');
    if (Date.now() - transaction.createdAt > LOGIN_TTL_SECONDS * 1000) return refuse('login_expired', 'login transaction too old');
    const client = clients.get(transaction.server);
    if (!client) return refuse('login_expired', 'unknown server in transaction');
    const params = new URL(c.req.url).searchParams;

    let record: Awaited<ReturnType<OAuthClient['finishAuthorization']>>;
    try {
      // Checked before the code is used, so that a replayed callback is refused even when its state matches.
      if (!(await store.consumeOnce(`login:${transaction.txn}`, LOGIN_TTL_SECONDS * 1000))) {
        return refuse('login_expired', 'login transaction replayed');
      }
      record = await client.finishAuthorization(transaction, params);
    } catch (error) {
      if (error instanceof CallbackFailure) {
        if (error.suspicious) return refuse(error.code, error.message);
        log.warn({ event: 'login_failed', loginError: error.code, err: describe(error.cause), reqId });
        return c.redirect(backToApp(error.code, transaction.returnTo), 302);
      }
      log.error({ event: 'login_failed', err: describe(error), reqId });
      return c.redirect(backToApp('token_exchange_failed', transaction.returnTo), 302);
    }
    const session = await sessions.rotate(c, await sessions.current(c));
    await store.putConnection(session.id, transaction.server, record);
    log.info({ event: 'login_succeeded', server: transaction.server, scopes: record.scopes, reqId });
    return c.redirect(transaction.returnTo, 302);
  });

  app.get('/session', sameOrigin, async (c) => {
    const session = await sessions.current(c);
    const connections = session ? await store.listConnections(session.id) : new Map();
    const body: SessionInfo = {
      authenticated: connections.size > 0,
      connections: config.servers.map((server): ConnectionInfo => {
        const record = connections.get(server.id);
        return {
          server: server.id,
          name: server.name,
          status: record ? 'connected' : 'login_required',
          scopes: record?.scopes ?? [],
          expiresAt: record?.expiresAt ?? null,
          loginUrl: bffRoutes.login(server.id, '/'),
        };
      }),
    };
    return c.json(body);
  });

  app.post('/logout', sameOrigin, async (c) => {
    const session = await sessions.current(c);
    if (session) {
      const connections = await store.listConnections(session.id);
      // The session ends first, so nothing can use the tokens while they are being revoked.
      await store.deleteSession(session.id);
      await Promise.all(
        [...connections].map(async ([server, record]) => {
          const client = clients.get(server);
          if (!client) return;
          try {
            await withTimeout(client.revoke(record), REVOKE_TIMEOUT_MS);
          } catch (error) {
            log.warn({ event: 'revocation_failed', server, err: describe(error) });
          }
        }),
      );
      log.info({ event: 'logout', reqId: c.get('requestId') });
    }
    cookies.clearSessionCookie(c);
    return c.json({ ok: true });
  });

  return app;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
