import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { type AuthServer, createAuthServer } from '../../demo/src/auth-server.js';
import { listen, type Listening } from '../../demo/src/listen.js';
import { createMcpServer, type McpDemo } from '../../demo/src/mcp-server.js';
import { DEMO_CLIENT, DEMO_SESSION_SECRET } from '../../demo/src/stack.js';
import { RecordCipher } from '../src/store/cipher.js';

/**
 * Real infrastructure for the token vault tests: a redis-server of the test's own (free port, temp
 * dir, persistence on), BFF instances as child processes running bff/src/main.ts, a round-robin load
 * balancer in front of them, and the demo authorization server behind a forwarder that can hold a
 * refresh request (to kill a BFF in the middle of one).
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `mcp-bff-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export function newKey(id: string): { id: string; key: Buffer; env: string } {
  const key = randomBytes(32);
  return { id, key, env: `${id}:${key.toString('base64')}` };
}

export function cipherFor(...keys: Array<{ id: string; key: Buffer }>): RecordCipher {
  return new RecordCipher(keys.map(({ id, key }) => ({ id, key })));
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Resolves once `check` returns true, polling; rejects after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let pause = 10; ; pause = Math.min(pause * 2, 100)) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pause));
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

// ---------------------------------------------------------------------------------------------------
// redis-server

export interface RedisServer {
  url: string;
  port: number;
  /** SIGTERM: Redis writes its append-only file and exits, as in a maintenance restart. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Every key under the prefix with its value(s), as one string: what a dump of Redis shows. */
  dump(prefix?: string): Promise<string>;
  close(): Promise<void>;
}

/** True when the redis-server answering on `port` is process `pid` (and not another test's). */
function answersAs(port: number, pid: number | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.setTimeout(500, () => socket.destroy());
    socket.on('connect', () => socket.write('INFO server\r\n'));
    socket.on('data', (d) => {
      answer += d.toString();
      if (/process_id:\d+\r\n/.test(answer)) socket.end();
    });
    socket.on('close', () => resolve(new RegExp(`process_id:${pid}\\r\\n`).test(answer)));
    socket.on('error', () => resolve(false));
  });
}

export async function startRedis(): Promise<RedisServer> {
  const dir = tempDir('redis');
  let port = await freePort();
  let child: ChildProcess | undefined;
  const launch = async () => {
    child = spawn(
      process.env.REDIS_SERVER ?? 'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir.path, '--appendonly', 'yes', '--save', '', '--daemonize', 'no'],
      { stdio: 'ignore' },
    );
    const proc = child;
    let failed = false;
    proc.once('exit', () => {
      failed = true;
    });
    await until(async () => failed || (await answersAs(port, proc.pid)), 10_000, 'redis-server to answer');
    if (failed) throw new Error('redis-server exited at start');
  };
  for (let attempt = 0; ; attempt++) {
    try {
      await launch();
      break;
    } catch (error) {
      if (attempt >= 2) throw error;
      port = await freePort(); // the free port was taken in between
    }
  }
  const stop = async () => {
    if (!child) return;
    const proc = child;
    child = undefined;
    proc.kill('SIGTERM');
    await exited(proc);
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    start: launch,
    async dump(prefix = '') {
      const client = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1 });
      await client.connect();
      try {
        const parts: string[] = [];
        for (const key of (await client.keys(`${prefix}*`)).sort()) {
          const type = await client.type(key);
          const value =
            type === 'hash'
              ? JSON.stringify(await client.hgetall(key))
              : type === 'string'
                ? await client.get(key)
                : `(${type})`;
          parts.push(`${key} = ${value}`);
        }
        return parts.join('\n');
      } finally {
        client.disconnect();
      }
    },
    async close() {
      await stop();
      dir.remove();
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// HTTP forwarder: the load balancer, and the authorization server's front

export interface Forwarder {
  listening: Listening;
  origin: string;
  /** Where requests go; round robin over the list. */
  targets: string[];
  /** How many requests each target received. */
  counts: Map<string, number>;
  close(): Promise<void>;
}

/**
 * Forwards every request to one of `targets` (round robin), streaming both ways. `intercept` may
 * answer a request itself (or never), given its buffered body.
 */
export async function startForwarder(
  hostnameInUrl: string,
  intercept?: (req: IncomingMessage, body: Buffer, res: ServerResponse) => boolean,
): Promise<Forwarder> {
  const listening = await listen(0, '127.0.0.1', hostnameInUrl);
  const forwarder: Forwarder = {
    listening,
    origin: listening.origin,
    targets: [],
    counts: new Map(),
    close: () => listening.close(),
  };
  let next = 0;
  listening.handle((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (intercept?.(req, body, res)) return;
      const target = forwarder.targets[next++ % forwarder.targets.length];
      if (!target) {
        res.statusCode = 502;
        res.end('no backend');
        return;
      }
      forwarder.counts.set(target, (forwarder.counts.get(target) ?? 0) + 1);
      const url = new URL(req.url ?? '/', target);
      const upstream = httpRequest(url, { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        res.on('close', () => answer.destroy());
      });
      upstream.on('error', () => {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
      upstream.end(body);
    });
  });
  return forwarder;
}

// ---------------------------------------------------------------------------------------------------
// Demo authorization server + MCP server, the AS behind a forwarder that can hold refresh requests

export interface Upstreams {
  issuer: string;
  mcpUrl: string;
  as: AuthServer;
  mcp: McpDemo;
  /** While set, refresh_token requests are held at the front and never reach the AS. */
  holdRefresh: boolean;
  /** While set, revocation requests are held at the front: a revocation endpoint that hangs. */
  holdRevocation: boolean;
  /** Refresh requests held so far. */
  held: number;
  /** Refresh requests the front let through to the AS. */
  refreshesForwarded: number;
  close(): Promise<void>;
}

export async function startUpstreams(redirectUri: string, accessTokenTtlSeconds = 600): Promise<Upstreams> {
  const asListener = await listen(0, '127.0.0.1');
  const mcpListener = await listen(0, '127.0.0.1');
  const state = { holdRefresh: false, holdRevocation: false, held: 0, refreshesForwarded: 0 };
  const front = await startForwarder('127.0.0.1', (req, body) => {
    if (req.method !== 'POST' || !req.url?.startsWith('/token')) return false;
    if (req.url.startsWith('/token/revocation')) {
      // Held: a revocation endpoint that never answers.
      if (state.holdRevocation) state.held++;
      return state.holdRevocation;
    }
    if (req.url.startsWith('/token/')) return false;
    if (new URLSearchParams(body.toString('utf8')).get('grant_type') !== 'refresh_token') return false;
    if (!state.holdRefresh) {
      state.refreshesForwarded++;
      return false;
    }
    // Held: no answer, and the AS never sees it. The BFF that sent it is killed meanwhile.
    state.held++;
    return true;
  });
  front.targets.push(asListener.origin);
  const issuer = front.origin;
  const mcpUrl = `${mcpListener.origin}/mcp`;
  const as = await createAuthServer({
    issuer,
    resource: mcpUrl,
    clients: [{ ...DEMO_CLIENT, redirect_uris: [redirectUri] }],
    accessTokenTtlSeconds,
  });
  asListener.handle(as.handler);
  const mcp = createMcpServer({ resource: mcpUrl, issuer });
  mcpListener.handle(mcp.handler);
  const upstreams: Upstreams = {
    issuer,
    mcpUrl,
    as,
    mcp,
    get holdRefresh() {
      return state.holdRefresh;
    },
    set holdRefresh(value: boolean) {
      state.holdRefresh = value;
    },
    get holdRevocation() {
      return state.holdRevocation;
    },
    set holdRevocation(value: boolean) {
      state.holdRevocation = value;
    },
    get held() {
      return state.held;
    },
    get refreshesForwarded() {
      return state.refreshesForwarded;
    },
    async close() {
      await mcp.close();
      await Promise.all([front.close(), asListener.close(), mcpListener.close()]);
    },
  };
  return upstreams;
}

// ---------------------------------------------------------------------------------------------------
// BFF instances as child processes (bff/src/main.ts through tsx, or the build as `pnpm serve` runs it)

export interface BffProcess {
  url: string;
  /** Parsed log lines so far. */
  logs: Array<Record<string, unknown>>;
  /**
   * The first log line `matches` accepts, once it is there: the BFF writes its log in batches (a line
   * can arrive up to 100 ms after the response it belongs to). Rejects after `timeoutMs`.
   */
  logged(matches: (line: Record<string, unknown>) => boolean, what: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Once every line logged before this call is in `logs` and `output()`: a request's own log line is waited for. */
  flushed(): Promise<void>;
  /** Raw stdout and stderr so far. */
  output(): string;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
  /** The exit code once it has exited (null before, or when a signal ended it). */
  exitCode(): number | null;
  /** SIGKILL and wait: no cleanup at all. */
  kill(): Promise<void>;
}

export function bffEnv(options: { publicUrl: string; mcpUrl: string; store: string; keys: string; extra?: Record<string, string> }) {
  return {
    PUBLIC_URL: options.publicUrl,
    MCP_SERVER_URL: options.mcpUrl,
    MCP_SERVER_NAME: 'Demo MCP server',
    OAUTH_CLIENT_ID: DEMO_CLIENT.client_id,
    OAUTH_CLIENT_SECRET: DEMO_CLIENT.client_secret,
    OAUTH_SCOPES: 'mcp:tools',
    SESSION_SECRET: DEMO_SESSION_SECRET,
    ALLOW_HTTP_LOOPBACK: '1',
    TOKEN_STORE: options.store,
    TOKEN_ENCRYPTION_KEYS: options.keys,
    // A test that stops an instance with a stream open does not wait the production default.
    SHUTDOWN_TIMEOUT_MS: '5000',
    ...options.extra,
  };
}

/**
 * @param options.built start the build with plain Node (`node scripts/serve.mjs`, what `pnpm serve`
 *   runs: the build must be fresh, see build-support.ts), serving the built SPA unless env says
 *   otherwise; by default bff/src/main.ts through tsx, without the SPA.
 */
/** A request's id (X-Request-Id of /healthz): its log line comes after every line logged before it. */
export async function requestIdOf(origin: string): Promise<string> {
  const res = await fetch(`${origin}/healthz`);
  await res.arrayBuffer();
  const id = res.headers.get('x-request-id');
  if (!id) throw new Error('no X-Request-Id on /healthz');
  return id;
}

export async function startBffProcess(env: Record<string, string>, options: { built?: boolean } = {}): Promise<BffProcess> {
  const args = options.built ? ['scripts/serve.mjs'] : ['--import', 'tsx', 'bff/src/main.ts'];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', ...(options.built ? {} : { STATIC_DIR: '' }), LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  let raw = '';
  let pending = '';
  child.stderr?.on('data', (d: Buffer) => {
    raw += d.toString();
  });
  child.stdout?.on('data', (d: Buffer) => {
    raw += d.toString();
    pending += d.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
  });
  const listening = () => logs.find((l) => l.event === 'listening');
  await until(() => listening() !== undefined || child.exitCode !== null, 30_000, 'the BFF to listen').catch(() => undefined);
  const port = listening()?.port;
  if (typeof port !== 'number') {
    child.kill('SIGKILL');
    throw new Error(`BFF did not start:\n${raw}`);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    logs,
    async logged(matches, what, timeoutMs = 5_000) {
      await until(() => logs.some(matches), timeoutMs, what);
      return logs.find(matches) as Record<string, unknown>;
    },
    async flushed() {
      const id = await requestIdOf(`http://127.0.0.1:${port}`);
      await until(() => logs.some((l) => l.reqId === id), 5_000, 'the log to catch up');
    },
    output: () => raw,
    async stop() {
      child.kill('SIGTERM');
      // main.ts exits within SHUTDOWN_TIMEOUT_MS (5 s in bffEnv); past that something is wrong, and
      // the test must not hang.
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited(child);
      clearTimeout(timer);
    },
    exitCode: () => child.exitCode,
    async kill() {
      child.kill('SIGKILL');
      await exited(child);
    },
  };
}
