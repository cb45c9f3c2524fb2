import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Listening, listen } from '../../demo/src/listen.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { DISCOVERY_CACHE_MAX, Discovery } from '../src/oauth/discovery.js';
import { ClientResolver, MemoryClientRegistry } from '../src/oauth/registration.js';
import { loginAtVariant, setCookieLine, startApp, startVariantApp, TEST_SESSION_SECRET, type TestApp, type VariantApp } from './hostile-support.js';
import { INITIALIZE, MCP_HEADERS, rpc } from './support.js';
import { until } from './vault-support.js';

/**
 * Anonymous load (security issue #12, item 6): what one client without a login can make the BFF do —
 * start logins (discovery, registration), send its code to the token endpoint, forward to the MCP
 * server, open streams, create sessions — is bounded per client address, per session, or in time.
 * Against the running BFF on loopback; other client addresses are other loopback addresses
 * (127.0.0.2, …), which Linux routes to the same listener.
 */

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (closers.length) await closers.pop()?.();
});

async function variantApp(env: Record<string, string>, options: Parameters<typeof startVariantApp>[0] = {}, logLevel = 'silent'): Promise<VariantApp> {
  const app = await startVariantApp(options, env, logLevel);
  closers.push(app.close);
  return app;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request over a fresh connection from `from` (a loopback address) to the BFF, headers as given. */
function send(
  port: number,
  path: string,
  o: { from?: string; method?: string; headers?: Record<string, string>; body?: string; signal?: AbortSignal } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        method: o.method ?? 'GET',
        localAddress: o.from ?? '127.0.0.1',
        headers: { host: `localhost:${port}`, connection: 'close', ...o.headers },
        ...(o.signal ? { signal: o.signal } : {}),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

const login = (port: number, o: { from?: string; xff?: string; returnTo?: string } = {}) =>
  send(port, `/bff/login?server=default&returnTo=${encodeURIComponent(o.returnTo ?? '/')}`, {
    ...(o.from ? { from: o.from } : {}),
    ...(o.xff ? { headers: { 'x-forwarded-for': o.xff } } : {}),
  });

const anonymousPost = (port: number, body = rpc('tools/list'), from?: string) =>
  send(port, '/mcp/default', {
    method: 'POST',
    headers: { ...MCP_HEADERS, 'x-csrf': '1' },
    body,
    ...(from ? { from } : {}),
  });

/** Where a /bff/login answer sends the browser: the AS, or back to the app with a login error. */
function loginOutcome(answer: Answer, issuer: string): string {
  expect(answer.status).toBe(302);
  const location = answer.headers.location as string;
  if (location.startsWith(issuer)) return 'authorization_server';
  return new URL(location, 'http://app').searchParams.get('login_error') ?? location;
}

describe('per-address limits', () => {
  it('/bff/login past RATE_LIMIT_LOGIN: back to the app with login_error=rate_limited, before any cookie or AS request; other addresses go on', async () => {
    const app = await variantApp({ RATE_LIMIT_LOGIN: '3' }, { faults: { registration: 'status-500' } });
    const outcomes: string[] = [];
    for (let i = 0; i < 3; i++) outcomes.push(loginOutcome(await login(app.port), app.variant.issuer));
    // Registration fails (and that failure is remembered): the first three get the AS's error.
    expect(outcomes).toEqual(Array(3).fill('authorization_server_unavailable'));
    const asHits = { ...app.variant.hits };
    for (let i = 0; i < 5; i++) {
      const refused = await login(app.port, { returnTo: '/servers/default?tab=tools' });
      expect(loginOutcome(refused, app.variant.issuer)).toBe('rate_limited');
      // returnTo is kept, as for every login error; no login cookie is started.
      expect(new URL(refused.headers.location as string, 'http://app').pathname).toBe('/servers/default');
      expect(refused.headers['set-cookie']).toBeUndefined();
    }
    expect(app.variant.hits).toEqual(asHits);
    // Another client address has a budget of its own.
    expect(loginOutcome(await login(app.port, { from: '127.0.0.2' }), app.variant.issuer)).toBe('authorization_server_unavailable');
  });

  it('X-Forwarded-For is ignored by default: a new one per request does not buy a new budget', async () => {
    const app = await variantApp({ RATE_LIMIT_LOGIN: '3' }, {}, 'warn');
    const outcomes: string[] = [];
    for (let i = 0; i < 6; i++) outcomes.push(loginOutcome(await login(app.port, { xff: `198.51.100.${i}` }), app.variant.issuer));
    expect(outcomes).toEqual([...Array(3).fill('authorization_server'), ...Array(3).fill('rate_limited')]);
    // The operator is told once that a proxy seems to be in front, and how to name it; the refusals
    // are logged once per address and window, not once each.
    expect(app.logs.filter((l) => l.includes('"event":"forwarded_for_ignored"'))).toHaveLength(1);
    expect(app.logs.filter((l) => l.includes('"event":"rate_limited"'))).toHaveLength(1);
  });

  it('with TRUSTED_PROXIES, the client is the rightmost X-Forwarded-For hop the proxies did not add; entries left of it are not believed', async () => {
    const app = await variantApp({ RATE_LIMIT_LOGIN: '2', TRUSTED_PROXIES: '127.0.0.1, 10.0.0.0/8' });
    const outcome = async (o: { from?: string; xff?: string }) => loginOutcome(await login(app.port, o), app.variant.issuer);
    // Each client behind the proxy has its own budget.
    for (let i = 0; i < 4; i++) expect(await outcome({ xff: `198.51.100.${i}` })).toBe('authorization_server');
    // A client that writes its own X-Forwarded-For: the proxy appends the address it saw, which counts.
    const spoofed = [];
    for (let i = 0; i < 4; i++) spoofed.push(await outcome({ xff: `203.0.113.${i}, 192.0.2.7` }));
    expect(spoofed).toEqual(['authorization_server', 'authorization_server', 'rate_limited', 'rate_limited']);
    // Through two trusted proxies (the inner one in 10.0.0.0/8): the hop before them counts.
    expect(await outcome({ xff: '192.0.2.8, 10.1.2.3' })).toBe('authorization_server');
    expect(await outcome({ xff: '192.0.2.8, 10.1.2.3' })).toBe('authorization_server');
    expect(await outcome({ xff: '192.0.2.8, 10.9.9.9' })).toBe('rate_limited');
    // IPv6 clients count per /64: another address in the same /64 shares the budget.
    expect(await outcome({ xff: '2001:db8:1:2::1' })).toBe('authorization_server');
    expect(await outcome({ xff: '2001:db8:1:2:ffff::9' })).toBe('authorization_server');
    expect(await outcome({ xff: '2001:db8:1:2:abcd::1' })).toBe('rate_limited');
    expect(await outcome({ xff: '2001:db8:1:3::1' })).toBe('authorization_server');
    // A peer that is not a trusted proxy: its X-Forwarded-For is not read.
    expect(await outcome({ from: '127.0.0.3', xff: '198.51.100.50' })).toBe('authorization_server');
    expect(await outcome({ from: '127.0.0.3', xff: '198.51.100.51' })).toBe('authorization_server');
    expect(await outcome({ from: '127.0.0.3', xff: '198.51.100.52' })).toBe('rate_limited');
  });

  it('/bff/callback past RATE_LIMIT_CALLBACK: a 429 page with Retry-After; the code never reaches the token endpoint and the login cookie is kept', async () => {
    const app = await variantApp({ RATE_LIMIT_CALLBACK: '2' });
    const browser = app.browser();
    // Junk codes with a real state: without a limit, each of these is a token request as the BFF.
    const answers: Response[] = [];
    for (let i = 0; i < 5; i++) {
      const started = await browser.request('/bff/login?server=default&returnTo=%2F', { csrf: false });
      const authorization = new URL(started.headers.get('location') as string).searchParams;
      const callback = new URL(authorization.get('redirect_uri') as string);
      const query = new URLSearchParams({ code: `junk-${i}`, state: authorization.get('state') as string, iss: app.variant.issuer });
      answers.push(await browser.request(`${callback.pathname}?${query}`, { csrf: false }));
    }
    expect(answers.map((a) => a.status)).toEqual([302, 302, 429, 429, 429]);
    expect(app.variant.tokenRequests).toHaveLength(2);
    const refused = answers[4] as Response;
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect(refused.headers.get('content-type')).toMatch(/text\/html/);
    expect(await refused.text()).toContain('Too many sign-in attempts');
    // The login in progress is left alone: after the wait, the same callback can be loaded again.
    expect(setCookieLine(refused, 'mcp_login')).toBeUndefined();
    // Callbacks at redirect URIs of no configured server count too (each refusal is a log line).
    expect((await browser.request('/bff/callback?code=junk&state=junk', { csrf: false })).status).toBe(429);
    expect((await browser.request('/bff/callback/nowhere?code=junk&state=junk', { csrf: false })).status).toBe(429);
  });

  it('anonymous /mcp/* past RATE_LIMIT_ANONYMOUS_MCP: 429 rate_limited JSON with Retry-After, nothing upstream; a signed-in browser at the same address is not counted', async () => {
    const app = await variantApp({ RATE_LIMIT_ANONYMOUS_MCP: '3' });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await anonymousPost(app.port)).status);
    expect(statuses).toEqual([401, 401, 401]);
    const upstream = app.variant.hits.mcp;
    const refused = await anonymousPost(app.port);
    expect(refused.status).toBe(429);
    expect(JSON.parse(refused.body)).toEqual({ error: 'rate_limited', message: expect.any(String), requestId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers['cache-control']).toMatch(/no-store/);
    expect(refused.headers['set-cookie']).toBeUndefined();
    expect(app.variant.hits.mcp).toBe(upstream);

    // Connected use goes on, from the same address, however much of it there is.
    const browser = app.browser();
    await loginAtVariant(browser);
    for (let i = 0; i < 10; i++) {
      const res = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list') });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    expect((await anonymousPost(app.port)).status).toBe(429);
  });

  it('after Retry-After seconds the address has a new window (RATE_LIMIT_WINDOW_SECONDS)', async () => {
    const app = await variantApp({ RATE_LIMIT_ANONYMOUS_MCP: '1', RATE_LIMIT_WINDOW_SECONDS: '1' });
    expect((await anonymousPost(app.port)).status).toBe(401);
    const refused = await anonymousPost(app.port);
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('1');
    await new Promise((r) => setTimeout(r, 1_100));
    expect((await anonymousPost(app.port)).status).toBe(401);
  });

  it('an anonymous browser gets a session only when its MCP server hands out a session, and never from a refused request', async () => {
    const app = await variantApp({ RATE_LIMIT_ANONYMOUS_MCP: '3' }, { noAuth: true });
    const bound = vi.spyOn(app.store, 'bindMcpSession');
    const sessionCookie = (a: Answer) => [a.headers['set-cookie'] ?? []].flat().some((c) => c.startsWith('mcp_session='));
    // A call that opens no MCP session needs no BFF session.
    const plain = await anonymousPost(app.port, rpc('tools/list'));
    expect(plain.status).toBe(200);
    expect(plain.headers['set-cookie']).toBeUndefined();
    const answers: Answer[] = [];
    for (let i = 0; i < 10; i++) answers.push(await anonymousPost(app.port, INITIALIZE));
    expect(answers.map((a) => a.status)).toEqual([200, 200, ...Array(8).fill(429)]);
    // A session (and its cookie) and an MCP session binding for each admitted initialize; nothing for the rest.
    expect(answers.map(sessionCookie)).toEqual([true, true, ...Array(8).fill(false)]);
    expect(bound).toHaveBeenCalledTimes(2);
    expect(app.variant.mcpRequests).toHaveLength(3);
  });

  it('RATE_LIMIT_* = 0 turns a limit off', async () => {
    const app = await variantApp({ RATE_LIMIT_LOGIN: '0' });
    for (let i = 0; i < 40; i++) expect(loginOutcome(await login(app.port), app.variant.issuer)).toBe('authorization_server');
  });
});

describe('a failing registration endpoint', () => {
  it('is asked once, not at every /bff/login: its failure is remembered for a short time', async () => {
    const app = await variantApp({}, { faults: { registration: 'status-500' } });
    for (let i = 0; i < 10; i++) expect(loginOutcome(await login(app.port), app.variant.issuer)).toBe('authorization_server_unavailable');
    expect(app.variant.hits.registration).toBe(1);
    // A refusal (4xx) too.
    const refusing = await variantApp({}, { faults: { registration: 'html' } });
    for (let i = 0; i < 10; i++) expect(loginOutcome(await login(refusing.port), refusing.variant.issuer)).toBe('registration_failed');
    expect(refusing.variant.hits.registration).toBe(1);
  });

  it('is asked again once the remembered failure lapses', async () => {
    let registrations = 0;
    const policy = {
      allowHttpLoopback: true,
      timeoutMs: 1_000,
      fetch: (async () => {
        registrations++;
        return new Response('down', { status: 503 });
      }) as typeof fetch,
    };
    const resolver = new ClientResolver(
      new MemoryClientRegistry(),
      { publicUrl: 'http://localhost:3000', redirectUris: ['http://localhost:3000/bff/callback/default'], clientName: 'test' },
      policy,
      false,
      { registrationFailureTtlMs: 200 },
    );
    const server = { id: 'default', name: 'x', url: 'http://127.0.0.1:1/mcp', clientId: undefined, clientSecret: undefined, issuer: undefined, scopes: [], resourceIndicator: true, authorizationParams: {}, initialAccessToken: undefined, protocol: 'auto' as const };
    const as = { issuer: 'http://127.0.0.1:1', registration_endpoint: 'http://127.0.0.1:1/register' };
    for (let i = 0; i < 5; i++) await expect(resolver.resolve(server, as)).rejects.toMatchObject({ code: 'as_unavailable' });
    expect(registrations).toBe(1);
    await new Promise((r) => setTimeout(r, 250));
    await expect(resolver.resolve(server, as)).rejects.toMatchObject({ code: 'as_unavailable' });
    expect(registrations).toBe(2);
  });
});

describe('bounded caches', () => {
  it('discovery keeps at most DISCOVERY_CACHE_MAX documents of each kind, whatever the servers name', async () => {
    const fetch = (async (input: RequestInfo | URL) => {
      const url = new URL(String(input));
      if (url.pathname.startsWith('/prm/')) {
        return Response.json({ resource: 'http://127.0.0.1:9/mcp', authorization_servers: ['http://127.0.0.1:9'] });
      }
      const issuer = `${url.origin}${url.pathname.replace('/.well-known/oauth-authorization-server', '')}`;
      return Response.json({
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        code_challenge_methods_supported: ['S256'],
      });
    }) as typeof globalThis.fetch;
    const discovery = new Discovery({ allowHttpLoopback: true, timeoutMs: 1_000, fetch });
    for (let i = 0; i < 3 * DISCOVERY_CACHE_MAX; i++) {
      await discovery.protectedResource('http://127.0.0.1:9/mcp', `http://127.0.0.1:9/prm/${i}`);
      await discovery.authorizationServer(`http://127.0.0.1:9/tenant${i}`);
    }
    expect(discovery.cached).toEqual({ resources: DISCOVERY_CACHE_MAX, servers: DISCOVERY_CACHE_MAX });
  });
});

describe('open streams', () => {
  /** An MCP server without authorization whose GETs and `subscriptions/listen` POSTs are SSE streams that stay open. */
  async function streamingUpstream(): Promise<{ server: Listening; url: string; open: () => number; requests: () => number }> {
    const server = await listen(0, '127.0.0.1');
    closers.push(server.close);
    let open = 0;
    let requests = 0;
    server.handle((req, res) => {
      requests++;
      const chunks: Buffer[] = [];
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('end', () => {
        const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString()) as { method?: string; id?: number }) : {};
        if (req.method === 'GET' || body.method === 'subscriptions/listen') {
          open++;
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write(': open\n\n');
          res.on('close', () => open--);
          return;
        }
        const session = body.method === 'initialize' ? { 'mcp-session-id': `s-${requests}` } : {};
        res.writeHead(200, { 'content-type': 'application/json', ...session });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: body.id ?? 1, result: {} }));
      });
    });
    return { server, url: `${server.origin}/mcp`, open: () => open, requests: () => requests };
  }

  async function streamsApp(env: Record<string, string>) {
    const upstream = await streamingUpstream();
    const app: TestApp = await startApp(upstream.url, env);
    closers.push(app.close);
    return { upstream, app };
  }

  /** Opens a stream through the BFF; resolves once its headers are in, with how to close it. */
  async function openStream(app: TestApp, o: { headers?: Record<string, string>; method?: string; body?: string; from?: string } = {}) {
    const controller = new AbortController();
    const answer = await new Promise<{ status: number; headers: IncomingHttpHeaders; text: Promise<string> }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port: app.port,
          path: '/mcp/default',
          method: o.method ?? 'GET',
          localAddress: o.from ?? '127.0.0.1',
          headers: { host: `localhost:${app.port}`, 'x-csrf': '1', accept: 'text/event-stream, application/json', 'content-type': 'application/json', ...o.headers },
          signal: controller.signal,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          const done = new Promise<string>((r) => {
            res.on('data', (d: string) => {
              text += d;
            });
            res.on('end', () => r(text));
            res.on('close', () => r(text));
            res.on('error', () => r(text));
          });
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: done });
        },
      );
      req.on('error', (error) => {
        if (!controller.signal.aborted) reject(error);
      });
      req.end(o.body);
    });
    return { ...answer, close: () => controller.abort() };
  }

  it('MAX_STREAMS_PER_SESSION: the next GET or POST is 429 too_many_streams before it goes upstream; a stream the browser leaves, or the server ends, frees its slot', async () => {
    const { upstream, app } = await streamsApp({ MAX_STREAMS_PER_SESSION: '3' });
    // An anonymous browser gets a session when its MCP server hands out an MCP session.
    const browser = app.browser();
    const init = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: INITIALIZE });
    expect(init.status).toBe(200);
    const mcpSession = init.headers.get('mcp-session-id') as string;
    const cookie = browser.jar.header(app.origin) as string;
    expect(cookie).toMatch(/mcp_session=/);
    const headers = { cookie, 'mcp-session-id': mcpSession, 'mcp-protocol-version': '2025-11-25' };

    const streams = [
      await openStream(app, { headers }),
      await openStream(app, { headers }),
      await openStream(app, { headers, method: 'POST', body: rpc('subscriptions/listen') }),
    ];
    expect(streams.map((s) => s.status)).toEqual([200, 200, 200]);
    await until(() => upstream.open() === 3, 5_000, 'three upstream streams');
    const before = upstream.requests();
    const refused = await openStream(app, { headers });
    expect(refused.status).toBe(429);
    expect(JSON.parse(await refused.text)).toMatchObject({ error: 'too_many_streams' });
    const refusedPost = await openStream(app, { headers, method: 'POST', body: rpc('tools/list') });
    expect(refusedPost.status).toBe(429);
    expect(upstream.requests()).toBe(before);

    // The browser goes away from one: its slot is free again.
    streams[0]?.close();
    await until(() => upstream.open() === 2, 5_000, 'the left stream to close upstream');
    const again = await until200(() => openStream(app, { headers }));
    expect(again.status).toBe(200);
    // Still three open: full again.
    expect((await openStream(app, { headers })).status).toBe(429);
    // Other sessions, and anonymous requests, do not share this session's slots.
    const anonymous = await openStream(app);
    expect(anonymous.status).toBe(200);
    for (const s of [...streams, again, anonymous]) s.close();
    await until(() => upstream.open() === 0, 5_000, 'every stream to close');
  });

  it('MAX_ANONYMOUS_STREAMS_PER_ADDRESS: requests without a session are counted per client address', async () => {
    const { upstream, app } = await streamsApp({ MAX_ANONYMOUS_STREAMS_PER_ADDRESS: '2' });
    const a = [await openStream(app), await openStream(app)];
    expect(a.map((s) => s.status)).toEqual([200, 200]);
    expect((await openStream(app)).status).toBe(429);
    // 2026-07-28 subscriptions are POSTs whose answer is the stream: refused too.
    expect((await openStream(app, { method: 'POST', body: rpc('subscriptions/listen') })).status).toBe(429);
    // Another address has its own.
    const b = await openStream(app, { from: '127.0.0.2' });
    expect(b.status).toBe(200);
    await until(() => upstream.open() === 3, 5_000, 'three upstream streams');
    for (const s of [...a, b]) s.close();
    await until(() => upstream.open() === 0, 5_000, 'every stream to close upstream');
    // Every slot is free once every stream is closed.
    const c = [await until200(() => openStream(app)), await until200(() => openStream(app))];
    for (const s of c) s.close();
  });

  it('a stream the MCP server ends frees its slot', async () => {
    const server = await listen(0, '127.0.0.1');
    closers.push(server.close);
    server.handle((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': hello\n\n');
      setTimeout(() => res.end(), 100);
    });
    const app = await startApp(`${server.origin}/mcp`, { MAX_ANONYMOUS_STREAMS_PER_ADDRESS: '1' });
    closers.push(app.close);
    for (let i = 0; i < 5; i++) {
      const res = await until200(() => openStream(app));
      expect(await res.text).toContain(': hello');
    }
  });
});

/** Retries while the answer is 429 (a slot is given back a moment after the close is seen upstream). */
async function until200<T extends { status: number }>(attempt: () => Promise<T>): Promise<T> {
  let last = await attempt();
  for (let i = 0; i < 50 && last.status === 429; i++) {
    await new Promise((r) => setTimeout(r, 20));
    last = await attempt();
  }
  return last;
}

describe('configuration', () => {
  const base = {
    PUBLIC_URL: 'http://localhost:3000',
    MCP_SERVER_URL: 'http://127.0.0.1:4100/mcp',
    SESSION_SECRET: TEST_SESSION_SECRET,
    ALLOW_HTTP_LOOPBACK: '1',
  };

  it('defaults: limits on, X-Forwarded-For not trusted', () => {
    const config = loadConfig(base);
    expect(config.rateLimits).toEqual({ windowSeconds: 60, login: 30, callback: 30, anonymousMcp: 600, backchannelLogout: 120 });
    expect(config.trustedProxies).toEqual([]);
    expect(config.maxStreamsPerSession).toBe(8);
    expect(config.maxAnonymousStreamsPerAddress).toBe(32);
  });

  it('lists every bad limit and every bad TRUSTED_PROXIES entry at once', () => {
    let problems: string[] = [];
    try {
      loadConfig({
        ...base,
        RATE_LIMIT_LOGIN: '-1',
        RATE_LIMIT_WINDOW_SECONDS: '0',
        RATE_LIMIT_ANONYMOUS_MCP: 'many',
        MAX_STREAMS_PER_SESSION: '0',
        TRUSTED_PROXIES: '10.0.0.1, proxy.internal, 10.0.0.0/33, ::1/129, 192.168.0.0/16',
      });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      problems = (error as ConfigError).problems;
    }
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('RATE_LIMIT_LOGIN must be at least 0'),
        expect.stringContaining('RATE_LIMIT_WINDOW_SECONDS must be at least 1'),
        expect.stringContaining('RATE_LIMIT_ANONYMOUS_MCP must be a number'),
        expect.stringContaining('MAX_STREAMS_PER_SESSION must be at least 1'),
        expect.stringContaining('TRUSTED_PROXIES entry 2 ("proxy.internal")'),
        expect.stringContaining('TRUSTED_PROXIES entry 3 ("10.0.0.0/33")'),
        expect.stringContaining('TRUSTED_PROXIES entry 4 ("::1/129")'),
      ]),
    );
    expect(problems.filter((p) => p.includes('TRUSTED_PROXIES'))).toHaveLength(3);
  });
});
