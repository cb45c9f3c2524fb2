import express from 'express';
import { DemoInMemoryAuthProvider } from '@modelcontextprotocol/sdk/examples/server/demoInMemoryOAuthProvider.js';
import { mcpAuthRouter } from '@modelcontextprotocol/sdk/server/auth/router.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { listen } from '../../demo/src/listen.js';
import { loginThroughForms } from '../../demo/src/login-driver.js';
import { type ExternalAsStack, startAgainst } from './external-as-support.js';
import { MCP_HEADERS, rpc, TestBrowser } from './support.js';

/**
 * Another authorization server implementation than oidc-provider: the MCP TypeScript SDK's (1.x)
 * authorization server router (mcpAuthRouter) with the SDK's example in-memory provider, as its
 * example server wires them (demoInMemoryOAuthProvider's setupAuthServer, which binds a fixed port
 * itself; here the same pieces on a port the test picks). It registers clients dynamically, approves
 * without a login page, issues opaque access tokens and no refresh tokens; the demo MCP server checks
 * them by introspection, as the SDK's example resource server does.
 */
let asListener: Awaited<ReturnType<typeof listen>>;
let stack: ExternalAsStack;
let provider: DemoInMemoryAuthProvider;

beforeAll(async () => {
  asListener = await listen(0, '127.0.0.1');
  const mcpListener = await listen(0, '127.0.0.1');
  const issuerUrl = new URL(`${asListener.origin}/`);
  const mcpUrl = `${mcpListener.origin}/mcp`;
  // strictResource, as the SDK example's --oauth-strict: a code is exchanged only for this server.
  provider = new DemoInMemoryAuthProvider((resource) => resource?.href === new URL(mcpUrl).href);
  const as = express();
  as.use(express.urlencoded({ extended: false }));
  as.use(mcpAuthRouter({ provider, issuerUrl, scopesSupported: ['mcp:tools'] }));
  // The SDK example's introspection endpoint, for the resource server.
  as.post('/introspect', async (req, res) => {
    try {
      const info = await provider.verifyAccessToken(String((req.body as { token?: unknown }).token ?? ''));
      res.json({ active: true, client_id: info.clientId, scope: info.scopes.join(' '), exp: info.expiresAt, aud: info.resource?.href });
    } catch {
      res.json({ active: false });
    }
  });
  asListener.handle(as);
  stack = await startAgainst({ issuer: issuerUrl.href, introspectionEndpoint: `${asListener.origin}/introspect`, mcpListener });
});
afterAll(async () => {
  await stack?.close();
  await asListener?.close();
});

it('registers, logs in and calls a tool at the MCP SDK authorization server', async () => {
  const browser = new TestBrowser(stack.appUrl);
  const first = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list') });
  expect(first.status).toBe(401);
  const { loginUrl } = (await first.json()) as { loginUrl: string };
  const login = await browser.request(loginUrl, { csrf: false });
  expect(login.status).toBe(302);
  const authorizationUrl = new URL(login.headers.get('location') as string);
  expect(authorizationUrl.origin).toBe(asListener.origin);
  expect(authorizationUrl.searchParams.get('resource')).toBe(stack.mcpUrl);
  const callback = await loginThroughForms(authorizationUrl.href, 'alice', 'alice-demo-password', 'allow', browser.asJar);
  expect(callback.searchParams.get('code')).toBeTruthy();
  expect((await browser.finishLogin(callback)).status).toBe(302);

  const session = await browser.session();
  expect(session.connections[0]).toMatchObject({ server: 'default', status: 'connected', scopes: ['mcp:tools'] });
  const client = await browser.mcpClient();
  const who = await client.callTool({ name: 'whoami', arguments: {} });
  await client.close();
  // The SDK's demo provider approves without a user: the token acts for the client the BFF registered.
  const registered = [...(provider.clientsStore as unknown as { clients: Map<string, unknown> }).clients.keys()];
  expect(registered).toHaveLength(1);
  expect(who.structuredContent).toMatchObject({ sub: registered[0] });
  expect(stack.mcp.received.at(-1)?.headers.authorization).toMatch(/^Bearer /);
});
