import type { Server, ServerOptions } from 'node:http';

/**
 * How long the BFF waits for a browser (or anything posing as one) to send its request. Node's own
 * defaults (60 s for headers, 300 s for a whole request, and a check only every 30 s) let a slow client
 * hold a connection for minutes; these cut slowloris-style dribbling short.
 */
export interface ClientLimits {
  /** Time to receive a request's headers, ms. */
  headersTimeoutMs: number;
  /**
   * Time to receive a whole request, body included, ms. Responses are not limited by it: an SSE stream
   * can stay open as long as both ends want.
   */
  requestTimeoutMs: number;
}

export const DEFAULT_CLIENT_LIMITS: ClientLimits = { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000 };

/** An idle keep-alive connection is closed after this long. */
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** Headers larger than this are answered 431 (Node's default, stated here so that it stays so). */
const MAX_HEADER_BYTES = 16 * 1024;

/** Options for node:http's createServer (and @hono/node-server's `serverOptions`). */
export function clientLimitOptions(limits: ClientLimits): ServerOptions {
  const requestTimeout = limits.requestTimeoutMs;
  // Node refuses a headers timeout longer than the request timeout.
  const headersTimeout = Math.min(limits.headersTimeoutMs, requestTimeout);
  return {
    headersTimeout,
    requestTimeout,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    maxHeaderSize: MAX_HEADER_BYTES,
    // How often timeouts are enforced: a fraction of the shortest, never more often than every 100 ms.
    connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(headersTimeout / 4))),
  };
}

/** For a server created before the limits were known: the timeouts Node reads at every check. */
export function applyClientLimits(server: Server, limits: ClientLimits): void {
  const options = clientLimitOptions(limits);
  server.requestTimeout = options.requestTimeout as number;
  server.headersTimeout = options.headersTimeout as number;
  server.keepAliveTimeout = options.keepAliveTimeout as number;
}
