import { writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_SESSION_SECRET, type Stack, startStack } from '../../demo/src/stack.js';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { createMetrics, startMetricsServer } from '../src/metrics.js';
import { MemoryTokenStore } from '../src/store/memory.js';
import { RedisTokenStore } from '../src/store/redis.js';
import { SqliteTokenStore } from '../src/store/sqlite.js';
import { refreshTiming, TokenManager } from '../src/oauth/tokens.js';
import { refreshLockName } from '../src/store/locks.js';
import type { TokenRecord, TokenStore } from '../src/store/types.js';
import { expireSoon, INITIALIZE, MCP_HEADERS, TestBrowser } from './support.js';
import { cipherFor, newKey, type RedisServer, startRedis, tempDir, until } from './vault-support.js';

/**
 * What an operator relies on: /readyz follows the token store (and a shutdown), /metrics counts what
 * really happened and is never public, and every failure carries the request id that its log lines
 * carry.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TOKEN = 'metrics-token-0123456789abcdef0123456789abcdef';

const baseEnv = {
  PUBLIC_URL: 'http://localhost:3000',
  ALLOW_HTTP_LOOPBACK: '1',
  MCP_SERVER_URL: 'http://127.0.0.1:9/mcp',
  SESSION_SECRET: DEMO_SESSION_SECRET,
};

function appWith(store: TokenStore, options: { env?: Record<string, string>; draining?: () => boolean } = {}) {
  const config = loadConfig({ ...baseEnv, ...options.env });
  return createApp({ config, store, log: createLogger('silent'), ...(options.draining ? { draining: options.draining } : {}) });
}

async function ready(app: ReturnType<typeof createApp>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await app.request('/readyz');
  expect(res.headers.get('cache-control')).toBe('no-store');
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The value of one sample in a Prometheus exposition, 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(match[3]);
  }
  return 0;
}

describe('/readyz', () => {
  it('memory: ready; /healthz stays liveness; draining: 503 "shutting down"', async () => {
    let draining = false;
    const app = appWith(new MemoryTokenStore(), { draining: () => draining });
    expect(await ready(app)).toEqual({ status: 200, body: { ready: true } });
    draining = true;
    const stopping = await ready(app);
    expect(stopping.status).toBe(503);
    expect(stopping.body).toMatchObject({ ready: false, reason: 'shutting down', requestId: expect.stringMatching(UUID) });
    // Liveness does not depend on readiness.
    expect((await app.request('/healthz')).status).toBe(200);
  });

  it('SQLite: ready while the file answers, 503 once it is closed', async () => {
    const dir = tempDir('readyz');
    const store = new SqliteTokenStore({ path: join(dir.path, 'bff.db'), cipher: cipherFor(newKey('k1')) });
    try {
      const app = appWith(store);
      expect(await ready(app)).toEqual({ status: 200, body: { ready: true } });
      await store.close();
      const down = await ready(app);
      expect(down.status).toBe(503);
      expect(down.body).toMatchObject({ ready: false, reason: 'token store unavailable' });
    } finally {
      await store.close();
      dir.remove();
    }
  });

  describe('Redis', () => {
    let redis: RedisServer;
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(() => redis?.close());

    it('ready while Redis answers; Redis stopped: 503 at once, counted as a store error; ready again when it is back', async () => {
      const store = new RedisTokenStore({ url: redis.url, cipher: cipherFor(newKey('k1')), commandTimeoutMs: 500 });
      try {
        expect(await store.connect()).toBe(true);
        const app = appWith(store, { env: { METRICS_TOKEN: TOKEN } });
        expect(await ready(app)).toEqual({ status: 200, body: { ready: true } });
        await redis.stop();
        const started = Date.now();
        const down = await ready(app);
        expect(down.status).toBe(503);
        expect(down.body).toMatchObject({ ready: false, reason: expect.stringMatching(/^token store (unavailable|did not answer in time)$/) });
        expect(Date.now() - started).toBeLessThan(2_000);
        // Counted as a store error, by operation.
        const metrics = await (await app.request('/metrics', { headers: { authorization: `Bearer ${TOKEN}` } })).text();
        expect(sample(metrics, 'mcp_bff_store_errors_total', { operation: 'ping' })).toBeGreaterThanOrEqual(1);
        await redis.start();
        await until(async () => (await ready(app)).status === 200, 10_000, 'ready again');
      } finally {
        await store.close();
      }
    }, 30_000);
  });
});

describe('/metrics', () => {
  let stack: Stack;
  const lines: string[] = [];
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    stack = await startStack({ env: { METRICS_TOKEN: TOKEN }, log: createLogger('info', sink) });
  });
  afterAll(() => stack?.close());

  const scrape = async () => {
    const res = await fetch(`${stack.appUrl}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return res.text();
  };

  it('is off by default: 404, not the SPA page', async () => {
    const spa = tempDir('spa');
    writeFileSync(join(spa.path, 'index.html'), '<!doctype html><title>app</title>');
    const plain = await startStack({ staticDir: spa.path });
    try {
      expect((await fetch(`${plain.appUrl}/elsewhere`)).status).toBe(200);
      const res = await fetch(`${plain.appUrl}/metrics`);
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ error: 'not_found', requestId: expect.stringMatching(UUID) });
    } finally {
      await plain.close();
      spa.remove();
    }
  });

  it('needs the bearer token: none or a wrong one is 401, and nothing is disclosed', async () => {
    for (const authorization of [undefined, 'Bearer wrong', `Bearer ${TOKEN}x`, `Basic ${TOKEN}`, TOKEN]) {
      const res = await fetch(`${stack.appUrl}/metrics`, authorization ? { headers: { authorization } } : {});
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
      expect(await res.text()).not.toMatch(/mcp_bff_|process_/);
    }
  });

  it('counts a real login, MCP calls, a refresh, an open stream and a failed login; labels are route patterns', async () => {
    const browser = new TestBrowser(stack.appUrl);
    await browser.login();
    const client = await browser.mcpClient();
    const tools = await client.listTools();
    expect(tools.tools.length).toBeGreaterThan(0);
    // The SDK keeps the standalone GET stream open: one SSE answer from the server.
    let text = '';
    await until(async () => {
      text = await scrape();
      return sample(text, 'mcp_bff_open_streams', { server: 'default' }) === 1;
    }, 10_000, 'an open stream to be counted');
    // Its access token about to expire: the next call refreshes it first.
    await expireSoon(stack, await browser.sessionId());
    await client.listTools();
    await client.close();
    const failed = await browser.request('/bff/login?server=nope&returnTo=/', { csrf: false });
    expect(failed.status).toBe(302);

    await until(async () => {
      text = await scrape();
      return sample(text, 'mcp_bff_open_streams', { server: 'default' }) === 0;
    }, 10_000, 'the closed stream to be uncounted');
    expect(sample(text, 'mcp_bff_logins_started_total', { server: 'default' })).toBe(1);
    expect(sample(text, 'mcp_bff_logins_completed_total', { server: 'default' })).toBe(1);
    expect(sample(text, 'mcp_bff_logins_failed_total', { code: 'authorization_failed' })).toBe(1);
    expect(sample(text, 'mcp_bff_token_refreshes_total', { server: 'default', outcome: 'ok' })).toBe(1);
    expect(sample(text, 'mcp_bff_http_requests_total', { route: '/mcp/:server', method: 'POST', status: '200' })).toBeGreaterThanOrEqual(3);
    expect(sample(text, 'mcp_bff_http_requests_total', { route: '/bff/login', method: 'GET', status: '302' })).toBe(2);
    expect(sample(text, 'mcp_bff_http_requests_total', { route: '/bff/callback/:server', method: 'GET', status: '200' })).toBe(1);
    expect(sample(text, 'mcp_bff_http_request_duration_seconds_count', { route: '/mcp/:server', method: 'POST' })).toBeGreaterThanOrEqual(3);
    expect(sample(text, 'mcp_bff_upstream_request_duration_seconds_count', { server: 'default', outcome: '2xx' })).toBeGreaterThanOrEqual(3);
    // Node's own process metrics come along.
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m);
    // No raw path, session or token in any label.
    expect(text).not.toMatch(/route="\/mcp\/default"|route="\/bff\/callback\/default"/);
    const sid = await browser.sessionId();
    expect(text).not.toContain(sid);
  });

  it('METRICS_PORT: a listener of its own on 127.0.0.1, /metrics only, with the token when one is set', async () => {
    const metrics = createMetrics();
    metrics.loginStarted('default');
    const open = await startMetricsServer({ port: 0, metrics, token: undefined, log: createLogger('silent') });
    const guarded = await startMetricsServer({ port: 0, metrics, token: TOKEN, log: createLogger('silent') });
    try {
      const res = await fetch(`http://127.0.0.1:${open.port}/metrics`);
      expect(res.status).toBe(200);
      expect(sample(await res.text(), 'mcp_bff_logins_started_total', { server: 'default' })).toBe(1);
      expect((await fetch(`http://127.0.0.1:${open.port}/`)).status).toBe(404);
      expect((await fetch(`http://127.0.0.1:${guarded.port}/metrics`)).status).toBe(401);
      expect((await fetch(`http://127.0.0.1:${guarded.port}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    } finally {
      await open.close();
      await guarded.close();
    }
  });

  it('METRICS_TOKEN and METRICS_PORT are checked at start', () => {
    expect(() => loadConfig({ ...baseEnv, METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN must be 32-256 visible characters/);
    expect(() => loadConfig({ ...baseEnv, METRICS_PORT: '70000' })).toThrow(/METRICS_PORT must be at most 65535/);
    expect(loadConfig(baseEnv).metrics).toEqual({ token: undefined, port: undefined });
  });

  it('request id: chosen by the BFF (a client’s is ignored), in the X-Request-Id header, the error body and the request’s log lines', async () => {
    const browser = new TestBrowser(stack.appUrl);
    const res = await browser.request('/mcp/nope', { method: 'POST', headers: { ...MCP_HEADERS, 'x-request-id': 'client-chosen' }, body: INITIALIZE });
    expect(res.status).toBe(404);
    const id = res.headers.get('x-request-id') as string;
    expect(id).toMatch(UUID);
    expect(await res.json()).toEqual({ error: 'not_found', message: 'No MCP server with that id.', requestId: id });
    const logged = lines
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged.filter((l) => l.event === 'request' && l.reqId === id)).toMatchObject([{ path: '/mcp/nope', status: 404 }]);
    expect(logged.some((l) => l.reqId === 'client-chosen')).toBe(false);

    // A failed login sends the browser back with the id of the request its log line names.
    const failed = await browser.request('/bff/login?server=nope&returnTo=/', { csrf: false });
    const location = new URL(failed.headers.get('location') as string, stack.appUrl);
    expect(location.searchParams.get('login_error')).toBe('authorization_failed');
    const ref = location.searchParams.get('login_ref');
    expect(ref).toBe(failed.headers.get('x-request-id'));
    await until(() => lines.join('').includes(`"reqId":"${ref}"`), 5_000, 'the request line');

    // A refused callback's page shows its reference.
    const refused = await browser.request('/bff/callback/default?code=x&state=y', { csrf: false });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain(`Reference: <code>${refused.headers.get('x-request-id')}</code>`);
  });
});

describe('refresh outcomes', () => {
  it('a refresh another instance holds the lock for, and finishes, counts as waited', async () => {
    const store = new MemoryTokenStore();
    // Tells when this instance found the refresh lock taken.
    let lockBusy!: () => void;
    const foundBusy = new Promise<void>((resolve) => {
      lockBusy = resolve;
    });
    const watched: TokenStore = Object.create(store);
    watched.acquireLock = async (name, ttlMs) => {
      const token = await store.acquireLock(name, ttlMs);
      if (!token) lockBusy();
      return token;
    };
    const metrics = createMetrics();
    const tokens = new TokenManager(watched, new Map(), createLogger('silent'), refreshTiming(2_000), metrics);
    const now = Date.now();
    await store.createSession({ id: 's1', createdAt: now, expiresAt: now + 3_600_000, idleExpiresAt: now + 3_600_000 });
    const stale: TokenRecord = {
      accessToken: 'old-access',
      refreshToken: 'old-refresh',
      scopes: [],
      issuedAt: now - 600_000,
      expiresAt: now + 1_000,
      issuer: 'https://as.example',
      clientId: 'client',
      resource: 'https://mcp.example/mcp',
      generation: 1,
    };
    await store.putConnection('s1', 'default', stale);
    const stored = (await store.getConnection('s1', 'default')) as TokenRecord;
    // Another instance is refreshing.
    const lockName = refreshLockName('s1', 'default');
    const held = (await store.acquireLock(lockName, 5_000)) as string;
    const access = tokens.getAccess('s1', 'default');
    await foundBusy;
    // It stores its tokens and lets go; this instance uses them.
    expect(await store.replaceConnection('s1', 'default', stored.generation, { ...stored, accessToken: 'new-access', issuedAt: Date.now(), expiresAt: Date.now() + 600_000 })).toBe(true);
    await store.releaseLock(lockName, held);
    expect(await access).toMatchObject({ kind: 'ok', record: { accessToken: 'new-access' } });
    const { body } = await metrics.render();
    expect(sample(body, 'mcp_bff_token_refreshes_total', { server: 'default', outcome: 'waited' })).toBe(1);
    expect(sample(body, 'mcp_bff_token_refreshes_total', { server: 'default', outcome: 'ok' })).toBe(0);
  });
});
