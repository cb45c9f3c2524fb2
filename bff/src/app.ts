import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import type { Config } from './config.js';
import { clientAddressResolver } from './http/client-address.js';
import { ApiFailure, rateLimited, serviceUnavailable } from './http/errors.js';
import { memoryRateLimits, type RateLimits } from './http/rate-limit.js';
import { securityHeaderList, securityHeaders } from './http/security-headers.js';
import type { Logger } from './log.js';
import { requireSameOriginApi } from './http/csrf.js';
import { McpProxy } from './mcp/proxy.js';
import { OAuthClient } from './oauth/client.js';
import { Discovery } from './oauth/discovery.js';
import { createOutboundFetch } from './oauth/outbound.js';
import { ChallengeHintsCache } from './oauth/hints.js';
import { redirectUriFor } from './oauth/redirect-uri.js';
import { type ClientRegistry, ClientResolver } from './oauth/registration.js';
import { refreshDeadlineMs, refreshTiming, TokenManager } from './oauth/tokens.js';
import { authRoutes } from './routes/auth.js';
import { connectionRoutes } from './routes/connection.js';
import type { AppEnv } from './routes/env.js';
import { spaRoutes } from './routes/static.js';
import { CookieJar } from './session/cookies.js';
import { Sessions } from './session/session.js';
import { StoreClientRegistry } from './store/client-registry.js';
import { StoreUnavailable } from './store/errors.js';
import { ServerBoundStore } from './store/server-bound.js';
import type { TokenStore } from './store/types.js';

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
}

/** Routes and middleware only: everything stateful comes in through `deps`. */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  const { config, log } = deps;
  const limits = deps.limits ?? memoryRateLimits(config, log);
  const clientAddress = clientAddressResolver(config.trustedProxies, log);
  // Token records are read only for the server they were issued for: see ServerBoundStore.
  const store = new ServerBoundStore(deps.store, config.servers, log);
  const policy = {
    allowHttpLoopback: config.allowHttpLoopback,
    timeoutMs: config.authServerTimeoutMs,
    fetch:
      deps.outboundFetch ??
      createOutboundFetch({
        allowHttpLoopback: config.allowHttpLoopback,
        allowPrivateNetworks: config.allowPrivateNetworks,
        timeoutMs: config.authServerTimeoutMs,
        maxResponseBytes: 1024 * 1024,
      }),
  };
  const discovery = new Discovery(policy);
  const clientMetadata = {
    publicUrl: config.publicUrl,
    redirectUris: config.servers.map((s) => redirectUriFor(config.publicUrl, s.id)),
    clientName: config.clientName,
    externalUrl: config.clientMetadataUrl,
  };
  const resolver = new ClientResolver(
    deps.registry ?? new StoreClientRegistry(store),
    clientMetadata,
    policy,
    config.secureCookies || config.allowHttpLoopback,
  );
  const clients = new Map(
    config.servers.map((s) => [s.id, new OAuthClient(s, discovery, resolver, redirectUriFor(config.publicUrl, s.id), policy)]),
  );
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
  const tokens = new TokenManager(store, clients, log, refreshTiming(config.authServerTimeoutMs));
  const proxy = new McpProxy({
    store,
    tokens,
    log,
    maxBodyBytes: config.maxBodyBytes,
    upstreamTimeoutMs: config.upstreamTimeoutMs,
    hints,
    startSession: (c) => sessions.rotate(c, undefined),
    responseHeaders: securityHeaderList({ hsts: config.secureCookies }),
    clientAddress,
    maxStreamsPerSession: config.maxStreamsPerSession,
    maxAnonymousStreamsPerAddress: config.maxAnonymousStreamsPerAddress,
  });

  const app = new Hono<AppEnv>();
  // The request line's fields are fixed and never secret (the path is logged without its query), so it
  // skips the redaction pass every other line goes through: a measurable share of a proxied call's CPU.
  const requestLog = log.child({}, { redact: [] });

  app.use('*', async function requestContext(c, next) {
    const requestId = randomUUID();
    c.set('requestId', requestId);
    const started = performance.now();
    await next();
    // The proxy writes its streamed answers itself, X-Request-Id included.
    if (c.get('sentStatus') === undefined) c.header('X-Request-Id', requestId);
    // The path only: the callback's query string carries the authorization code and state.
    requestLog.info({
      event: 'request',
      reqId: requestId,
      method: c.req.method,
      path: c.req.path,
      status: c.get('sentStatus') ?? c.res.status,
      ms: Math.round(performance.now() - started),
    });
  });
  app.use('*', securityHeaders({ hsts: config.secureCookies }));
  app.use('/bff/*', async function noStore(c, next) {
    await next();
    c.header('Cache-Control', 'no-store');
  });

  app.get('/healthz', (c) => c.json({ ok: true }));
  app.route('/bff', authRoutes({ config, store, log, cookies, sessions, clients, hints, clientMetadata, limits, clientAddress }));
  app.route('/bff', connectionRoutes({ config, store, log, cookies, sessions }));

  const sameOrigin = requireSameOriginApi({ origin: config.publicOrigin, log });
  app.all('/mcp/:server', sameOrigin, async (c) => {
    const server = config.servers.find((s) => s.id === c.req.param('server'));
    if (!server) throw new ApiFailure('not_found', 'No MCP server with that id.');
    return proxy.forward(c, server, async () => {
      const current = await sessions.currentWithConnection(c, server.id);
      // Without a connection to this server the request is anonymous: it uses nobody's tokens, and a
      // session without connections is one request away for anyone. Such requests are what an address
      // can make the BFF forward (and, for an MCP server that hands out sessions, store) on its own.
      // Connected use is never counted here.
      if (!current?.record) {
        const retryAfter = await limits.consume('anonymousMcp', clientAddress(c), c.get('requestId'));
        if (retryAfter !== undefined) throw rateLimited(retryAfter);
      }
      return current;
    });
  });
  app.all('/mcp/*', () => {
    throw new ApiFailure('not_found', 'No MCP server with that id.');
  });
  app.all('/bff/*', () => {
    throw new ApiFailure('not_found', 'No such endpoint.');
  });

  if (config.staticDir) app.route('/', spaRoutes(config.staticDir));

  app.notFound((c) => c.json({ error: 'not_found', message: 'Not found.' }, 404));
  app.onError((error, c) => {
    if (error instanceof ApiFailure) {
      for (const [name, value] of Object.entries(error.headers)) c.header(name, value);
      return c.json(error.toJSON(), error.status as 400);
    }
    if (error instanceof StoreUnavailable) {
      // Fail closed: never 401 (that would send the user to log in again), never another store.
      log.error({ event: 'store_unavailable', reqId: c.get('requestId') });
      const failure = serviceUnavailable();
      for (const [name, value] of Object.entries(failure.headers)) c.header(name, value);
      return c.json(failure.toJSON(), 503);
    }
    log.error({ event: 'unhandled_error', err: { name: error.name, message: error.message }, reqId: c.get('requestId') });
    return c.json({ error: 'internal_error', message: 'Something went wrong.' }, 500);
  });
  return app;
}
