import { oauthProvider, oauthProviderAuthServerMetadata } from '@better-auth/oauth-provider';
import { betterAuth } from 'better-auth';
import { memoryAdapter } from 'better-auth/adapters/memory';
import { toNodeHandler } from 'better-auth/node';
import { jwt } from 'better-auth/plugins/jwt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { CookieJar } from '../../demo/src/cookie-jar.js';
import { listen } from '../../demo/src/listen.js';
import { type ExternalAsStack, startAgainst } from './external-as-support.js';
import { MCP_HEADERS, rpc, TestBrowser } from './support.js';

/**
 * Another authorization server implementation than oidc-provider: Better Auth (1.7) with its OAuth 2.1
 * provider plugin (@better-auth/oauth-provider, which replaced the mcp and oidc-provider plugins), on
 * its in-memory database, with email and password sign-in. The BFF registers itself (RFC 7591, open
 * registration), the user signs in and consents through Better Auth's own endpoints (it ships no
 * pages: the login and consent pages are the application's, scripted here), and the access token is a
 * JWT for the MCP server (RFC 8707 `resource`), which the demo MCP server checks against the JWKS.
 */
const SECRET = 'better-auth-test-secret-public-in-this-repository';
/** Better Auth takes registrations only with this initial access token (RFC 7591 §3.1), as Okta does. */
const INITIAL_ACCESS_TOKEN = 'better-auth-initial-access-token-for-tests-only';
const USER = { email: 'alice@example.com', password: 'alice-better-auth-password', name: 'Alice' };
let asListener: Awaited<ReturnType<typeof listen>>;
let stack: ExternalAsStack;
let issuer: string;
let userId: string;
/** The pages of Better Auth's flow the scripted browser went through. */
const pagesSeen: string[] = [];

beforeAll(async () => {
  asListener = await listen(0, '127.0.0.1');
  const mcpListener = await listen(0, '127.0.0.1');
  const mcpUrl = `${mcpListener.origin}/mcp`;
  const tables = ['user', 'session', 'account', 'verification', 'jwks', 'oauthClient', 'oauthAccessToken', 'oauthRefreshToken', 'oauthConsent', 'oauthResource', 'oauthClientResource'];
  const auth = betterAuth({
    baseURL: asListener.origin,
    secret: SECRET,
    database: memoryAdapter(Object.fromEntries(tables.map((t) => [t, []]))),
    emailAndPassword: { enabled: true },
    plugins: [
      jwt({ jwks: { keyPairConfig: { alg: 'RS256' } } }),
      oauthProvider({
        loginPage: '/login',
        consentPage: '/consent',
        scopes: ['openid', 'profile', 'email', 'offline_access', 'mcp:tools'],
        allowDynamicClientRegistration: true,
        validateInitialAccessToken: ({ initialAccessToken }) => (initialAccessToken === INITIAL_ACCESS_TOKEN ? {} : false),
        // The BFF under test is plain http on localhost (a web client): Better Auth's documented switch.
        allowInsecureRedirectUri: (url) => url.hostname === 'localhost',
        resources: [mcpUrl],
        // Every client registered gets the MCP server as a resource it may ask tokens for.
        clientRegistrationDefaultResources: [mcpUrl],
      }),
    ],
  });
  issuer = `${asListener.origin}/api/auth`;
  const handler = toNodeHandler(auth);
  const metadata = oauthProviderAuthServerMetadata(auth);
  asListener.handle((req, res) => {
    // RFC 8414 metadata, path-inserted (the BFF) or appended (the demo MCP server's key lookup).
    if (req.url?.startsWith('/.well-known/oauth-authorization-server') || req.url?.startsWith('/api/auth/.well-known/oauth-authorization-server')) {
      void metadata(new Request(new URL(req.url, asListener.origin))).then(async (answer) => {
        res.writeHead(answer.status, Object.fromEntries(answer.headers));
        res.end(await answer.text());
      });
      return;
    }
    void handler(req, res);
  });
  userId = (await auth.api.signUpEmail({ body: USER })).user.id;
  stack = await startAgainst({ issuer, mcpListener, env: { OAUTH_INITIAL_ACCESS_TOKEN: INITIAL_ACCESS_TOKEN } });
});
afterAll(async () => {
  await stack?.close();
  await asListener?.close();
});

/**
 * What Better Auth's login and consent pages would do in a browser: sign in with the signed query the
 * authorization endpoint handed the login page, then accept at the consent page. Returns the URL the
 * AS sends the browser to once it leaves the AS (the BFF's callback).
 */
async function signInAndConsent(authorizationUrl: string, jar: CookieJar): Promise<URL> {
  const origin = asListener.origin;
  const send = async (url: URL, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    const cookie = jar.header(url);
    if (cookie) headers.set('cookie', cookie);
    headers.set('origin', origin);
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    jar.store(url, res.headers);
    return res;
  };
  const post = async (path: string, body: Record<string, unknown>) => {
    const res = await send(new URL(path, origin), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const json = (await res.json()) as { url?: string; redirect?: boolean };
    if (res.status !== 200 || !json.url) throw new Error(`${path} answered ${res.status}: ${JSON.stringify(json)}`);
    return new URL(json.url, origin);
  };
  let url = new URL(authorizationUrl);
  for (let step = 0; step < 10; step++) {
    if (url.origin !== origin) return url;
    const oauthQuery = url.search.slice(1);
    pagesSeen.push(url.pathname);
    if (url.pathname === '/login') {
      url = await post('/api/auth/sign-in/email', { email: USER.email, password: USER.password, oauth_query: oauthQuery });
    } else if (url.pathname === '/consent') {
      url = await post('/api/auth/oauth2/consent', { accept: true, oauth_query: oauthQuery });
    } else {
      // The authorization endpoint redirects, or (asked by a script) answers where to go in JSON.
      const res = await send(url, { headers: { accept: 'text/html' } });
      const location = res.headers.get('location') ?? (res.status === 200 ? ((await res.json()) as { url?: string }).url : undefined);
      if (!location) throw new Error(`${url.pathname} answered ${res.status}`);
      await res.body?.cancel().catch(() => undefined);
      url = new URL(location, url);
    }
  }
  throw new Error('too many steps');
}

it('registers with an initial access token, signs in, consents, calls a tool and refreshes at Better Auth', async () => {
  // Better Auth really refuses a registration without the token.
  const refused = await fetch(`${issuer}/oauth2/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ redirect_uris: [`${stack.appUrl}/bff/callback/default`] }),
  });
  expect(refused.status).toBeGreaterThanOrEqual(400);

  const browser = new TestBrowser(stack.appUrl);
  const first = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list') });
  expect(first.status).toBe(401);
  const { loginUrl } = (await first.json()) as { loginUrl: string };
  const login = await browser.request(loginUrl, { csrf: false });
  expect(login.status).toBe(302);
  const authorizationUrl = login.headers.get('location') as string;
  expect(authorizationUrl.startsWith(`${issuer}/oauth2/authorize?`), authorizationUrl).toBe(true);
  const callback = await signInAndConsent(authorizationUrl, browser.asJar);
  expect(callback.searchParams.get('iss')).toBe(issuer);
  expect(callback.searchParams.get('code')).toBeTruthy();
  expect((await browser.finishLogin(callback)).status).toBe(302);

  expect((await browser.session()).connections[0]).toMatchObject({ server: 'default', status: 'connected' });
  const client = await browser.mcpClient();
  const who = await client.callTool({ name: 'whoami', arguments: {} });
  await client.close();
  expect(who.isError ?? false).toBe(false);
  // The token is Better Auth's JWT for the signed-in user, checked by the MCP server against its JWKS.
  expect(who.structuredContent).toMatchObject({ sub: userId });
  expect(pagesSeen).toEqual(['/api/auth/oauth2/authorize', '/login', '/consent']);
  const firstToken = stack.mcp.received.at(-1)?.headers.authorization;
  expect(firstToken).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);

  // offline_access was asked for (Better Auth lists it): a token near its end is refreshed there.
  const sid = await browser.sessionId();
  const record = await stack.store.getConnection(sid, 'default');
  expect(record?.refreshToken).toBeTruthy();
  const now = Date.now();
  await stack.store.putConnection(sid, 'default', { ...(record as NonNullable<typeof record>), issuedAt: now - 600_000, expiresAt: now + 1_000 });
  const again = await browser.mcpClient();
  expect((await again.callTool({ name: 'whoami', arguments: {} })).structuredContent).toMatchObject({ sub: userId });
  await again.close();
  const refreshed = await stack.store.getConnection(sid, 'default');
  expect(refreshed?.refreshToken).not.toBe(record?.refreshToken);
  expect(refreshed?.expiresAt).toBeGreaterThan(now + 60_000);
  expect(stack.mcp.received.at(-1)?.headers.authorization).not.toBe(firstToken);
});
