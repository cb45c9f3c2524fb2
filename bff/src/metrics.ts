import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { LoginErrorCode } from '@mcp-bff/shared';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import { StoreUnavailable } from './store/errors.js';
import type { TokenStore } from './store/types.js';

/**
 * What a refresh attempt came to, seen from the call that needed it: `ok` (this instance refreshed and
 * stored the tokens), `failed` (the authorization server or the store could not be reached, or the wait
 * for another refresher ran out: the connection is kept), `rejected` (the authorization server refused
 * the grant or the client: the connection ended, the person logs in again), `waited` (another instance
 * held the refresh lock, or had refreshed already, and its tokens were used).
 */
export type RefreshOutcome = 'ok' | 'failed' | 'rejected' | 'waited';

/**
 * The BFF's counters, for Prometheus (GET /metrics). Every label has a bounded set of values: route
 * patterns (never raw paths), configured server ids, fixed codes. No label ever holds a token, a
 * session id or anything a client chose.
 */
export interface Metrics {
  readonly enabled: boolean;
  /** One answered request: `route` is the Hono route pattern that answered it. */
  request(route: string, method: string, status: number, seconds: number): void;
  /** One request to an MCP server, until its answer's headers (or the failure). */
  upstream(server: string, outcome: UpstreamOutcome, seconds: number): void;
  refresh(server: string, outcome: RefreshOutcome): void;
  loginStarted(server: string): void;
  loginCompleted(server: string): void;
  loginFailed(code: LoginErrorCode): void;
  /** An SSE answer from an MCP server is open; the returned function closes it (once). */
  streamOpened(server: string): () => void;
  /** A store operation failed (StoreUnavailable). */
  storeError(operation: string): void;
  /** The exposition in Prometheus text format. */
  render(): Promise<{ contentType: string; body: string }>;
}

/** An upstream answer's status class, or why there was none. */
export type UpstreamOutcome = '1xx' | '2xx' | '3xx' | '4xx' | '5xx' | 'timeout' | 'error';

export function upstreamOutcome(status: number): UpstreamOutcome {
  if (status >= 100 && status < 600) return `${Math.floor(status / 100)}xx` as UpstreamOutcome;
  return 'error';
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Metrics switched off: every call does nothing. */
export const noMetrics: Metrics = {
  enabled: false,
  request() {},
  upstream() {},
  refresh() {},
  loginStarted() {},
  loginCompleted() {},
  loginFailed() {},
  streamOpened: () => () => {},
  storeError() {},
  render: async () => ({ contentType: 'text/plain', body: '' }),
};

/** Metrics when the configuration exposes them (METRICS_TOKEN or METRICS_PORT), none otherwise. */
export function metricsFor(config: Pick<Config, 'metrics'>): Metrics {
  return config.metrics.token !== undefined || config.metrics.port !== undefined ? createMetrics() : noMetrics;
}

/** Counters in a registry of their own (several apps may live in one process), with Node's process metrics. */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const requests = new Counter({
    name: 'mcp_bff_http_requests_total',
    help: 'HTTP requests answered, by route pattern, method and status.',
    labelNames: ['route', 'method', 'status'] as const,
    registers,
  });
  const requestSeconds = new Histogram({
    name: 'mcp_bff_http_request_duration_seconds',
    help: 'Time to answer an HTTP request (for a streamed answer: until its headers), by route pattern and method.',
    labelNames: ['route', 'method'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const upstreamSeconds = new Histogram({
    name: 'mcp_bff_upstream_request_duration_seconds',
    help: "Time until an MCP server's answer headers arrived (or the request failed), by server id and outcome.",
    labelNames: ['server', 'outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  });
  const refreshes = new Counter({
    name: 'mcp_bff_token_refreshes_total',
    help: 'Access token refreshes by server id and outcome: ok, failed (AS or store unavailable), rejected (grant refused, connection ended), waited (another instance refreshed).',
    labelNames: ['server', 'outcome'] as const,
    registers,
  });
  const loginsStarted = new Counter({
    name: 'mcp_bff_logins_started_total',
    help: 'Logins sent to an authorization server, by server id.',
    labelNames: ['server'] as const,
    registers,
  });
  const loginsCompleted = new Counter({
    name: 'mcp_bff_logins_completed_total',
    help: 'Logins that ended with tokens, by server id.',
    labelNames: ['server'] as const,
    registers,
  });
  const loginsFailed = new Counter({
    name: 'mcp_bff_logins_failed_total',
    help: 'Logins that failed, by the code the person was shown.',
    labelNames: ['code'] as const,
    registers,
  });
  const streams = new Gauge({
    name: 'mcp_bff_open_streams',
    help: 'SSE answers from MCP servers open now, by server id.',
    labelNames: ['server'] as const,
    registers,
  });
  const storeErrors = new Counter({
    name: 'mcp_bff_store_errors_total',
    help: 'Token store operations that failed (store unreachable or failing), by operation.',
    labelNames: ['operation'] as const,
    registers,
  });
  return {
    enabled: true,
    request(route, method, status, seconds) {
      const m = METHODS.has(method) ? method : 'other';
      requests.inc({ route, method: m, status: String(status) });
      requestSeconds.observe({ route, method: m }, seconds);
    },
    upstream(server, outcome, seconds) {
      upstreamSeconds.observe({ server, outcome }, seconds);
    },
    refresh(server, outcome) {
      refreshes.inc({ server, outcome });
    },
    loginStarted(server) {
      loginsStarted.inc({ server });
    },
    loginCompleted(server) {
      loginsCompleted.inc({ server });
    },
    loginFailed(code) {
      loginsFailed.inc({ code });
    },
    streamOpened(server) {
      streams.inc({ server });
      let open = true;
      return () => {
        if (!open) return;
        open = false;
        streams.dec({ server });
      };
    },
    storeError(operation) {
      storeErrors.inc({ operation });
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}

/**
 * The store with every StoreUnavailable counted (by operation, the method's name) before it goes on to
 * the caller, who answers 503 as before.
 */
export function countStoreErrors(store: TokenStore, metrics: Metrics): TokenStore {
  if (!metrics.enabled) return store;
  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]) => {
        const result: unknown = value.apply(target, args);
        if (!(result instanceof Promise)) return result;
        return result.catch((error: unknown) => {
          if (error instanceof StoreUnavailable) metrics.storeError(property);
          throw error;
        });
      };
    },
  });
}

/** Whether `header` is `Bearer <token>`, compared in constant time (as digests: lengths do not leak). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer ([^\s]+)$/i.exec(header ?? '');
  if (!match) return false;
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(match[1] as string), digest(token));
}

/**
 * A listener of its own for GET /metrics, on 127.0.0.1 only (METRICS_PORT): for a Prometheus on the same
 * host, or a sidecar. METRICS_TOKEN, when set, is required here too.
 */
export function startMetricsServer(options: {
  port: number;
  metrics: Metrics;
  token: string | undefined;
  log: Logger;
}): Promise<{ port: number; close(): Promise<void> }> {
  const { metrics, token, log } = options;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found\n');
      return;
    }
    if (token !== undefined && !bearerMatches(req.headers.authorization, token)) {
      res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="metrics"' }).end('Unauthorized\n');
      return;
    }
    metrics.render().then(
      ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' }).end(req.method === 'HEAD' ? undefined : body),
      (error: unknown) => {
        log.error({ event: 'metrics_failed', err: { name: (error as Error).name } });
        res.writeHead(500, { 'content-type': 'text/plain' }).end('Metrics unavailable\n');
      },
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => {
      server.off('error', reject);
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : options.port;
      log.info({ event: 'metrics_listening', url: `http://127.0.0.1:${port}/metrics` });
      resolve({
        port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
