import { getRequestListener } from '@hono/node-server';
import { Writable } from 'node:stream';
import { sealData, unsealData } from 'iron-session';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen } from '../../demo/src/listen.js';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { StoreUnavailable } from '../src/store/errors.js';
import { MemoryTokenStore } from '../src/store/memory.js';
import { expectCleanError, loginAtVariant, rawHttp, startVariantApp, TEST_SESSION_SECRET, type VariantApp } from './hostile-support.js';
import { MCP_HEADERS, rpc, TestBrowser } from './support.js';

/**
 * Every kind of failure the BFF answers: a small JSON body (or a small page for a navigation), no stack
 * trace, no internal URL or message from a library, never cached.
 */

let app: VariantApp;
beforeAll(async () => {
  app = await startVariantApp();
});
afterAll(() => app.close());

describe('API errors are small, generic JSON, never cached', () => {
  it('404, 405, 403, 401, 400, 413', async () => {
    const browser = app.browser();
    const internal = [app.variant.url, app.variant.issuer];
    const cases: Array<[Promise<Response>, number, string]> = [
      [browser.request('/bff/nope'), 404, 'not_found'],
      [browser.request('/mcp/unknown', { method: 'POST', headers: MCP_HEADERS, body: rpc('x') }), 404, 'not_found'],
      [browser.request('/mcp/default/deeper', { method: 'POST', headers: MCP_HEADERS, body: rpc('x') }), 404, 'not_found'],
      [browser.request('/nothing-here'), 404, 'not_found'],
      [browser.request('/mcp/default', { method: 'PUT', headers: MCP_HEADERS, body: '{}' }), 405, 'method_not_allowed'],
      [browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc('x'), csrf: false }), 403, 'csrf_failed'],
      [browser.request('/bff/session', { csrf: false }), 403, 'csrf_failed'],
      [browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list') }), 401, 'login_required'],
      [browser.request('/mcp/default?access_token=x', { method: 'POST', headers: MCP_HEADERS, body: rpc('x') }), 400, 'bad_request'],
      [browser.request('/mcp/default', { method: 'POST', headers: { ...MCP_HEADERS, 'mcp-session-id': 'a'.repeat(300) }, body: rpc('x') }), 400, 'bad_request'],
      [browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: 'x'.repeat(2 * 1024 * 1024) }), 413, 'payload_too_large'],
    ];
    for (const [pending, status, code] of cases) {
      const res = await pending;
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      await expectCleanError(res, status, code, internal);
    }
  });

  it('502 when the MCP server cannot be reached; 503 with Retry-After when the AS is down at refresh', async () => {
    const unreachable = await startVariantApp({}, { MCP_SERVER_URL: 'http://127.0.0.1:9/mcp' });
    try {
      const res = await unreachable.browser().request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc('x') });
      await expectCleanError(res, 502, 'upstream_unavailable', ['127.0.0.1:9', 'ECONNREFUSED']);
    } finally {
      await unreachable.close();
    }

    const browser = app.browser();
    expect((await loginAtVariant(browser)).status).toBe(302);
    const sealed = /mcp_session=([^;]+)/.exec(browser.jar.header(app.origin) ?? '')?.[1] as string;
    const { sid } = await unsealData<{ sid: string }>(sealed, { password: { 1: TEST_SESSION_SECRET } });
    const record = await app.store.getConnection(sid, 'default');
    await app.store.putConnection(sid, 'default', { ...(record as NonNullable<typeof record>), issuedAt: Date.now() - 600_000, expiresAt: Date.now() + 500 });
    app.variant.faults.refresh = 'status-500';
    try {
      const res = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc('x') });
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      await expectCleanError(res, 503, 'authorization_server_unavailable', [app.variant.issuer]);
    } finally {
      delete app.variant.faults.refresh;
    }
  });
});

describe('failures inside the BFF say nothing about themselves', () => {
  /** A BFF whose store fails with `error` on every session lookup. */
  async function withFailingStore(error: Error): Promise<{ browser: TestBrowser; logs: string[]; close: () => Promise<void> }> {
    const store = new MemoryTokenStore();
    const fail = async (): Promise<never> => {
      throw error;
    };
    store.getSession = fail;
    store.getSessionWithConnection = fail;
    const listening = await listen(0, '127.0.0.1', 'localhost');
    const config = loadConfig({
      PUBLIC_URL: listening.origin,
      MCP_SERVER_URL: app.variant.url,
      SESSION_SECRET: TEST_SESSION_SECRET,
      ALLOW_HTTP_LOOPBACK: '1',
      TOKEN_STORE: 'memory',
    });
    const logs: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        logs.push(String(chunk));
        done();
      },
    });
    listening.handle(getRequestListener(createApp({ config, store, log: createLogger('info', sink) }).fetch));
    // A session cookie, so that the store is asked.
    const cookie = await sealData({ sid: 'A'.repeat(43) }, { password: { 1: TEST_SESSION_SECRET }, ttl: 3600 });
    const browser = new TestBrowser(listening.origin);
    browser.jar.store(listening.origin, new Headers({ 'set-cookie': `mcp_session=${cookie}; Path=/` }));
    return { browser, logs, close: () => listening.close() };
  }

  it('an unexpected error: 500 internal_error with a fixed message; the details only in the log', async () => {
    const secretDetail = 'connect ECONNREFUSED /var/run/internal.sock password=hunter2';
    const failing = await withFailingStore(new Error(secretDetail));
    try {
      for (const [path, init] of [
        ['/bff/session', {}],
        ['/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc('x') }],
        ['/bff/logout', { method: 'POST' }],
      ] as const) {
        const res = await failing.browser.request(path, init);
        const body = await res.clone().json();
        expect(body).toEqual({ error: 'internal_error', message: 'Something went wrong.', requestId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
        await expectCleanError(res, 500, 'internal_error', ['ECONNREFUSED', 'internal.sock', 'hunter2']);
      }
      expect(failing.logs.join('')).toMatch(/"event":"unhandled_error"/);
    } finally {
      await failing.close();
    }
  });

  it('the store unreachable: 503 service_unavailable with Retry-After', async () => {
    const failing = await withFailingStore(new StoreUnavailable('redis at 10.0.0.5:6379 is down'));
    try {
      const res = await failing.browser.request('/bff/session');
      expect(res.headers.get('retry-after')).toBe('2');
      await expectCleanError(res, 503, 'service_unavailable', ['10.0.0.5', 'redis']);
    } finally {
      await failing.close();
    }
  });
});

describe('navigations get small pages or bare redirects', () => {
  it('a refused callback and a refused completion: small HTML pages with the strict CSP', async () => {
    for (const path of ['/bff/callback/default?code=x&state=y', '/bff/callback', '/bff/callback/complete']) {
      const res = await app.browser().request(path, { csrf: false });
      expect(res.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
      expect(res.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
      await expectCleanError(res, 400, undefined, [app.variant.issuer]);
    }
  });

  it('a login that cannot start: a redirect with a code and no body', async () => {
    const broken = await startVariantApp({ metadata: { code_challenge_methods_supported: ['plain'] } });
    try {
      const res = await broken.browser().request('/bff/login?server=default', { csrf: false });
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toMatch(/^\/\?login_error=pkce_unsupported&login_ref=[0-9a-f-]{36}$/);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(await res.text()).toBe('');
    } finally {
      await broken.close();
    }
  });

  it('requests Node or the adapter refuse (no Host, a bad absolute target): bare 400s', async () => {
    for (const text of [
      'GET /bff/session HTTP/1.1\r\nConnection: close\r\n\r\n',
      'GET http://[::1/bff/session HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
      'GET /bff/session HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n',
    ]) {
      const res = await rawHttp(app.port, text);
      expect(res.status).toBe(400);
      expect(res.raw).not.toMatch(/\bat .+\(|node:internal|Error:/);
    }
  });
});
