import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { getRequestListener } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Context, Hono } from 'hono';
import { routePath } from 'hono/route';
import type { Config } from './config.js';
import { clientAddressResolver } from './http/client-address.js';
import type { Drain } from './http/drain.js';
import { EnterpriseConnector } from './enterprise/connector.js';
import { forwardedSignInGuard } from './enterprise/forwarded.js';
import { EnterpriseIdp, IDP_CONNECTION } from './enterprise/idp.js';
import { enterpriseRoutes, IDP_CALLBACK_PATH } from './enterprise/routes.js';
import { EnterpriseTokenManager } from './enterprise/tokens.js';
import { ApiFailure, rateLimited, serviceUnavailable } from './http/errors.js';
import { memoryRateLimits, type RateLimits } from './http/rate-limit.js';
import { securityHeaderList, securityHeadersSetter } from './http/security-headers.js';
import { type Logger, requestLogWriter } from './log.js';
import { bearerMatches, countStoreErrors, type Metrics, metricsFor } from './metrics.js';
import { sameOriginCheck } from './http/csrf.js';
import { McpProxy } from './mcp/proxy.js';
import { createOAuthClients } from './oauth/clients.js';
import { ChallengeHintsCache } from './oauth/hints.js';
import type { ClientRegistry } from './oauth/registration.js';
import { ServiceTokens } from './oauth/service-credentials.js';
import { StoreClientRegistry } from './store/client-registry.js';
import { refreshDeadlineMs, refreshTiming, TokenManager } from './oauth/tokens.js';
import { authRoutes, REVOKE_TIMEOUT_MS } from './routes/auth.js';
import { backchannelLogoutRoutes } from './routes/backchannel-logout.js';
import { connectionRoutes } from './routes/connection.js';
import { SignOut } from './routes/end-session.js';
import type { AppEnv } from './routes/env.js';
import { spaRoutes } from './routes/static.js';
import { CookieJar } from './session/cookies.js';
import type { Revoker } from './session/end-sessions.js';
import { Sessions } from './session/session.js';
import { StoreUnavailable } from './store/errors.js';
import { ServerBoundStore } from './store/server-bound.js';
import { CachedStore, type SessionCacheOptions } from './store/session-cache.js';
import type { SessionWithConnection, TokenStore } from './store/types.js';

export interface AppDeps {
  config: Config;
  store: TokenStore;
  log: Logger;
  /** Clients registered at authorization servers (RFC 7591), per issuer. */
  registry?: ClientRegistry;
  /** Used for requests to authorization servers and metadata (default: the SSRF-guarded fetch). */
  outboundFetch?: typeof fetch;
  /** Per-address request limits (default: counted in this process; main.ts shares them on Redis). */
  limits?: RateLimits;
  /** The process's shutdown (main.ts): streams and refresh locks it closes and releases. */
  drain?: Drain;
  /** Counters for GET /metrics (default: from the configuration, none when metrics are off). */
  metrics?: Metrics;
  /** True once the process is shutting down: /readyz answers 503 so that load balancers stop sending. */
  draining?: () => boolean;
  /**
   * The per-process cache of sessions and their token records that proxied calls read (see
   * store/session-cache.ts); `false` turns it off. Only for a store that reports its changes.
   */
  sessionCache?: SessionCacheOptions | false;
}

/** The proxied MCP route. */
const MCP_ROUTE = '/mcp/:server';
/** A request target that is exactly /mcp/<server id> (ids as config.ts allows them), with or without a query. */
const DIRECT_MCP_PATH = /^\/mcp\/([a-z0-9][a-z0-9_-]{0,31})(?:\?|$)/;
/** HEAD (which Hono answers as a GET without a body) and the other methods go the long way. */
const DIRECT_METHODS = new Set(['GET', 'POST', 'DELETE']);
/** The direct /mcp route of each app createApp made: see `nodeRequestListener`. */
const directRoutes = new WeakMap<Hono<AppEnv>, (c: Context<AppEnv>, id: string) => Promise<Response>>();

/**
 * A Host header @hono/node-server takes as it is (its own test): any other, or none, goes through the
 * adapter, which checks it (400 for a missing or malformed one).
 */
const PLAIN_HOST = /^[a-z0-9._-]+(?::(?:[1-5]\d{3,4}|[6-9]\d{3}))?$/;

/** The server id of a request Hono would route to /mcp/:server with that id, or undefined. */
export function directMcpServer(incoming: Pick<IncomingMessage, 'method' | 'url' | 'headers'>): string | undefined {
  if (incoming.url === undefined || !DIRECT_METHODS.has(incoming.method ?? '')) return undefined;
  const host = incoming.headers.host;
  if (host === undefined || !PLAIN_HOST.test(host)) return undefined;
  return DIRECT_MCP_PATH.exec(incoming.url)?.[1];
}

/**
 * The Node request listener for an app made by createApp: /mcp/<server id> goes to the direct route
 * without @hono/node-server's adapter (its web Request view, its promise chain, its reading of the
 * answer's headers), everything else through the adapter. The proxy writes its answers to the Node
 * response itself; an error answer (JSON, made by the app's error handler) is written here.
 */
export function nodeRequestListener(app: Hono<AppEnv>): (incoming: IncomingMessage, outgoing: ServerResponse) => void {
  const routed = getRequestListener(app.fetch);
  const direct = directRoutes.get(app);
  if (!direct) return routed;
  return (incoming, outgoing) => {
    const id = directMcpServer(incoming);
    if (id === undefined) {
      void routed(incoming, outgoing);
      return;
    }
    // The route reads what Node parsed (http/node.ts); the web Request view is built only if asked for.
    const c = new Context<AppEnv>(lazyWebRequest(incoming), { env: { incoming, outgoing }, path: `/mcp/${id}` });
    direct(c, id).then(
      (res) => (res === RESPONSE_ALREADY_SENT ? undefined : writeAnswer(res, incoming, outgoing)),
      (error: unknown) => {
        // The route answers its own errors; this is a bug or a broken connection: nothing sane to send.
        outgoing.destroy(error instanceof Error ? error : undefined);
      },
    );
  };
}

/** Writes a (small, whole) answer the app made, such as an error's JSON, to the Node response. */
async function writeAnswer(res: Response, incoming: IncomingMessage, outgoing: ServerResponse): Promise<void> {
  const body = Buffer.from(await res.arrayBuffer());
  if (outgoing.destroyed) return;
  const headers: Record<string, string | string[]> = {};
  res.headers.forEach((value, name) => {
    if (name !== 'set-cookie') headers[name] = value;
  });
  const cookies = res.headers.getSetCookie();
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  headers['content-length'] = String(body.byteLength);
  outgoing.writeHead(res.status, headers);
  outgoing.end(body);
  // A body the route did not read (it refused the request first) is read and dropped once the answer
  // is out, for a while: closing with unread bytes would reset the connection, and the client could
  // lose the answer. What could be an endless upload is cut off after DRAIN_MS or DRAIN_BYTES.
  if (!incoming.readableEnded) outgoing.once('finish', () => drain(incoming));
}

/** How long, and how much of, a refused request's unread body is read before its connection is closed. */
const DRAIN_MS = 1_000;
const DRAIN_BYTES = 16 * 1024 * 1024;

function drain(incoming: IncomingMessage): void {
  if (incoming.readableEnded || incoming.destroyed) return;
  let read = 0;
  const stop = () => {
    clearTimeout(timer);
    incoming.off('data', onData);
    incoming.off('end', stop);
    incoming.off('error', stop);
  };
  const cutOff = () => {
    stop();
    incoming.socket?.destroySoon();
  };
  const onData = (chunk: Buffer) => {
    read += chunk.byteLength;
    if (read > DRAIN_BYTES) cutOff();
  };
  const timer = setTimeout(cutOff, DRAIN_MS);
  timer.unref();
  incoming.on('data', onData);
  incoming.on('end', stop);
  incoming.on('error', stop);
  incoming.resume();
}

/**
 * A Request standing for `incoming` whose web view (headers, body, signal) is built only when some code
 * asks for it; the direct route reads Node's request instead (http/node.ts), so normally never.
 */
function lazyWebRequest(incoming: IncomingMessage): Request {
  // Only ever read through the handler: the target itself is never seen as a Request.
  return new Proxy<LazyRequest>({ incoming, built: undefined }, LAZY_REQUEST) as unknown as Request;
}

/** What a lazyWebRequest stands on: Node's request, and its web view once something asked for it. */
interface LazyRequest {
  incoming: IncomingMessage;
  built: Request | undefined;
}

/** One handler for every lazyWebRequest (nothing made per request but the proxy and its target). */
const LAZY_REQUEST: ProxyHandler<LazyRequest> = {
  get(target, name) {
    const { incoming } = target;
    if (name === 'method') return incoming.method ?? 'GET';
    if (name === 'url') return target.built?.url ?? `http://${incoming.headers.host ?? 'localhost'}${incoming.url ?? '/'}`;
    target.built ??= webRequest(incoming);
    const value = Reflect.get(target.built, name) as unknown;
    return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target.built) : value;
  },
};

/** `incoming` as a web Request, its body (if any) streamed from it. */
function webRequest(incoming: IncomingMessage): Request {
  const headers = new Headers();
  for (let i = 0; i + 1 < incoming.rawHeaders.length; i += 2) headers.append(incoming.rawHeaders[i] as string, incoming.rawHeaders[i + 1] as string);
  const hasBody = incoming.method !== 'GET' && incoming.method !== 'HEAD';
  return new Request(`http://${incoming.headers.host ?? 'localhost'}${incoming.url ?? '/'}`, {
    method: incoming.method ?? 'GET',
    headers,
    ...(hasBody ? { body: Readable.toWeb(incoming) as ReadableStream, duplex: 'half' } : {}),
  } as RequestInit);
}

/** How long /readyz waits for the store's answer. */
export const READY_TIMEOUT_MS = 1_000;

/** Routes and middleware only: everything stateful comes in through `deps`. */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  const { config, log } = deps;
  const metrics = deps.metrics ?? metricsFor(config);
  const limits = deps.limits ?? memoryRateLimits(config, log);
  const clientAddress = clientAddressResolver(config.trustedProxies, log);
  // Token records are read only for the server they were issued for: see ServerBoundStore.
  const bound = new ServerBoundStore(countStoreErrors(deps.store, metrics), config.servers, log);
  // What every proxied call reads, kept in this process: see CachedStore for how it stays current.
  const changes = deps.store.changes;
  const store = changes && deps.sessionCache !== false ? new CachedStore(bound, changes, deps.sessionCache) : bound;
  // What the BFF is towards authorization servers, built as the admin command builds it too.
  // Registered clients and the issuers configured credentials are pinned to, shared by logins and service tokens.
  const registry = deps.registry ?? new StoreClientRegistry(store);
  const { policy, discovery, clientMetadata, clients, resolver } = createOAuthClients(config, store, {
    registry,
    outboundFetch: deps.outboundFetch,
  });
  const hints = new ChallengeHintsCache((id) => {
    const server = config.servers.find((s) => s.id === id);
    if (server) discovery.forget(server.url);
  });
  const cookies = new CookieJar({
    secure: config.secureCookies,
    secrets: config.sessionSecrets,
    sessionTtlSeconds: config.sessionTtlSeconds,
  });
  const sessions = new Sessions(
    cookies,
    store,
    { ttlSeconds: config.sessionTtlSeconds, idleTimeoutSeconds: config.sessionIdleTimeoutSeconds },
    // A refresh in progress ends by its deadline, then writes (retried for a few seconds if the store falters).
    refreshDeadlineMs(config.authServerTimeoutMs) + 10_000,
  );
  const tokenOptions = { ...refreshTiming(config.authServerTimeoutMs), locks: deps.drain };
  const tokens = config.enterpriseIdp
    ? new EnterpriseTokenManager(store, clients, log, tokenOptions, metrics)
    : new TokenManager(store, clients, log, tokenOptions, metrics);
  // Enterprise-managed servers (enterprise/): their tokens come from the IdP sign-in, not a consent screen.
  const enterprise = config.enterpriseIdp
    ? (() => {
        const idp = new EnterpriseIdp(config.enterpriseIdp, policy, `${config.publicUrl}${IDP_CALLBACK_PATH}`);
        if (config.enterpriseIdp.idTokenVerify === 'claims') {
          // An opt-out of a check: say so at every start, so that it is not left on by accident.
          log.warn({ event: 'security', kind: 'forwarded_id_token_signature_unchecked', detail: 'ENTERPRISE_IDP_ID_TOKEN_VERIFY=claims: forwarded ID tokens are checked by their claims only; the authenticating proxy must verify them' });
        }
        const servers = new Map(config.servers.map((s) => [s.id, s]));
        const connector = new EnterpriseConnector({ idp, store, discovery, resolver, policy, servers, hints: (id) => hints.get(id), log });
        if (tokens instanceof EnterpriseTokenManager) tokens.useConnector(connector);
        return { idp, connector };
      })()
    : undefined;
  // Servers used with the deployment's own identity (client credentials): tokens shared by every session.
  const service = new ServiceTokens(config.servers, {
    store,
    discovery,
    policy,
    log,
    deadlineMs: refreshDeadlineMs(config.authServerTimeoutMs),
    locks: deps.drain,
    pins: registry,
  });
  const proxy = new McpProxy({
    store,
    tokens,
    service,
    log,
    maxBodyBytes: config.maxBodyBytes,
    upstreamTimeoutMs: config.upstreamTimeoutMs,
    hints,
    startSession: (c) => sessions.rotate(c, undefined),
    responseHeaders: securityHeaderList({ hsts: config.secureCookies }),
    clientAddress,
    maxStreamsPerSession: config.maxStreamsPerSession,
    maxAnonymousStreamsPerAddress: config.maxAnonymousStreamsPerAddress,
    drain: deps.drain,
    metrics,
  });

  const app = new Hono<AppEnv>();
  // The request line's fields are fixed and never secret (the path is logged without its query), so it
  // is written without pino's serializer and redaction pass: a measurable share of a proxied call's CPU.
  const requestLog = requestLogWriter(log);
  const setSecurityHeaders = securityHeadersSetter({ hsts: config.secureCookies });

  // Request id, security headers, the request's log line and metrics: one middleware, not one each.
  /** Names the request; returns when it started. */
  const begin = (c: Context<AppEnv>): number => {
    c.set('requestId', randomUUID());
    return performance.now();
  };
  /** Once the answer is there: its headers, the request's log line, its metrics (by route pattern). */
  const end = (c: Context<AppEnv>, started: number, route: string): void => {
    setSecurityHeaders(c);
    const requestId = c.get('requestId');
    // The proxy writes its streamed answers itself, X-Request-Id included.
    const sentStatus = c.get('sentStatus');
    if (sentStatus === undefined) c.header('X-Request-Id', requestId);
    const status = sentStatus ?? c.res.status;
    const elapsed = performance.now() - started;
    // The path only: the callback's query string carries the authorization code and state.
    requestLog({ reqId: requestId, method: c.req.method, path: c.req.path, status, ms: Math.round(elapsed) });
    if (metrics.enabled) metrics.request(route, c.req.method, status, elapsed / 1000);
  };
  app.use('*', async function requestContext(c, next) {
    const started = begin(c);
    await next();
    // By the pattern of the route that answered (never the path: bounded label values).
    end(c, started, routePath(c) || 'none');
  });
  app.use('/bff/*', async function noStore(c, next) {
    await next();
    c.header('Cache-Control', 'no-store');
  });

  // Liveness: the process answers. Readiness: it can serve (its store answers, and it is not stopping).
  app.get('/healthz', (c) => c.json({ ok: true }));
  app.get('/readyz', async (c) => {
    c.header('Cache-Control', 'no-store');
    const notReady = (reason: string) => c.json({ ready: false, reason, requestId: c.get('requestId') }, 503);
    if (deps.draining?.()) return notReady('shutting down');
    const problem = await storeProblem(store);
    if (problem) {
      log.warn({ event: 'not_ready', reason: problem, reqId: c.get('requestId') });
      return notReady(problem);
    }
    return c.json({ ready: true });
  });
  // Only with METRICS_TOKEN, and only to its bearer; METRICS_PORT serves them on loopback instead (main.ts).
  const metricsToken = config.metrics.token;
  if (metricsToken !== undefined) {
    app.get('/metrics', async (c) => {
      c.header('Cache-Control', 'no-store');
      if (!bearerMatches(c.req.header('authorization'), metricsToken)) {
        log.warn({ event: 'security', kind: 'metrics_refused', reqId: c.get('requestId') });
        c.header('WWW-Authenticate', 'Bearer realm="metrics"');
        return c.json({ error: 'unauthorized', message: 'A bearer token is required.', requestId: c.get('requestId') }, 401);
      }
      const { contentType, body } = await metrics.render();
      return c.body(body, 200, { 'Content-Type': contentType });
    });
  } else {
    // Not the SPA's page either: a scraper pointed here by mistake gets a plain 404.
    app.get('/metrics', () => {
      throw new ApiFailure('not_found', 'No such endpoint.');
    });
  }
  // A logout (or a session ended behind the proxy) also revokes the IdP sign-in at the IdP.
  const revokers: ReadonlyMap<string, Revoker> = enterprise ? new Map<string, Revoker>([...clients, [IDP_CONNECTION, enterprise.idp]]) : clients;
  // Behind an authenticating proxy: every request checks that the proxy's signed-in person is still the session's.
  const forwardedGuard =
    enterprise &&
    forwardedSignInGuard({
      idp: enterprise.idp,
      store,
      sessions,
      cookies,
      log,
      trustedProxies: config.trustedProxies,
      revoking: { store, clients: revokers, log, revokeTimeoutMs: REVOKE_TIMEOUT_MS },
    });
  if (forwardedGuard) {
    app.use('/bff/*', forwardedGuard);
    app.use('/mcp/*', forwardedGuard);
  }
  const signOut = new SignOut({ publicUrl: config.publicUrl, store, log, cookies, sessions, clients, timeoutMs: REVOKE_TIMEOUT_MS });
  if (enterprise) {
    app.route('/bff', enterpriseRoutes({ config, store, log, cookies, sessions, ...enterprise, limits, clientAddress, metrics }));
  }
  app.route('/bff', authRoutes({ config, store, log, cookies, sessions, clients, hints, clientMetadata, limits, clientAddress, signOut, metrics, revokers }));
  app.route('/bff', signOut.routes());
  app.route('/bff', connectionRoutes({ config, store, log, cookies, sessions }));

  app.route('/bff', backchannelLogoutRoutes({ store, log, clients, policy, limits, clientAddress, revokeTimeoutMs: REVOKE_TIMEOUT_MS }));
  const checkSameOrigin = sameOriginCheck({ origin: config.publicOrigin, log });
  /** A proxied MCP request to the server with id `id` (from the path). */
  const serveMcp = async (c: Context<AppEnv>, id: string): Promise<Response> => {
    // CSRF / same-origin first, as the middleware does on the other API routes.
    checkSameOrigin(c);
    const server = config.servers.find((s) => s.id === id);
    if (!server) throw new ApiFailure('not_found', 'No MCP server with that id.');
    if (service.handles(server.id)) {
      return proxy.forward(c, server, async () => {
        // The deployment's identity is used on behalf of a browser session (its streams, its idle end,
        // its logout), never for a request without one; a person's own token for this server is never
        // read. A browser without a session gets one here, counted like any request without a connection.
        const session = await sessions.current(c);
        if (session) return { session, record: undefined };
        const retryAfter = await limits.consume('anonymousMcp', clientAddress(c), c.get('requestId'));
        if (retryAfter !== undefined) throw rateLimited(retryAfter);
        return { session: await sessions.rotate(c, undefined), record: undefined };
      });
    }
    return proxy.forward(c, server, () => {
      const current = sessions.currentWithConnection(c, server.id);
      // A connected call whose session and tokens are in memory goes on without waiting (most calls).
      if (!(current instanceof Promise) && current?.record) return current;
      return connectedOrCounted(c, current);
    });
  };
  /**
   * Without a connection to the server the request is anonymous: it uses nobody's tokens, and a
   * session without connections is one request away for anyone. Such requests are what an address can
   * make the BFF forward (and, for an MCP server that hands out sessions, store) on its own. Connected
   * use is never counted here.
   */
  const connectedOrCounted = async (
    c: Context<AppEnv>,
    lookup: SessionWithConnection | undefined | Promise<SessionWithConnection | undefined>,
  ): Promise<SessionWithConnection | undefined> => {
    const current = await lookup;
    if (!current?.record) {
      const retryAfter = await limits.consume('anonymousMcp', clientAddress(c), c.get('requestId'));
      if (retryAfter !== undefined) throw rateLimited(retryAfter);
    }
    return current;
  };
  app.all(MCP_ROUTE, (c) => serveMcp(c, c.req.param('server')));
  app.all('/mcp/*', () => {
    throw new ApiFailure('not_found', 'No MCP server with that id.');
  });
  app.all('/bff/*', () => {
    throw new ApiFailure('not_found', 'No such endpoint.');
  });

  if (config.staticDir) app.route('/', spaRoutes(config.staticDir));

  /** The JSON error answer for a request that failed: every one names its request. */
  const errorAnswer = (error: Error, c: Context<AppEnv>): Response => {
    const requestId = c.get('requestId');
    if (error instanceof ApiFailure) {
      for (const [name, value] of Object.entries(error.headers)) c.header(name, value);
      return c.json({ ...error.toJSON(), requestId }, error.status as 400);
    }
    if (error instanceof StoreUnavailable) {
      // Fail closed: never 401 (that would send the user to log in again), never another store.
      log.error({ event: 'store_unavailable', reqId: c.get('requestId') });
      const failure = serviceUnavailable();
      for (const [name, value] of Object.entries(failure.headers)) c.header(name, value);
      return c.json({ ...failure.toJSON(), requestId }, 503);
    }
    log.error({ event: 'unhandled_error', err: { name: error.name, message: error.message }, reqId: requestId });
    return c.json({ error: 'internal_error', message: 'Something went wrong.', requestId }, 500);
  };
  // Every JSON error names its request: the SPA shows it as the reference a person reports, and the
  // request's log lines carry the same id.
  app.notFound((c) => c.json({ error: 'not_found', message: 'Not found.', requestId: c.get('requestId') }, 404));
  app.onError(errorAnswer);

  // Proxied MCP calls are most of what the BFF serves: on Node, a request whose path is exactly
  // /mcp/<server id> skips Hono's router and middleware chain (measured by bench:proxy) and is served as
  // that route would be, with the same request context, handler and error answers. Anything else (other
  // spellings of the path included) goes through Hono. Behind an authenticating proxy every request
  // also passes the forwarded sign-in check, which is middleware: then everything goes through Hono.
  if (!forwardedGuard) {
    const direct = async (c: Context<AppEnv>, id: string): Promise<Response> => {
      const started = begin(c);
      try {
        c.res = await serveMcp(c, id);
      } catch (error) {
        c.res = errorAnswer(error instanceof Error ? error : new Error(String(error)), c);
      }
      end(c, started, MCP_ROUTE);
      return c.res;
    };
    directRoutes.set(app, direct);
    // Through @hono/node-server's adapter too (serve({ fetch }), getRequestListener): the same route.
    const routed = app.fetch;
    app.fetch = (request, env, executionCtx) => {
      const incoming = (env as { incoming?: IncomingMessage } | undefined)?.incoming;
      const id = incoming === undefined ? undefined : directMcpServer(incoming);
      if (id === undefined) return routed(request, env, executionCtx);
      return direct(new Context<AppEnv>(request, { env, path: `/mcp/${id}` }), id);
    };
  }
  return app;
}

/** Why the store cannot serve now (it failed, or did not answer within READY_TIMEOUT_MS), or undefined. */
async function storeProblem(store: TokenStore): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve('token store did not answer in time'), READY_TIMEOUT_MS);
  });
  try {
    return await Promise.race([
      store.ping().then(
        () => undefined,
        (error: unknown) => (error instanceof StoreUnavailable ? 'token store unavailable' : 'token store failed'),
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
