import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CookieJar } from '../../demo/src/cookie-jar.js';
import { loginThroughForms } from '../../demo/src/login-driver.js';
import { DEMO_CLIENT, DEMO_SESSION_SECRET, type Stack, startStack } from '../../demo/src/stack.js';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { BACKCHANNEL_LOGOUT_EVENT } from '../src/oauth/logout-token.js';
import { endedBy } from '../src/routes/backchannel-logout.js';
import { RedisTokenStore } from '../src/store/redis.js';
import type { StoredSession, TokenRecord } from '../src/store/types.js';
import { INITIALIZE, MCP_HEADERS, rpc, TestBrowser } from './support.js';
import { cipherFor, newKey, type RedisServer, startRedis } from './vault-support.js';

/**
 * OpenID Connect Back-Channel Logout 1.0 against a running BFF: the real demo authorization server
 * (oidc-provider with backchannelLogout) posts a logout token when a person signs out there, and the
 * BFF ends that person's sessions. Faults the real AS cannot produce (a wrong audience, a replayed jti,
 * missing events...) are tokens signed here with a test key, which the BFF is shown as the AS's JWKS.
 */

const OPENID = { OAUTH_SCOPES: 'openid mcp:tools' };

/** A tools/list through the BFF with this browser's cookie: its status and error code, if any. */
async function mcpCall(browser: TestBrowser): Promise<{ status: number; error?: string }> {
  const res = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list') });
  const text = await res.text();
  if (res.status === 200) return { status: 200 };
  return { status: res.status, error: (JSON.parse(text) as { error?: string }).error };
}

/** Opens an MCP session through the BFF and lists tools: the connection works. */
async function connectedCall(browser: TestBrowser): Promise<number> {
  const client = await browser.mcpClient();
  const { tools } = await client.listTools();
  await client.close();
  return tools.length;
}

async function postLogoutToken(appUrl: string, body: string, contentType = 'application/x-www-form-urlencoded'): Promise<Response> {
  return fetch(`${appUrl}/bff/backchannel-logout`, { method: 'POST', headers: { 'content-type': contentType }, body });
}

/** Follows the AS's redirects within its origin (its cookies in `jar`) to the first page it shows. */
async function firstPage(start: string, jar: CookieJar): Promise<{ url: URL; html: string }> {
  let url = new URL(start);
  for (let step = 0; step < 10; step++) {
    const cookie = jar.header(url);
    const res = await fetch(url, { headers: cookie ? { cookie } : {}, redirect: 'manual' });
    jar.store(url, res.headers);
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      await res.body?.cancel();
      url = new URL(location, url);
      continue;
    }
    expect(res.status).toBe(200);
    return { url, html: await res.text() };
  }
  throw new Error('too many redirects');
}

/**
 * Signs out at the AS as the person would, in their browser (its AS cookies): the AS's own sign-out page
 * (end_session_endpoint), "Yes, sign me out". The AS has posted its logout tokens before it answers.
 */
async function signOutAtAuthorizationServer(stack: Stack, browser: TestBrowser): Promise<void> {
  const page = await firstPage(`${stack.issuer}/session/end?client_id=mcp-bff-demo`, browser.asJar);
  const form = /<form\b[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/.exec(page.html);
  if (!form) throw new Error(`no sign-out form: ${page.html.slice(0, 300)}`);
  const action = new URL((form[1] as string).replaceAll('&amp;', '&'), page.url);
  const body = new URLSearchParams([...(form[2] as string).matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1] as string, m[2] as string]));
  body.set('logout', 'yes');
  const cookie = browser.asJar.header(action);
  const res = await fetch(action, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
    body,
    redirect: 'manual',
  });
  await res.body?.cancel();
  expect(res.status).toBe(303);
}

describe('a sign-out at the authorization server ends the BFF sessions of that login', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: OPENID });
  });
  afterAll(() => stack.close());

  it('oidc-provider posts a logout token; the next MCP call of that browser is refused, another person is not touched', async () => {
    const alice = new TestBrowser(stack.appUrl);
    const bob = new TestBrowser(stack.appUrl);
    await alice.login();
    await bob.login({ user: 'bob' });
    expect((await stack.store.getConnection(await alice.sessionId(), 'default'))?.subject).toBe('alice');
    expect(await connectedCall(alice)).toBeGreaterThan(0);
    const revocationsBefore = stack.as.revocations.length;

    await signOutAtAuthorizationServer(stack, alice);

    expect(stack.as.backchannelLogouts).toEqual([{ clientId: 'mcp-bff-demo', sub: 'alice', ok: true }]);
    expect(await mcpCall(alice)).toEqual({ status: 401, error: 'login_required' });
    expect(await alice.session()).toMatchObject({ authenticated: false });
    expect(await stack.store.getSession(await alice.sessionId())).toBeUndefined();
    // Its tokens were revoked at the AS too, as a logout in the app does.
    expect(stack.as.revocations.length).toBeGreaterThan(revocationsBefore);
    // Bob's session, at the same AS, goes on.
    expect(await connectedCall(bob)).toBeGreaterThan(0);
  });

  it('a logout token signed with a key the AS does not publish is refused (400), and ends nothing', async () => {
    const bob = new TestBrowser(stack.appUrl);
    await bob.login({ user: 'bob' });
    const { privateKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT({ events: { [BACKCHANNEL_LOGOUT_EVENT]: {} }, sub: 'bob', jti: randomUUID() })
      .setProtectedHeader({ alg: 'RS256', typ: 'logout+jwt', kid: 'not-the-as-key' })
      .setIssuer(stack.issuer)
      .setAudience('mcp-bff-demo')
      .setIssuedAt()
      .setExpirationTime('2m')
      .sign(privateKey);
    const res = await postLogoutToken(stack.appUrl, new URLSearchParams({ logout_token: forged }).toString());
    expect(res.status).toBe(400);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual({ error: 'invalid_request', error_description: 'signed with a key the authorization server does not publish' });
    expect(await connectedCall(bob)).toBeGreaterThan(0);
  });

  it('the client metadata document advertises the backchannel_logout_uri, sid not required', async () => {
    const res = await fetch(`${stack.appUrl}/bff/oauth-client.json`);
    expect(await res.json()).toMatchObject({
      backchannel_logout_uri: `${stack.appUrl}/bff/backchannel-logout`,
      backchannel_logout_session_required: false,
    });
  });
});

describe('a login without openid', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack.close());

  it('has no ID token, and is named by the sub of its JWT access token: the sign-out at the AS ends it too', async () => {
    const alice = new TestBrowser(stack.appUrl);
    await alice.login();
    const record = await stack.store.getConnection(await alice.sessionId(), 'default');
    expect(record?.idToken).toBeUndefined();
    expect(record?.subject).toBeUndefined();
    await signOutAtAuthorizationServer(stack, alice);
    expect(stack.as.backchannelLogouts).toEqual([{ clientId: 'mcp-bff-demo', sub: 'alice', ok: true }]);
    expect(await mcpCall(alice)).toEqual({ status: 401, error: 'login_required' });
  });
});

describe('two instances on one Redis store', () => {
  let redis: RedisServer;
  let stack: Stack;
  let second: RedisTokenStore;
  let otherInstance: ReturnType<typeof createApp>;
  const key = newKey('k1');
  beforeAll(async () => {
    redis = await startRedis();
    const first = new RedisTokenStore({ url: redis.url, cipher: cipherFor(key) });
    second = new RedisTokenStore({ url: redis.url, cipher: cipherFor(key) });
    stack = await startStack({ store: first, env: OPENID });
    // Another instance with the same configuration and its own store client and caches.
    const config = loadConfig({
      PUBLIC_URL: stack.appUrl,
      MCP_SERVER_URL: stack.mcpUrl,
      MCP_SERVER_NAME: 'Demo MCP server',
      OAUTH_CLIENT_ID: DEMO_CLIENT.client_id,
      OAUTH_CLIENT_SECRET: DEMO_CLIENT.client_secret,
      SESSION_SECRET: DEMO_SESSION_SECRET,
      ALLOW_HTTP_LOOPBACK: '1',
      ...OPENID,
    });
    otherInstance = createApp({ config, store: second, log: createLogger('silent') });
  });
  afterAll(async () => {
    await stack.close();
    await Promise.all([stack.store.close(), second.close()]);
    await redis.close();
  });

  /** An MCP initialize the browser sends to the other instance (its cookie, the app's origin). */
  async function callOther(browser: TestBrowser): Promise<number> {
    const res = await otherInstance.fetch(
      new Request(`${stack.appUrl}/mcp/default`, {
        method: 'POST',
        headers: { ...MCP_HEADERS, 'x-csrf': '1', cookie: browser.jar.header(new URL(stack.appUrl)) ?? '' },
        body: INITIALIZE,
      }),
    );
    await res.text();
    return res.status;
  }

  it('the logout token reaches one instance; the other, which had just served the session, refuses it too', async () => {
    const alice = new TestBrowser(stack.appUrl);
    await alice.login();
    // The other instance has served this session: whatever it keeps in memory, it has seen it.
    expect(await callOther(alice)).toBe(200);
    expect(await callOther(alice)).toBe(200);
    await signOutAtAuthorizationServer(stack, alice);
    expect(stack.as.backchannelLogouts).toEqual([{ clientId: 'mcp-bff-demo', sub: 'alice', ok: true }]);
    expect(await callOther(alice)).toBe(401);
    expect(await mcpCall(alice)).toEqual({ status: 401, error: 'login_required' });
  });
});

describe('a dynamic registration names the backchannel_logout_uri', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ secondServer: true });
  });
  afterAll(() => stack.close());

  it('the AS stores it with the client the BFF registered', async () => {
    const browser = new TestBrowser(stack.appUrl);
    await browser.login();
    const notes = await browser.request('/bff/login?server=notes&returnTo=/', { csrf: false });
    await browser.finishLogin(await loginThroughForms(notes.headers.get('location') as string, 'alice', 'alice-demo-password', 'allow', new TestBrowser(stack.appUrl).asJar));
    const second = stack.second as NonNullable<Stack['second']>;
    const registered = await second.as.provider.Client.find(second.as.registrations[0]?.clientId as string);
    expect(registered?.backchannelLogoutUri).toBe(`${stack.appUrl}/bff/backchannel-logout`);
    expect(registered?.backchannelLogoutSessionRequired).toBe(false);
  });
});

describe('logout tokens the BFF refuses', () => {
  let stack: Stack;
  let key: CryptoKey;
  let jwk: JWK;
  // A fault the real AS cannot produce: its key set, as the BFF fetches it, is a test key's.
  const outboundFetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.pathname === '/jwks') return Response.json({ keys: [jwk] });
    return fetch(input, init);
  }) as typeof fetch;

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    key = pair.privateKey;
    jwk = { ...(await exportJWK(pair.publicKey)), kid: 'test-key', alg: 'ES256', use: 'sig' };
    stack = await startStack({ env: OPENID, outboundFetch });
  });
  afterAll(() => stack.close());

  async function sign(claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: stack.issuer, aud: 'mcp-bff-demo', iat: now, exp: now + 120, jti: randomUUID(), events: { [BACKCHANNEL_LOGOUT_EVENT]: {} }, ...claims })
      .setProtectedHeader({ alg: 'ES256', kid: 'test-key', typ: 'logout+jwt', ...header })
      .sign(key);
  }

  async function post(token: string): Promise<{ status: number; body: unknown }> {
    const res = await postLogoutToken(stack.appUrl, new URLSearchParams({ logout_token: token }).toString());
    expect(res.headers.get('cache-control')).toBe('no-store');
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }

  const refused = (description: string) => ({ status: 400, body: { error: 'invalid_request', error_description: description } });

  async function loggedIn(user: string): Promise<TestBrowser> {
    const browser = new TestBrowser(stack.appUrl);
    await browser.login({ user });
    return browser;
  }

  it('a valid one ends the sessions of that subject only; the same token again is refused (jti single use)', async () => {
    const alice1 = await loggedIn('alice');
    const alice2 = await loggedIn('alice');
    const bob = await loggedIn('bob');
    const token = await sign({ sub: 'alice' });
    expect(await post(token)).toEqual({ status: 200, body: undefined });
    expect(await mcpCall(alice1)).toEqual({ status: 401, error: 'login_required' });
    expect(await mcpCall(alice2)).toEqual({ status: 401, error: 'login_required' });
    expect(await connectedCall(bob)).toBeGreaterThan(0);

    const alice3 = await loggedIn('alice');
    expect(await post(token)).toEqual(refused('jti already used'));
    expect(await connectedCall(alice3)).toBeGreaterThan(0);
  });

  it('by sid: only the session of that login at the AS', async () => {
    const first = await loggedIn('alice');
    const second = await loggedIn('alice');
    // The demo client does not ask for sid in ID tokens: the record says what a login with one would hold.
    const record = (await stack.store.getConnection(await first.sessionId(), 'default')) as TokenRecord;
    await stack.store.putConnection(await first.sessionId(), 'default', { ...record, authSessionId: 'as-session-1' });
    const other = (await stack.store.getConnection(await second.sessionId(), 'default')) as TokenRecord;
    await stack.store.putConnection(await second.sessionId(), 'default', { ...other, authSessionId: 'as-session-2' });
    expect(await post(await sign({ sid: 'as-session-1' }))).toEqual({ status: 200, body: undefined });
    expect(await mcpCall(first)).toEqual({ status: 401, error: 'login_required' });
    expect(await connectedCall(second)).toBeGreaterThan(0);
  });

  it('no session matching is still a success', async () => {
    expect(await post(await sign({ sub: 'nobody-here' }))).toEqual({ status: 200, body: undefined });
  });

  const cases: Array<[string, () => Promise<string>, string]> = [
    ['wrong audience', () => sign({ sub: 'bob', aud: 'someone-else' }), 'aud is not this BFF’s client at that authorization server'],
    ['no events', () => sign({ sub: 'bob', events: undefined }), 'events missing'],
    ['events without the logout event', () => sign({ sub: 'bob', events: { 'http://schemas.openid.net/event/other': {} } }), 'events has no back-channel logout event'],
    ['expired', () => sign({ sub: 'bob', iat: Math.floor(Date.now() / 1000) - 3600, exp: Math.floor(Date.now() / 1000) - 3000 }), 'expired'],
    ['issued too long ago', () => sign({ sub: 'bob', iat: Math.floor(Date.now() / 1000) - 3600, exp: undefined }), 'issued too long ago'],
    ['issued in the future', () => sign({ sub: 'bob', iat: Math.floor(Date.now() / 1000) + 3600 }), 'claim check failed: iat (check_failed)'],
    ['without iat', () => sign({ sub: 'bob', iat: undefined }), 'claim check failed: iat (missing)'],
    ['with a nonce', () => sign({ sub: 'bob', nonce: 'n' }), 'a logout token has no nonce'],
    ['neither sub nor sid', () => sign({}), 'neither sub nor sid'],
    ['without jti', () => sign({ sub: 'bob', jti: undefined }), 'jti missing'],
    ['typed as something else', () => sign({ sub: 'bob' }, { typ: 'JWT' }), 'typ must be logout+jwt, not "JWT"'],
    ['from an issuer the BFF does not use', () => sign({ sub: 'bob', iss: 'https://elsewhere.example' }), 'iss is not an authorization server this BFF uses'],
    ['with a tampered payload', async () => {
      const [h, , s] = (await sign({ sub: 'carol' })).split('.');
      const payload = Buffer.from(JSON.stringify({ iss: stack.issuer, aud: 'mcp-bff-demo', sub: 'bob', iat: Math.floor(Date.now() / 1000), jti: 'x', events: { [BACKCHANNEL_LOGOUT_EVENT]: {} } })).toString('base64url');
      return `${h}.${payload}.${s}`;
    }, 'signature does not verify'],
    ['unsigned (alg none)', async () => {
      const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
      return `${enc({ alg: 'none', typ: 'logout+jwt' })}.${enc({ iss: stack.issuer, aud: 'mcp-bff-demo', sub: 'bob', iat: Math.floor(Date.now() / 1000), jti: 'y', events: { [BACKCHANNEL_LOGOUT_EVENT]: {} } })}.`;
    }, 'alg is not an accepted signature algorithm'],
    ['not a JWT', async () => 'not-a-jwt', 'logout_token is not a signed JWT'],
  ];
  for (const [what, token, reason] of cases) {
    it(`refuses one ${what} (400: ${reason}) and ends nothing`, async () => {
      const bob = await loggedIn('bob');
      expect(await post(await token())).toEqual(refused(reason));
      expect(await connectedCall(bob)).toBeGreaterThan(0);
    });
  }

  it('refuses a body that is not a form with exactly one logout_token', async () => {
    const token = await sign({ sub: 'bob' });
    const json = await postLogoutToken(stack.appUrl, JSON.stringify({ logout_token: token }), 'application/json');
    expect(json.status).toBe(400);
    expect(await json.json()).toMatchObject({ error: 'invalid_request', error_description: 'expected an application/x-www-form-urlencoded body' });
    const twice = await postLogoutToken(stack.appUrl, new URLSearchParams([['logout_token', token], ['logout_token', token]]).toString());
    expect(await twice.json()).toMatchObject({ error_description: 'expected exactly one logout_token' });
    const big = await postLogoutToken(stack.appUrl, `logout_token=${'a'.repeat(100_000)}`);
    expect(big.status).toBe(400);
    expect(await big.json()).toMatchObject({ error_description: 'request body too large' });
  });
});

describe('an authorization server that cannot be reached for its keys', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: OPENID });
  });
  afterAll(async () => {
    await stack.startAuthServer();
    await stack.close();
  });

  it('is answered 503 (nothing decided, it may try again), and the session is kept', async () => {
    const bob = new TestBrowser(stack.appUrl);
    await bob.login({ user: 'bob' });
    await stack.stopAuthServer();
    const { privateKey } = await generateKeyPair('ES256');
    const token = await new SignJWT({ events: { [BACKCHANNEL_LOGOUT_EVENT]: {} }, sub: 'bob', jti: randomUUID() })
      .setProtectedHeader({ alg: 'ES256', kid: 'k' })
      .setIssuer(stack.issuer)
      .setAudience('mcp-bff-demo')
      .setIssuedAt()
      .sign(privateKey);
    const res = await postLogoutToken(stack.appUrl, new URLSearchParams({ logout_token: token }).toString());
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: 'temporarily_unavailable' });
    expect(await stack.store.getSession(await bob.sessionId())).toBeDefined();
  });
});

describe('an MCP server whose metadata cannot be had', () => {
  let stack: Stack;
  // A fault: the protected resource metadata, which says which AS the server uses, does not load.
  const outboundFetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.pathname.startsWith('/.well-known/oauth-protected-resource')) throw new TypeError('fetch failed');
    return fetch(input, init);
  }) as typeof fetch;
  beforeAll(async () => {
    stack = await startStack({ env: OPENID, outboundFetch });
  });
  afterAll(() => stack.close());

  it('leaves it undecided whether the issuer is one of its servers: 503, not a refusal as foreign', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const token = await new SignJWT({ events: { [BACKCHANNEL_LOGOUT_EVENT]: {} }, sub: 'bob', jti: randomUUID() })
      .setProtectedHeader({ alg: 'ES256', kid: 'k' })
      .setIssuer(stack.issuer)
      .setAudience('mcp-bff-demo')
      .setIssuedAt()
      .sign(privateKey);
    const res = await postLogoutToken(stack.appUrl, new URLSearchParams({ logout_token: token }).toString());
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: 'temporarily_unavailable' });
  });
});

describe('the endpoint is rate limited per address', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { RATE_LIMIT_BACKCHANNEL_LOGOUT: '2' } });
  });
  afterAll(() => stack.close());

  it('answers 429 with Retry-After once the budget is spent', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await postLogoutToken(stack.appUrl, 'logout_token=junk')).status);
    expect(statuses).toEqual([400, 400, 429]);
    const limited = await postLogoutToken(stack.appUrl, 'logout_token=junk');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('which sessions a logout token names', () => {
  const record = (over: Partial<TokenRecord>): TokenRecord => ({
    accessToken: 'a',
    refreshToken: undefined,
    scopes: [],
    issuedAt: 0,
    expiresAt: undefined,
    issuer: 'https://as.example',
    clientId: 'c',
    resource: 'https://mcp.example',
    generation: 0,
    ...over,
  });
  const session = (...records: TokenRecord[]): StoredSession => ({
    key: 'k',
    createdAt: 0,
    expiresAt: 1,
    idleExpiresAt: 1,
    connections: new Map(records.map((r, i) => [`s${i}`, r])),
  });
  const iss = 'https://as.example';

  it('matches by sub at that issuer only, by sid, and by sub when the login recorded no sid', () => {
    expect(endedBy({ issuer: iss, subject: 'alice', sid: undefined })(session(record({ subject: 'alice' })))).toBe(true);
    expect(endedBy({ issuer: iss, subject: 'alice', sid: undefined })(session(record({ subject: 'bob' })))).toBe(false);
    expect(endedBy({ issuer: 'https://other.example', subject: 'alice', sid: undefined })(session(record({ subject: 'alice' })))).toBe(false);
    expect(endedBy({ issuer: iss, subject: undefined, sid: 's1' })(session(record({ subject: 'alice', authSessionId: 's1' })))).toBe(true);
    expect(endedBy({ issuer: iss, subject: undefined, sid: 's1' })(session(record({ subject: 'alice', authSessionId: 's2' })))).toBe(false);
    expect(endedBy({ issuer: iss, subject: undefined, sid: 's1' })(session(record({ subject: 'alice' })))).toBe(false);
    expect(endedBy({ issuer: iss, subject: 'alice', sid: 's1' })(session(record({ subject: 'alice' })))).toBe(true);
    expect(endedBy({ issuer: iss, subject: 'alice', sid: 's1' })(session(record({ subject: 'alice', authSessionId: 's2' })))).toBe(false);
    // A connection made without openid recorded no subject: its JWT access token's sub names it, an
    // opaque one nothing.
    expect(endedBy({ issuer: iss, subject: 'alice', sid: undefined })(session(record({})))).toBe(false);
    const jwt = (claims: object) => `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;
    expect(endedBy({ issuer: iss, subject: 'alice', sid: undefined })(session(record({ accessToken: jwt({ sub: 'alice' }) })))).toBe(true);
    expect(endedBy({ issuer: iss, subject: 'alice', sid: undefined })(session(record({ accessToken: jwt({ sub: 'bob' }) })))).toBe(false);
    // One matching connection among others is enough: the whole session ends.
    expect(endedBy({ issuer: iss, subject: 'alice', sid: undefined })(session(record({ issuer: 'https://x.example' }), record({ subject: 'alice' })))).toBe(true);
  });
});
