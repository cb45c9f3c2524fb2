import { request as httpRequest } from 'node:http';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { listen, type Listening } from '../../demo/src/listen.js';
import { ensureBuilt } from './build-support.js';
import { initializeMcp, MCP_HEADERS, rpc, TestBrowser } from './support.js';
import { type BffProcess, bffEnv, newKey, type RedisServer, startBffProcess, startRedis, startUpstreams, type Upstreams, until } from './vault-support.js';

/**
 * A rolling restart, as an orchestrator does it: two built BFF instances (`node scripts/serve.mjs`)
 * sharing one redis-server behind a round-robin load balancer, people logged in and calling tools the
 * whole time; one instance gets SIGTERM, is started again, then the other. Nobody notices: every call
 * succeeds (those in flight on the stopped instance finish there, the rest go to the other one), every
 * session is still there, and an open stream is told to reconnect rather than cut off.
 */

const key = newKey('k1');
let redis: RedisServer;
let lb: Balancer;
let up: Upstreams;
let env: Record<string, string>;
let a: BffProcess;
let b: BffProcess;

interface Balancer {
  listening: Listening;
  origin: string;
  targets: string[];
  /** Requests each target answered. */
  counts: Map<string, number>;
  /** Requests the balancer itself could not place (no target took the connection). */
  unplaced: number;
  /** Connections reset before any answer, and the request placed again. */
  resets: number;
}

/**
 * A load balancer's essentials: round robin, one new connection per request, and a target that
 * refuses the connection (an instance that stopped listening) is skipped for the next one, as a
 * balancer's connect retry or health check does.
 *
 * A connection reset before any byte of an answer is placed again too, as Envoy's `retry_on: reset`
 * or HAProxy's `retry-on empty-response` do: when a process closes its listening socket, the kernel
 * resets the connections still waiting in its backlog, which the process never accepted. Those are
 * the only resets here: a request the instance did accept is answered (the calls below that are in
 * flight on a stopping instance go to it directly, past the balancer, and must complete).
 */
async function startBalancer(): Promise<Balancer> {
  const listening = await listen(0, '127.0.0.1', 'localhost');
  const lb: Balancer = { listening, origin: listening.origin, targets: [], counts: new Map(), unplaced: 0, resets: 0 };
  let next = 0;
  listening.handle((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const start = next++;
      // Each target at most once, from this request's turn on.
      const attempt = (tries: number) => {
        const target = lb.targets[(start + tries) % lb.targets.length];
        if (!target || tries >= lb.targets.length) {
          lb.unplaced++;
          res.writeHead(502).end('no backend');
          return;
        }
        const upstream = httpRequest(new URL(req.url ?? '/', target), { method: req.method, headers: req.headers, agent: false }, (answer) => {
          lb.counts.set(target, (lb.counts.get(target) ?? 0) + 1);
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          res.on('close', () => answer.destroy());
        });
        upstream.on('error', (error: NodeJS.ErrnoException) => {
          if (error.code === 'ECONNREFUSED') return attempt(tries + 1);
          if (error.code === 'ECONNRESET' && !res.headersSent) {
            lb.resets++;
            return attempt(tries + 1);
          }
          if (!res.headersSent) res.writeHead(502);
          res.end(`balancer: ${error.code ?? error.message}`);
        });
        upstream.end(body);
      };
      attempt(0);
    });
  });
  return lb;
}

function useBackends(...instances: BffProcess[]): void {
  lb.targets.splice(0, lb.targets.length, ...instances.map((i) => i.url));
}

beforeAll(async () => {
  const built = ensureBuilt();
  redis = await startRedis();
  lb = await startBalancer();
  up = await startUpstreams(`${lb.origin}/bff/callback/default`);
  env = bffEnv({ publicUrl: lb.origin, mcpUrl: up.mcpUrl, store: redis.url, keys: key.env, extra: { STATIC_DIR: '' } });
  await built;
  [a, b] = await Promise.all([startBffProcess(env, { built: true }), startBffProcess(env, { built: true })]);
  useBackends(a, b);
}, 120_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await Promise.all([lb?.listening.close(), up?.close()]);
  await redis?.close();
});

/** People calling tools through the balancer until told to stop; every failure is kept. */
function load(clients: Array<{ browser: TestBrowser; mcp: Client }>) {
  const failures: string[] = [];
  let calls = 0;
  let running = true;
  const loops = clients.map(async ({ browser, mcp }, n) => {
    for (let i = 0; running; i++) {
      try {
        const message = `person ${n} call ${i}`;
        const result = await mcp.callTool({ name: 'echo', arguments: { message } });
        const text = (result.content as Array<{ type: string; text?: string }>)[0]?.text;
        if (text !== message) failures.push(`echo answered ${JSON.stringify(result)}`);
        if (i % 5 === 0) {
          const session = await browser.session();
          if (!session.authenticated || session.connections[0]?.status !== 'connected') failures.push(`session: ${JSON.stringify(session)}`);
        }
        calls++;
      } catch (error) {
        failures.push(String(error));
      }
    }
  });
  return {
    get calls() {
      return calls;
    },
    failures,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** Requests straight to one instance, with a browser's cookies: to know where something is in flight. */
function direct(instance: BffProcess, browser: TestBrowser, init: { method: string; headers: Record<string, string>; body?: string }) {
  return fetch(`${instance.url}/mcp/default`, {
    ...init,
    headers: { ...init.headers, 'x-csrf': '1', cookie: browser.jar.header(lb.origin) ?? '' },
  });
}

/** Reads an SSE body, resolving `first` with the first event's text and `all` with everything to its end. */
function readStream(res: Response): { first: Promise<string>; all: Promise<string> } {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = '';
  let sawFirst: (t: string) => void = () => {};
  const first = new Promise<string>((resolve) => {
    sawFirst = resolve;
  });
  const all = (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      if (/\n\n/.test(text)) sawFirst(text);
    }
    sawFirst(text);
    return text;
  })();
  return { first, all };
}

/**
 * SIGTERMs `instance` with a call in flight on it and a stream open on it, while the load runs; checks
 * that the call completes, the stream ends with the retry hint, and the process exits cleanly in time.
 */
async function restart(instance: BffProcess, other: BffProcess, browser: TestBrowser, mcpSession: string): Promise<BffProcess> {
  const headers = { ...MCP_HEADERS, 'mcp-session-id': mcpSession };
  // An open stream on this instance: the standalone GET stream of an MCP session.
  const stream = await direct(instance, browser, { method: 'GET', headers: { ...headers, accept: 'text/event-stream' } });
  expect(stream.status).toBe(200);
  // A call in flight on it, answered as a stream of progress, then its result.
  const call = await direct(instance, browser, {
    method: 'POST',
    headers,
    body: rpc('tools/call', { name: 'slow_task', arguments: { steps: 4, delayMs: 250 }, _meta: { progressToken: 'rolling' } }, 7),
  });
  expect(call.status).toBe(200);
  expect(call.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const callBody = readStream(call);
  expect(await callBody.first).toContain('notifications/progress');

  const stopping = Date.now();
  const stopped = instance.stop();
  // The stream is told to reconnect, and ends.
  const streamed = await readStream(stream).all;
  expect(streamed).toMatch(/retry: \d+\n\n$/);
  // The call finishes on the instance that is stopping: every step, then the result.
  const answered = await callBody.all;
  expect(answered).toContain('Completed 4 steps');
  expect(answered).not.toContain('retry:');
  await stopped;
  expect(instance.exitCode()).toBe(0);
  expect(Date.now() - stopping).toBeLessThan(5_000);
  expect(instance.logs.find((l) => l.event === 'stopped')).toMatchObject({ forced: false });

  // Started again (a new port, as a new container would have), and back in the balancer.
  const again = await startBffProcess(env, { built: true });
  useBackends(again, other);
  return again;
}

it('SIGTERM one instance, start it again, then the other, under load: no call fails, no session is lost', async () => {
  const people = [new TestBrowser(lb.origin), new TestBrowser(lb.origin), new TestBrowser(lb.origin)];
  for (const [n, browser] of people.entries()) await browser.login({ user: n % 2 === 0 ? 'alice' : 'bob' });
  const sessions = await Promise.all(people.map((p) => p.sessionId()));
  const clients = await Promise.all(people.map(async (browser) => ({ browser, mcp: await browser.mcpClient() })));
  const watcher = people[0] as TestBrowser;
  const mcpSession = await initializeMcp(watcher);

  const traffic = load(clients);
  await until(() => traffic.calls >= 10, 20_000, 'calls to flow through both instances');
  a = await restart(a, b, watcher, mcpSession);
  const afterFirst = traffic.calls;
  await until(() => traffic.calls >= afterFirst + 10, 20_000, 'calls to flow after the first restart');
  b = await restart(b, a, watcher, mcpSession);
  const afterSecond = traffic.calls;
  await until(() => traffic.calls >= afterSecond + 10, 20_000, 'calls to flow after the second restart');
  await traffic.stop();

  expect(traffic.failures).toEqual([]);
  expect(lb.unplaced).toBe(0);
  // Both new instances took calls, and still know everybody.
  expect(lb.counts.get(a.url)).toBeGreaterThan(0);
  expect(lb.counts.get(b.url)).toBeGreaterThan(0);
  for (const [n, browser] of people.entries()) {
    expect(await browser.sessionId()).toBe(sessions[n]);
    expect((await browser.session()).connections).toMatchObject([{ server: 'default', status: 'connected' }]);
  }
  for (const { mcp } of clients) await mcp.close();
}, 90_000);
