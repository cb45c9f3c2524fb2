import { parentPort, workerData } from 'node:worker_threads';
import { Agent, request } from 'undici';

/**
 * The anonymous flood of soak-anonymous.test.ts, in a worker thread: the client's own work then runs on
 * the other core, and the main thread's heap is the BFF's (and the demo servers'), not the client's.
 * Each message `{ total }` runs one flood of at least that many requests and answers what came back.
 */

export interface SoakClientOptions {
  /** The BFF, by address: http://127.0.0.1:<port>. */
  base: string;
  /** Host header: the BFF's PUBLIC_URL host. */
  host: string;
  /** The authorization server of /mcp/default, to tell a login that went there. */
  issuer: string;
  /** Client addresses (loopback) the requests come from, spread over the workers. */
  addresses: string[];
  concurrency: number;
}

export interface SoakResult {
  sent: number;
  ms: number;
  /** "what status/outcome" → how many. */
  outcomes: Record<string, number>;
}

const o = workerData as SoakClientOptions;
const agents = o.addresses.map((localAddress) => new Agent({ localAddress, connections: o.concurrency, pipelining: 1 }));
let next = 0;

async function call(agent: Agent, path: string, init: { method?: 'GET' | 'POST'; headers?: Record<string, string>; body?: string } = {}) {
  const res = await request(`${o.base}${path}`, {
    dispatcher: agent,
    method: init.method ?? 'GET',
    headers: { host: o.host, ...init.headers },
    ...(init.body ? { body: init.body } : {}),
  });
  await res.body.dump();
  return res;
}

/** One round of the mix; returns how many requests it made. */
async function round(agent: Agent, i: number, count: (what: string) => void): Promise<number> {
  switch (i % 4) {
    case 0: {
      // A login, then its callback with a junk code: with the state of a real login when there is one,
      // this is what would reach the token endpoint as the BFF.
      const started = await call(agent, '/bff/login?server=default&returnTo=%2F');
      const location = String(started.headers.location ?? '');
      const authorization = location.startsWith(o.issuer) ? new URL(location).searchParams : undefined;
      count(`login ${started.statusCode} ${authorization ? 'to the AS' : location}`);
      const cookie = [started.headers['set-cookie'] ?? []].flat().map((c) => c.split(';')[0]).join('; ');
      const callbackPath = authorization ? new URL(authorization.get('redirect_uri') as string).pathname : '/bff/callback/default';
      const query = new URLSearchParams({ code: `junk${i}`, state: authorization?.get('state') ?? 'x'.repeat(43), iss: o.issuer });
      const callback = await call(agent, `${callbackPath}?${query}`, cookie ? { headers: { cookie } } : {});
      count(`callback ${callback.statusCode}`);
      return 2;
    }
    case 1: {
      const res = await call(agent, '/bff/login?server=registers&returnTo=%2F');
      count(`login registers ${res.statusCode} ${String(res.headers.location ?? '')}`);
      return 1;
    }
    default: {
      const res = await call(agent, '/mcp/default', {
        method: 'POST',
        headers: { 'x-csrf': '1', 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/list', params: {} }),
      });
      count(`mcp ${res.statusCode}`);
      return 1;
    }
  }
}

async function flood(total: number): Promise<SoakResult> {
  const outcomes: Record<string, number> = {};
  const count = (what: string) => {
    outcomes[what] = (outcomes[what] ?? 0) + 1;
  };
  const started = performance.now();
  let sent = 0;
  await Promise.all(
    Array.from({ length: o.concurrency }, async (_, worker) => {
      const agent = agents[worker % agents.length] as Agent;
      while (sent < total) {
        const made = await round(agent, next++, count);
        sent += made;
      }
    }),
  );
  return { sent, ms: performance.now() - started, outcomes };
}

parentPort?.on('message', (message: { total?: number; close?: boolean }) => {
  if (message.close) {
    void Promise.all(agents.map((a) => a.close())).then(() => parentPort?.close());
    return;
  }
  flood(message.total ?? 0).then(
    (result) => parentPort?.postMessage(result),
    (error: unknown) => parentPort?.postMessage({ error: String(error) }),
  );
});
