import { Agent, type ClientRequest, type IncomingMessage, request } from 'node:http';
import autocannon from 'autocannon';
import { serveRpc } from '../lib/child.js';
import { percentile } from '../lib/stats.js';

/**
 * The load generator's process (pinned to its own CPU): autocannon for throughput and latency, plain
 * node:http for the refresh storm and the SSE measurements, which need per-request control.
 */

export interface HttpTarget {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface CannonResult {
  requests: number;
  seconds: number;
  rps: number;
  /** ms, from every 2xx response's own timing (autocannon's histogram rounds to whole ms). */
  p50: number;
  p90: number;
  p99: number;
  mean: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

/** `rate`: at most that many requests per second over all connections (autocannon's overallRate); none: as fast as answered. */
function cannon(target: HttpTarget & { connections: number; seconds: number; rate?: number | undefined }): Promise<CannonResult> {
  return new Promise((resolve, reject) => {
    const latencies: number[] = [];
    const instance = autocannon(
      {
        url: target.url,
        method: 'POST',
        headers: target.headers,
        body: target.body,
        connections: target.connections,
        duration: target.seconds,
        timeout: 10,
        ...(target.rate ? { overallRate: target.rate } : {}),
      },
      (error, result) => {
        if (error) return reject(error);
        latencies.sort((a, b) => a - b);
        resolve({
          requests: result['2xx'],
          seconds: result.duration,
          rps: result['2xx'] / result.duration,
          p50: percentile(latencies, 0.5),
          p90: percentile(latencies, 0.9),
          p99: percentile(latencies, 0.99),
          mean: latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length),
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
        });
      },
    );
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status >= 200 && status < 300) latencies.push(ms);
    });
  });
}

/** One request with the whole answer: the pre-flight check that every setup answers the same thing. */
async function check(target: HttpTarget): Promise<{ status: number; contentType: string; body: string }> {
  const res = await fetch(target.url, { method: 'POST', headers: target.headers, body: target.body });
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', body: await res.text() };
}

const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });

function send(target: HttpTarget, onResponse?: (res: IncomingMessage) => void): { req: ClientRequest; done: Promise<number> } {
  let req!: ClientRequest;
  const done = new Promise<number>((resolve, reject) => {
    req = request(target.url, { method: 'POST', headers: target.headers, agent }, (res) => {
      onResponse?.(res);
      res.on('error', () => resolve(res.statusCode ?? 0));
      res.on('end', () => resolve(res.statusCode ?? 0));
      if (!onResponse) res.resume();
    });
    req.on('error', reject);
    req.end(target.body);
  });
  return { req, done };
}

function statusCounts(statuses: number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of statuses) out[s] = (out[s] ?? 0) + 1;
  return out;
}

/** Opens `count` keep-alive connections first, so that the storm measures the BFF, not TCP handshakes. */
async function warmConnections(params: { url: string; count: number }): Promise<void> {
  for (let i = 0; i < params.count; i += 100) {
    const batch = Array.from({ length: Math.min(100, params.count - i) }, () =>
      new Promise<void>((resolve, reject) => {
        const req = request(params.url, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve());
        });
        req.on('error', reject);
        req.end();
      }),
    );
    await Promise.all(batch);
  }
  // Leave them all in the agent's free pool: the next `count` requests reuse them.
}

async function storm(target: HttpTarget & { count: number }): Promise<{ ms: number; statuses: Record<string, number> }> {
  const started = performance.now();
  const statuses = await Promise.all(Array.from({ length: target.count }, () => send(target).done));
  return { ms: performance.now() - started, statuses: statusCounts(statuses) };
}

/**
 * Runs one SSE POST and returns the wall-clock arrival time of each event (the moment the chunk that
 * completes it arrives), to be matched against the MCP server's write times.
 */
async function sseArrivals(target: HttpTarget): Promise<{ status: number; arrivals: number[] }> {
  const arrivals: number[] = [];
  let buffer = '';
  const { done } = send(target, (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      const now = performance.timeOrigin + performance.now();
      buffer += chunk;
      let end = buffer.indexOf('\n\n');
      while (end !== -1) {
        if (/^data:/m.test(buffer.slice(0, end))) arrivals.push(now);
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf('\n\n');
      }
    });
  });
  return { status: await done, arrivals };
}

const open: ClientRequest[] = [];

/** Opens `count` long SSE streams and resolves once each has its response headers. */
async function openStreams(target: HttpTarget & { count: number }): Promise<Record<string, number>> {
  const statuses: number[] = [];
  for (let i = 0; i < target.count; i += 100) {
    const batch = Array.from({ length: Math.min(100, target.count - i) }, () => {
      let req!: ClientRequest;
      const headers = new Promise<number>((resolve) => {
        req = request(target.url, { method: 'POST', headers: target.headers, agent: false }, (res) => {
          res.on('data', () => {});
          res.on('error', () => {});
          resolve(res.statusCode ?? 0);
        });
        req.on('error', () => resolve(0));
        req.end(target.body);
      });
      open.push(req);
      return headers;
    });
    statuses.push(...(await Promise.all(batch)));
  }
  return statusCounts(statuses);
}

serveRpc({
  cannon,
  check,
  warmConnections,
  storm,
  sseArrivals,
  openStreams,
  closeStreams: () => {
    for (const req of open.splice(0)) req.destroy();
  },
  exit: () => void setImmediate(() => process.exit(0)),
});
