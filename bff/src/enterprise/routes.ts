import { randomBytes } from 'node:crypto';
import { bffRoutes, LOGIN_ERROR_PARAM, LOGIN_REFERENCE_PARAM, type LoginErrorCode } from '@mcp-bff/shared';
import { type Context, Hono } from 'hono';
import type { Config } from '../config.js';
import type { ClientAddress } from '../http/client-address.js';
import { requestHeader } from '../http/node.js';
import { loginBouncePage, loginFailedPage } from '../http/pages.js';
import type { RateLimits } from '../http/rate-limit.js';
import { safeReturnTo } from '../http/return-to.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { OAuthFailure } from '../oauth/errors.js';
import { describe } from '../oauth/tokens.js';
import type { AppEnv } from '../routes/env.js';
import { type CookieJar, LOGIN_TTL_SECONDS } from '../session/cookies.js';
import type { Sessions } from '../session/session.js';
import type { SessionRecord, TokenStore } from '../store/types.js';
import type { EnterpriseConnector } from './connector.js';
import { isTrustedPeer, trustedPeers } from './forwarded.js';
import { EnterpriseFailure, type EnterpriseIdp, IDP_CONNECTION } from './idp.js';

/** A step-up's scope parameter: scope tokens only (as routes/auth.ts). */
const SCOPE_PARAM = /^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/;

/** The IdP's redirect URI is PUBLIC_URL + this. */
export const IDP_CALLBACK_PATH = '/bff/idp/callback';
const COMPLETE_PATH = '/bff/callback/complete';

export interface EnterpriseRouteDeps {
  config: Config;
  store: TokenStore;
  log: Logger;
  cookies: CookieJar;
  sessions: Sessions;
  idp: EnterpriseIdp;
  connector: EnterpriseConnector;
  limits: RateLimits;
  clientAddress: ClientAddress;
  metrics: Metrics;
}

function loginErrorFor(error: unknown): LoginErrorCode {
  if (error instanceof EnterpriseFailure) return error.transient ? 'authorization_server_unavailable' : 'enterprise_access_denied';
  if (error instanceof OAuthFailure) {
    if (error.code === 'as_unavailable') return 'authorization_server_unavailable';
    if (error.code === 'resource_mismatch' || error.code === 'registration_failed' || error.code === 'pkce_unsupported') return error.code;
  }
  return 'authorization_failed';
}

/**
 * Enterprise-managed servers' side of /bff/login, and the IdP's redirect URI. Mounted before
 * routes/auth.ts: a login for any other server passes through untouched.
 *
 * /bff/login?server=<enterprise-managed> connects at once (token exchange + JWT bearer grant, no page)
 * when this session has a usable IdP sign-in; otherwise it sends the person to sign in at the IdP
 * (OpenID Connect, code + PKCE + state + nonce), whose callback keeps the sign-in in the session (through
 * the same pending session and same-site bounce as every login) and comes back to this login URL.
 */
export function enterpriseRoutes(deps: EnterpriseRouteDeps): Hono<AppEnv> {
  const { config, store, log, cookies, sessions, idp, connector, limits, clientAddress, metrics } = deps;
  const app = new Hono<AppEnv>();
  const trusted = trustedPeers(config.trustedProxies);

  const backToApp = (c: Context<AppEnv>, code: LoginErrorCode, returnTo = '/') => {
    metrics.loginFailed(code);
    const url = new URL(returnTo, config.publicOrigin);
    url.searchParams.set(LOGIN_ERROR_PARAM, code);
    url.searchParams.set(LOGIN_REFERENCE_PARAM, c.get('requestId'));
    return c.redirect(`${url.pathname}${url.search}${url.hash}`, 302);
  };

  /**
   * ENTERPRISE_IDP_ID_TOKEN_HEADER: the ID token an authenticating proxy in front of the BFF forwards,
   * believed only when the request comes straight from one of TRUSTED_PROXIES. It becomes the session's
   * IdP sign-in; another person's (another `sub`) starts a new session without the old one's connections.
   */
  const adoptForwardedSignIn = async (c: Context<AppEnv>, session: SessionRecord | undefined): Promise<SessionRecord | undefined> => {
    const header = idp.config.idTokenHeader;
    const forwarded = header ? requestHeader(c, header) : undefined;
    if (!header || !forwarded) return session;
    if (!trusted || !isTrustedPeer(c, trusted)) {
      log.warn({ event: 'security', kind: 'forwarded_id_token_ignored', reason: 'not from a trusted proxy', reqId: c.get('requestId') });
      return session;
    }
    const check = await idp.checkForwarded(forwarded);
    if (check.kind !== 'valid') {
      const reason = check.kind === 'invalid' ? 'not a valid ID token of the IdP for this client' : "the IdP's signing keys could not be read";
      log.warn({ event: 'security', kind: 'forwarded_id_token_ignored', reason, reqId: c.get('requestId') });
      return session;
    }
    const record = check.record;
    const existing = session ? await store.getConnection(session.id, IDP_CONNECTION) : undefined;
    if (existing?.idToken === forwarded) return session;
    let previous = session;
    if (session && existing && existing.subject !== record.subject) {
      await store.deleteSession(session.id);
      previous = undefined;
    }
    const next = await sessions.rotate(c, previous);
    await store.putConnection(next.id, IDP_CONNECTION, record);
    log.info({ event: 'idp_sign_in', via: 'proxy', reqId: c.get('requestId') });
    return next;
  };

  app.get('/login', async (c, next) => {
    const id = c.req.query('server') ?? '';
    if (!connector.manages(id)) return next();
    const reqId = c.get('requestId');
    const returnTo = safeReturnTo(c.req.query('returnTo'), config.publicOrigin);
    if ((await limits.consume('login', clientAddress(c), reqId)) !== undefined) return backToApp(c, 'rate_limited', returnTo);
    // A step-up (403 insufficient_scope): the scopes the server asked for, as routes/auth.ts takes them.
    // Only the app itself may widen the scopes: unlike another server's login, which shows the person
    // the authorization server's consent page, this one connects silently. A cross-site page linking
    // here gets the server's usual scopes (and the scope parameter is not carried through the IdP sign-in).
    const scopeParam = c.req.query('scope');
    const stepUpParam = scopeParam !== undefined && fromTheApp(c, config.publicOrigin) ? scopeParam : undefined;
    if (scopeParam !== undefined && stepUpParam === undefined) {
      log.warn({ event: 'security', kind: 'step_up_scope_ignored', reason: 'login not started by the app (Sec-Fetch-Site / Referer)', reqId });
    }
    if (stepUpParam !== undefined && (stepUpParam.length > 1000 || !SCOPE_PARAM.test(stepUpParam))) return backToApp(c, 'authorization_failed', returnTo);
    const stepUp = stepUpParam === undefined ? undefined : stepUpParam.split(' ');
    const session = await adoptForwardedSignIn(c, await sessions.current(c));
    if (session) {
      await connector.dropOthers(session.id);
      try {
        const outcome = await connector.connect(session.id, id, stepUp);
        if (outcome.kind === 'ok') {
          log.info({ event: 'login_succeeded', server: id, via: 'enterprise', scopes: outcome.record.scopes, reqId });
          metrics.loginCompleted(id);
          return c.redirect(returnTo, 302);
        }
      } catch (error) {
        log.warn({ event: 'login_failed', server: id, via: 'enterprise', err: describe(error), reqId });
        return backToApp(c, loginErrorFor(error), returnTo);
      }
    }
    // No usable sign-in at the IdP: that first, then back to this very login.
    try {
      const start = await idp.startSignIn();
      await cookies.writeLoginTransaction(c, {
        txn: randomBytes(16).toString('base64url'),
        state: start.state,
        codeVerifier: start.codeVerifier,
        nonce: start.nonce,
        server: IDP_CONNECTION,
        returnTo: `${bffRoutes.login(id, returnTo)}${stepUpParam !== undefined ? `&scope=${encodeURIComponent(stepUpParam)}` : ''}`,
        issuer: idp.config.issuer,
        clientId: idp.config.clientId,
        resource: null,
        scope: idp.config.scopes.join(' '),
        createdAt: Date.now(),
      });
      log.info({ event: 'login_started', server: id, via: 'enterprise_idp', reqId });
      metrics.loginStarted(id);
      return c.redirect(start.url, 302);
    } catch (error) {
      log.error({ event: 'login_failed', server: id, via: 'enterprise_idp', err: describe(error), reqId });
      return backToApp(c, loginErrorFor(error), returnTo);
    }
  });

  app.get(IDP_CALLBACK_PATH.replace('/bff', ''), async (c) => {
    const reqId = c.get('requestId');
    const retryAfter = await limits.consume('callback', clientAddress(c), reqId);
    if (retryAfter !== undefined) {
      c.header('Retry-After', String(retryAfter));
      metrics.loginFailed('rate_limited');
      return c.html(loginFailedPage('rate_limited', reqId), 429);
    }
    const refuse = (code: LoginErrorCode, reason: string) => {
      log.warn({ event: 'security', kind: 'callback_refused', reason, via: 'enterprise_idp', reqId });
      metrics.loginFailed(code);
      return c.html(loginFailedPage(code, reqId), 400);
    };
    const params = new URL(c.req.url).searchParams;
    const taken = await cookies.takeLoginTransaction(c, params.getAll('state'));
    if ('refused' in taken) return refuse(taken.refused, taken.reason);
    const { transaction } = taken;
    // Only a sign-in at the IdP is answered here; a server's login at its own redirect URI.
    if (transaction.server !== IDP_CONNECTION || transaction.nonce === undefined || transaction.issuer !== idp.config.issuer) {
      return refuse('authorization_failed', 'not a sign-in at the enterprise identity provider');
    }
    if (!(await store.consumeOnce(`login:${transaction.txn}`, LOGIN_TTL_SECONDS * 1000))) return refuse('login_expired', 'login transaction replayed');
    let record: Awaited<ReturnType<EnterpriseIdp['finishSignIn']>>;
    try {
      record = await idp.finishSignIn(params, { state: transaction.state, nonce: transaction.nonce, codeVerifier: transaction.codeVerifier });
    } catch (error) {
      log.warn({ event: 'login_failed', via: 'enterprise_idp', err: describe(error), reqId });
      const code: LoginErrorCode =
        error instanceof EnterpriseFailure && error.oauthError === 'access_denied'
          ? 'access_denied'
          : error instanceof EnterpriseFailure && error.transient
            ? 'authorization_server_unavailable'
            : 'token_exchange_failed';
      // Back to the app itself, not to the login that would send the person straight back to the IdP.
      const back = new URL(transaction.returnTo, config.publicOrigin).searchParams.get('returnTo') ?? '/';
      return backToApp(c, code, safeReturnTo(back, config.publicOrigin));
    }
    // As every login: the sign-in waits in a pending session for the same-site bounce to merge it.
    const pending = await sessions.createDetached();
    await store.putConnection(pending.id, IDP_CONNECTION, record);
    await cookies.writeLoginCompletion(c, { completion: true, pendingSessionId: pending.id, returnTo: transaction.returnTo, server: IDP_CONNECTION });
    log.info({ event: 'idp_sign_in', via: 'oidc', reqId });
    return c.html(loginBouncePage(COMPLETE_PATH), 200);
  });

  return app;
}

/**
 * Whether a top-level GET was started by the app's own pages: Sec-Fetch-Site same-origin (or none: typed
 * or bookmarked), or, from a browser that sends no Sec-Fetch-Site, a Referer of the app's origin.
 */
function fromTheApp(c: Context, publicOrigin: string): boolean {
  const site = requestHeader(c, 'sec-fetch-site');
  if (site !== undefined) return site === 'same-origin' || site === 'none';
  const referer = requestHeader(c, 'referer');
  return referer !== undefined && URL.canParse(referer) && new URL(referer).origin === publicOrigin;
}
