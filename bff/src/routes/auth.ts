import { randomBytes } from 'node:crypto';
import {
  bffRoutes,
  type ConnectionInfo,
  LOGIN_ERROR_PARAM,
  LOGIN_REFERENCE_PARAM,
  type LoginErrorCode,
  type LogoutResult,
  type SessionInfo,
  type SignOutOffer,
} from '@mcp-bff/shared';
import { type Context, Hono } from 'hono';
import type { Config } from '../config.js';
import type { ClientAddress } from '../http/client-address.js';
import { requireSameOriginApi } from '../http/csrf.js';
import { ApiFailure } from '../http/errors.js';
import { loginBouncePage, loginFailedPage } from '../http/pages.js';
import type { RateLimits } from '../http/rate-limit.js';
import { safeReturnTo } from '../http/return-to.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { CallbackFailure, MAX_STEP_UP_ATTEMPTS, normaliseScopes, type OAuthClient, splitScopes } from '../oauth/client.js';
import { boundedScope, CHALLENGE_SCOPE_PARAM, type ChallengeHintsCache } from '../oauth/hints.js';
import { CLIENT_METADATA_PATH, type ClientMetadataOptions, clientMetadataDocument } from '../oauth/registration.js';
import { OAuthFailure } from '../oauth/errors.js';
import { compactTrace, type LoginReport, LoginTrace } from '../oauth/login-trace.js';
import { describe } from '../oauth/tokens.js';
import { type CookieJar, LOGIN_TTL_SECONDS } from '../session/cookies.js';
import type { Sessions } from '../session/session.js';
import { sessionEndsAt, type TokenRecord, type TokenStore } from '../store/types.js';
import { type Revoker, revokeConnections } from '../session/end-sessions.js';
import type { SignOut } from './end-session.js';
import type { AppEnv } from './env.js';

export interface AuthRouteDeps {
  config: Config;
  store: TokenStore;
  log: Logger;
  cookies: CookieJar;
  sessions: Sessions;
  clients: ReadonlyMap<string, OAuthClient>;
  hints: ChallengeHintsCache;
  clientMetadata: ClientMetadataOptions;
  /** Login and callback make the BFF talk to the AS as itself: each is limited per client address. */
  limits: RateLimits;
  clientAddress: ClientAddress;
  /** Offers, after a logout, to sign out at the authorization servers too (end-session.ts). */
  signOut: SignOut;
  /** Logins started, completed and failed are counted here. */
  metrics: Metrics;
  /** What a logout revokes connections with, when more than `clients` (the enterprise IdP's sign-in). */
  revokers?: ReadonlyMap<string, Revoker>;
}

/** A step-up's scope parameter: scope tokens only, bounded. */
const SCOPE_PARAM = /^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/;

function withScope(scope: string | undefined): { scope?: string } {
  return scope ? { scope } : {};
}

export const REVOKE_TIMEOUT_MS = 5_000;
const COMPLETE_PATH = '/bff/callback/complete';

/** The code a failed login start shows the user; the details stay in the log. */
function loginErrorFor(error: unknown): LoginErrorCode {
  if (!(error instanceof OAuthFailure)) return 'authorization_failed';
  switch (error.code) {
    case 'as_unavailable':
      return 'authorization_server_unavailable';
    case 'resource_mismatch':
      return 'resource_mismatch';
    case 'pkce_unsupported':
      return 'pkce_unsupported';
    case 'registration_failed':
      return 'registration_failed';
    default:
      return 'authorization_failed';
  }
}

/** /bff/login, /bff/callback/:server (and its bounce), /bff/session, /bff/logout. */
export function authRoutes(deps: AuthRouteDeps): Hono<AppEnv> {
  const { config, store, log, cookies, sessions, clients, hints, clientMetadata, limits, clientAddress, signOut, metrics } = deps;
  const app = new Hono<AppEnv>();
  const sameOrigin = requireSameOriginApi({ origin: config.publicOrigin, log });

  /**
   * A login failed for a reason the person should be told (not a suspect callback): its steps are kept
   * for the connection details view of this browser, for a while. Best effort: a store that cannot
   * take the note changes nothing about the login's outcome.
   */
  const keepFailedLogin = async (c: Context<AppEnv>, txn: string, server: string, report: LoginReport) => {
    try {
      await cookies.writeFailedLogin(c, { failedLogin: true, txn, server, report: compactTrace(report) });
    } catch (error) {
      log.warn({ event: 'login_report_not_kept', server, err: describe(error), reqId: c.get('requestId') });
    }
  };

  // A failed login: back to the app with the code to explain and this request's id as the reference
  // to report (the log lines about the failure carry it), or a page saying the same.
  const backToApp = (c: Context<AppEnv>, code: LoginErrorCode, returnTo = '/') => {
    metrics.loginFailed(code);
    const url = new URL(returnTo, config.publicOrigin);
    url.searchParams.set(LOGIN_ERROR_PARAM, code);
    url.searchParams.set(LOGIN_REFERENCE_PARAM, c.get('requestId'));
    return `${url.pathname}${url.search}${url.hash}`;
  };
  const failedPage = (c: Context<AppEnv>, code: LoginErrorCode, status: 400 | 429) => {
    metrics.loginFailed(code);
    return c.html(loginFailedPage(code, c.get('requestId')), status);
  };

  // The client ID metadata document: this URL is the BFF's client_id at ASes that support them.
  app.get(CLIENT_METADATA_PATH.replace('/bff', ''), (c) => {
    c.header('Cache-Control', 'public, max-age=3600');
    return c.json(clientMetadataDocument(clientMetadata));
  });

  // A top-level navigation: the user is sent to the authorization server.
  app.get('/login', async (c) => {
    const returnTo = safeReturnTo(c.req.query('returnTo'), config.publicOrigin);
    // Before discovery, registration or a cookie: back to the app, which says to wait.
    if ((await limits.consume('login', clientAddress(c), c.get('requestId'))) !== undefined) {
      return c.redirect(backToApp(c, 'rate_limited', returnTo), 302);
    }
    const client = clients.get(c.req.query('server') ?? '');
    // A service server (client credentials) has no sign-in: nobody's login may ever stand in for it.
    if (!client || client.server.service) return c.redirect(backToApp(c, 'authorization_failed'), 302);
    const server = client.server.id;
    const stepUpParam = c.req.query('scope');
    let stepUp: { required: string[]; previous: TokenRecord | undefined } | undefined;
    if (stepUpParam !== undefined) {
      if (stepUpParam.length > 1000 || !SCOPE_PARAM.test(stepUpParam)) return c.redirect(backToApp(c, 'authorization_failed', returnTo), 302);
      const session = await sessions.current(c);
      const record = session ? await store.getConnection(session.id, server) : undefined;
      const required = normaliseScopes(splitScopes(stepUpParam) ?? []);
      // Never a loop: after three authorizations for the same need, the proxy stops offering this URL.
      if (record?.stepUp && record.stepUp.scope === required.join(' ') && record.stepUp.attempts >= MAX_STEP_UP_ATTEMPTS) {
        return c.redirect(backToApp(c, 'insufficient_scope', returnTo), 302);
      }
      stepUp = { required, previous: record };
    }
    const txn = randomBytes(16).toString('base64url');
    const trace = new LoginTrace();
    try {
      const start = await client.startAuthorization({
        returnTo,
        txn,
        // The scope of the challenge this browser met (see loginUrlAfter); anything else is ignored.
        hints: { ...hints.get(server), ...withScope(boundedScope(c.req.query(CHALLENGE_SCOPE_PARAM))) },
        ...(stepUp ? { stepUp } : {}),
        trace,
      });
      // The steps so far go with the transaction, for the callback to complete: nothing is stored for a
      // login that has not come back with a code.
      await cookies.writeLoginTransaction(c, { ...start.transaction, trace: compactTrace(trace.toJSON()) });
      log.info({ event: 'login_started', server, stepUp: Boolean(stepUp), reqId: c.get('requestId') });
      metrics.loginStarted(server);
      return c.redirect(start.authorizationUrl, 302);
    } catch (error) {
      log.error({ event: 'login_failed', server, err: describe(error), reqId: c.get('requestId') });
      const code = loginErrorFor(error);
      await keepFailedLogin(c, txn, server, trace.report('failed', code));
      return c.redirect(backToApp(c, code, returnTo), 302);
    }
  });

  // Same-site now: the session cookie comes along, so the new connection joins the existing session.
  app.get(COMPLETE_PATH.replace('/bff', ''), async (c) => {
    const completion = await cookies.readLoginCompletion(c);
    cookies.clearLoginTransaction(c);
    if (!completion) {
      log.warn({ event: 'security', kind: 'completion_refused', reqId: c.get('requestId') });
      return failedPage(c, 'login_expired', 400);
    }
    const pending = await store.getSession(completion.pendingSessionId);
    let record = pending ? await store.getConnection(pending.id, completion.server) : undefined;
    if (!pending || !record) return failedPage(c, 'login_expired', 400);
    await store.deleteSession(pending.id);
    const previous = await sessions.current(c);
    const before = previous ? await store.getConnection(previous.id, completion.server) : undefined;
    if (record.stepUp && record.stepUp.attempts === 0) {
      const need = record.stepUp.scope;
      const attempts = before?.stepUp?.scope === need ? before.stepUp.attempts + 1 : 1;
      record = { ...record, stepUp: { scope: need, attempts } };
    }
    const session = await sessions.rotate(c, previous);
    await store.putConnection(session.id, completion.server, record);
    return c.redirect(completion.returnTo, 302);
  });

  /** A 429 page once this address has made too many callbacks, before anything else is looked at. */
  const callbackLimited = async (c: Context<AppEnv>): Promise<Response | undefined> => {
    const retryAfter = await limits.consume('callback', clientAddress(c), c.get('requestId'));
    if (retryAfter === undefined) return undefined;
    c.header('Retry-After', String(retryAfter));
    return failedPage(c, 'rate_limited', 429);
  };

  // An authorization response, at the redirect URI of the server whose login it answers.
  app.get('/callback/:server', async (c) => {
    const reqId = c.get('requestId');
    // Before the login cookie is read (and so used up): a person who waits can reload this page.
    const limited = await callbackLimited(c);
    if (limited) return limited;
    const refuse = (code: LoginErrorCode, reason: string) => {
      log.warn({ event: 'security', kind: 'callback_refused', reason, reqId });
      return failedPage(c, code, 400);
    };
    const client = clients.get(c.req.param('server'));
    if (!client) return refuse('login_expired', 'not the redirect URI of a configured server');
    const params = new URL(c.req.url).searchParams;
    const taken = await cookies.takeLoginTransaction(c, params.getAll('state'));
    if ('refused' in taken) return refuse(taken.refused, taken.reason);
    const { transaction } = taken;
    // RFC 9700 §4.4.2: this browser's login, answered at another server's redirect URI. Only an AS
    // that was sent this login's request (state, code challenge) can have issued it, and that AS is
    // not the one this redirect URI is registered with: a mix-up. The login ends before any exchange.
    if (transaction.server !== client.server.id) {
      return refuse('authorization_failed', "the response arrived at another server's redirect URI");
    }

    let record: Awaited<ReturnType<OAuthClient['finishAuthorization']>>;
    let trace = new LoginTrace();
    try {
      // Checked before the code is used, so that a replayed callback is refused even when its state matches.
      if (!(await store.consumeOnce(`login:${transaction.txn}`, LOGIN_TTL_SECONDS * 1000))) {
        return refuse('login_expired', 'login transaction replayed');
      }
      trace = LoginTrace.from(transaction.trace);
      record = await client.finishAuthorization(transaction, params, trace);
    } catch (error) {
      if (error instanceof CallbackFailure) {
        if (error.suspicious) return refuse(error.code, error.message);
        log.warn({ event: 'login_failed', loginError: error.code, err: describe(error.cause), reqId });
        await keepFailedLogin(c, transaction.txn, transaction.server, trace.report('failed', error.code));
        return c.redirect(backToApp(c, error.code, transaction.returnTo), 302);
      }
      log.error({ event: 'login_failed', err: describe(error), reqId });
      await keepFailedLogin(c, transaction.txn, transaction.server, trace.report('failed', 'token_exchange_failed'));
      return c.redirect(backToApp(c, 'token_exchange_failed', transaction.returnTo), 302);
    }
    // Every authorization counts towards a need, the first one included: a server that keeps asking
    // for the scope it already named in its 401 gets three authorizations in all, not four.
    const need = transaction.stepUp ?? normaliseScopes((splitScopes(transaction.scope) ?? []).filter((s) => s !== 'offline_access')).join(' ');
    record = {
      ...record,
      stepUp: { scope: need, attempts: transaction.stepUp ? 0 : 1 },
      login: { at: Date.now(), steps: trace.steps, discovery: trace.discovery, client: trace.client },
    };
    // The tokens wait in a pending session of their own until the bounce below can merge them into
    // the browser's session (whose Strict cookie this cross-site-initiated request does not carry).
    const pending = await sessions.createDetached();
    await store.putConnection(pending.id, transaction.server, record);
    await cookies.writeLoginCompletion(c, {
      completion: true,
      pendingSessionId: pending.id,
      returnTo: transaction.returnTo,
      server: transaction.server,
    });
    log.info({ event: 'login_succeeded', server: transaction.server, scopes: record.scopes, reqId });
    metrics.loginCompleted(transaction.server);
    return c.html(loginBouncePage(COMPLETE_PATH), 200);
  });

  // Redirect URIs without a server id (before each server had its own) or of no configured server: a
  // bookmark, or a login started before an upgrade. Refused like any stray callback, never a 404 or 500.
  const strayCallback = async (c: Context<AppEnv>) => {
    // Counted like the others: each refusal is a log line.
    const limited = await callbackLimited(c);
    if (limited) return limited;
    log.warn({ event: 'security', kind: 'callback_refused', reason: 'not the redirect URI of a configured server', reqId: c.get('requestId') });
    return failedPage(c, 'login_expired', 400);
  };
  app.get('/callback', strayCallback);
  app.get('/callback/*', strayCallback);

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
          protocol: server.protocol,
          // Usable without signing in to it: the deployment's identity (its token is not the session's).
          ...(server.service ? { identity: 'service' as const, status: 'connected' as const, scopes: [], expiresAt: null } : {}),
          ...(server.authorization === 'enterprise' ? { managedBy: 'organisation' as const } : {}),
        };
      }),
      sessionExpiresAt: session ? sessionEndsAt(session) : null,
    };
    return c.json(body);
  });

  // Revocation as every ending of a session does it (back-channel logout, the admin command too).
  const revoking = { store, clients: deps.revokers ?? clients, log, revokeTimeoutMs: REVOKE_TIMEOUT_MS };
  app.post('/logout', sameOrigin, async (c) => {
    const session = await sessions.current(c);
    // ?server=ID disconnects that one server and keeps the session and its other connections.
    const only = c.req.query('server');
    if (only !== undefined) {
      if (!clients.has(only)) throw new ApiFailure('not_found', 'No MCP server with that id.');
      const record = session ? await store.getConnection(session.id, only) : undefined;
      if (session && record) {
        await store.deleteConnection(session.id, only);
        await revokeConnections(revoking, new Map([[only, record]]));
        log.info({ event: 'disconnect', server: only, reqId: c.get('requestId') });
      }
      return c.json({ ok: true });
    }
    let offers: SignOutOffer[] = [];
    if (session) {
      const connections = await store.listConnections(session.id);
      // The session ends first, so nothing can use the tokens while they are being revoked.
      await store.deleteSession(session.id);
      const revoked = revokeConnections(revoking, connections);
      // The logout itself is done: an offer that cannot be made is only logged.
      const offered = signOut.offer(c, connections).catch((error: unknown) => {
        log.warn({ event: 'end_session_unavailable', err: describe(error), reqId: c.get('requestId') });
        return [];
      });
      [, offers] = await Promise.all([revoked, offered]);
      log.info({ event: 'logout', signOutOffers: offers.length, reqId: c.get('requestId') });
    }
    cookies.clearSessionCookie(c);
    const body: LogoutResult = { ok: true, ...(offers.length > 0 ? { signOut: offers } : {}) };
    return c.json(body);
  });

  return app;
}
