import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { listen } from '../../demo/src/listen.js';
import { createApp, nodeRequestListener } from '../src/app.js';
import { type Config, loadConfig } from '../src/config.js';
import { requestIdOf, until } from './vault-support.js';
import { createLogger } from '../src/log.js';
import { MemoryTokenStore } from '../src/store/memory.js';
import { TestBrowser } from './support.js';
import { startVariant, type Variant, type VariantOptions } from './variant-server.js';

/** Shared by the hostile-* tests: a BFF in front of a variant AS/MCP server, and ways to look at answers. */

/** Test-only, public in this repository. */
export const TEST_SESSION_SECRET = 'Zg24e+m7tmRMrqysmlWkLeyB/ffu5F5CEz900DVx/kPwRLthhpPLC7gqx1j0tovJ';

export interface VariantApp {
  variant: Variant;
  origin: string;
  port: number;
  /** The BFF's HTTP server (to watch requests arrive). */
  server: import('node:http').Server;
  store: MemoryTokenStore;
  config: Config;
  /** Every log line the BFF wrote (when started with a log level). */
  logs: string[];
  browser(): TestBrowser;
  close(): Promise<void>;
}

/**
 * AS and upstream timeouts short enough for a test of a hanging server to wait them out. Only such tests
 * pass these; the default (5 s) leaves a loaded machine room to answer a healthy server in time.
 */
export const SHORT_TIMEOUTS = { AUTH_SERVER_TIMEOUT_MS: '1000', UPSTREAM_TIMEOUT_MS: '1000' } as const;

/** A BFF in this process, on its own loopback port, in front of any MCP server. */
export type TestApp = Omit<VariantApp, 'variant'>;

/** A BFF (in this process, on its own loopback port) for the MCP server at `mcpUrl`; 5 s AS and upstream timeouts by default. */
export async function startApp(mcpUrl: string, env: Record<string, string> = {}, logLevel = 'silent'): Promise<TestApp> {
  const app = await listen(0, '127.0.0.1', 'localhost');
  const config = loadConfig({
    PUBLIC_URL: app.origin,
    MCP_SERVER_URL: mcpUrl,
    SESSION_SECRET: TEST_SESSION_SECRET,
    ALLOW_HTTP_LOOPBACK: '1',
    LOG_LEVEL: logLevel,
    TOKEN_STORE: 'memory',
    AUTH_SERVER_TIMEOUT_MS: '5000',
    UPSTREAM_TIMEOUT_MS: '5000',
    // These tests sign in hundreds of times a minute from 127.0.0.1; the limits themselves are tested
    // (hostile-load.test.ts) with numbers of their own.
    RATE_LIMIT_LOGIN: '100000',
    RATE_LIMIT_CALLBACK: '100000',
    ...env,
  });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const store = new MemoryTokenStore();
  app.handle(nodeRequestListener(createApp({ config, store, log: createLogger(logLevel, sink) })));
  return {
    origin: app.origin,
    port: app.port,
    server: app.server,
    store,
    config,
    logs,
    browser: () => new TestBrowser(app.origin),
    close: () => app.close(),
  };
}

/** A BFF for a variant server (see startApp). */
export async function startVariantApp(
  options: VariantOptions = {},
  env: Record<string, string> = {},
  logLevel = 'silent',
): Promise<VariantApp> {
  const variant = await startVariant(options);
  const app = await startApp(variant.url, env, logLevel);
  return {
    ...app,
    variant,
    async close() {
      await Promise.all([app.close(), variant.close()]);
    },
  };
}

/** /bff/login, the variant's authorize endpoint (it approves at once), and the redirect back: the callback URL. */
export async function authorizeAtVariant(browser: TestBrowser, returnTo = '/', rawReturnTo?: string): Promise<URL> {
  const login = await browser.request(`/bff/login?server=default&returnTo=${rawReturnTo ?? encodeURIComponent(returnTo)}`, { csrf: false });
  if (login.status !== 302) throw new Error(`login answered ${login.status}`);
  const authorize = await fetch(login.headers.get('location') as string, { redirect: 'manual' });
  if (authorize.status !== 302) throw new Error(`authorize answered ${authorize.status}`);
  return new URL(authorize.headers.get('location') as string);
}

/** A whole login at a variant server, ending with the completion's redirect. */
export async function loginAtVariant(browser: TestBrowser, returnTo = '/', rawReturnTo?: string): Promise<Response> {
  return browser.finishLogin(await authorizeAtVariant(browser, returnTo, rawReturnTo));
}

export function setCookieLine(res: Response, name: string): string | undefined {
  return res.headers.getSetCookie().find((l) => l.startsWith(`${name}=`));
}

/**
 * What a browser does with this Location must keep it on the app: a path (not scheme-relative, no
 * backslash a browser would read as a slash, no control characters it would strip) that resolves to
 * the app's origin.
 */
export function expectSameOriginPath(location: string | null, appOrigin: string): void {
  expect(location, 'a Location header').toBeTypeOf('string');
  const loc = location as string;
  expect(loc.startsWith('/'), `Location ${JSON.stringify(loc)} is a path`).toBe(true);
  expect(loc.startsWith('//'), `Location ${JSON.stringify(loc)} is not scheme-relative`).toBe(false);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for exactly these
  expect(/[\\\u0000-\u0020\u007F-\uFFFF]/.test(loc), `Location ${JSON.stringify(loc)} has only visible ASCII`).toBe(false);
  expect(new URL(loc, appOrigin).origin).toBe(appOrigin);
}

/**
 * An error answer: small, JSON (or a small HTML page), no stack trace, none of the `internal` values
 * (upstream and AS URLs), never cached.
 */
export async function expectCleanError(res: Response, status: number, error?: string, internal: string[] = []): Promise<void> {
  expect(res.status).toBe(status);
  expect(res.headers.get('cache-control')).toMatch(/no-store/);
  const text = await res.text();
  expect(text.length).toBeLessThan(2048);
  expect(text).not.toMatch(/\bat [\w.<>]+ \(|node:internal|node_modules|\/work\/|file:\/\/|\.ts:\d+|Error:|127\.0\.0\.1/);
  for (const value of internal) expect(text).not.toContain(value);
  if (res.headers.get('content-type')?.includes('json')) {
    const body = JSON.parse(text) as { error?: string };
    if (error) expect(body.error).toBe(error);
  } else {
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
  }
}

/**
 * Sends `text` as-is over a new TCP connection and collects everything until the server closes it or
 * `timeoutMs` passes. For what fetch() will not send: absolute-form targets, dot segments, odd Hosts.
 */
export function rawHttp(port: number, text: string, timeoutMs = 10_000): Promise<{ raw: string; status: number; headers: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let raw = '';
    let settled = false;
    const done = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);
      resolve({ raw, status, headers: raw.split('\r\n\r\n')[0] ?? '', closed });
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('connect', () => socket.write(text));
    socket.on('data', (d) => {
      raw += d.toString('latin1');
    });
    socket.on('end', () => done(true));
    socket.on('close', () => done(true));
    socket.on('error', () => done(true));
  });
}

export interface BffMain {
  url: string;
  port: number;
  pid: number;
  /** Raw stdout and stderr so far. */
  output(): string;
  /** Once every line logged before this call is in output() (the BFF writes its log in batches). */
  flushed(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * bff/src/main.ts in a child process (through tsx: what `pnpm serve` runs once built), on a free
 * loopback port. It exits within 5 s of stop() unless env says otherwise.
 */
export async function startBffMain(env: Record<string, string>): Promise<BffMain> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', 'bff/src/main.ts'], {
    cwd: root,
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', STATIC_DIR: '', LOG_LEVEL: 'info', TOKEN_STORE: 'memory', SHUTDOWN_TIMEOUT_MS: '5000', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let raw = '';
  child.stdout?.on('data', (d: Buffer) => {
    raw += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    raw += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`BFF did not start:\n${raw}`)), 30_000);
    const look = () => {
      const match = /"event":"listening".*?"port":(\d+)/.exec(raw);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout?.on('data', look);
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`BFF exited at start:\n${raw}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid as number,
    output: () => raw,
    async flushed() {
      const id = await requestIdOf(`http://127.0.0.1:${port}`);
      await until(() => raw.includes(`"reqId":"${id}"`), 5_000, 'the log to catch up');
    },
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Resident memory of a process, bytes (Linux). */
export function residentBytes(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
}
