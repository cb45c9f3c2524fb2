import { afterAll, beforeAll, expect, it } from 'vitest';
import { loginThroughForms } from '../../demo/src/login-driver.js';
import { type Stack, startStack } from '../../demo/src/stack.js';
import { MCP_HEADERS, rpc, TestBrowser } from './support.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ secondServer: true, env: { TOKEN_STORE: 'memory' } });
});
afterAll(() => stack.close());

async function connect(browser: TestBrowser, server: string): Promise<void> {
  const first = await browser.request(`/mcp/${server}`, { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list') });
  expect(first.status).toBe(401);
  const { loginUrl } = await first.json();
  const login = await browser.request(loginUrl, { csrf: false });
  expect(login.status).toBe(302);
  const callback = await loginThroughForms(login.headers.get('location') as string, 'alice', 'alice-demo-password', 'allow', browser.asJar);
  expect((await browser.finishLogin(callback)).status).toBe(302);
}

it('connects to two MCP servers behind two authorization servers in one session, and logs out of both', async () => {
  const second = stack.second as NonNullable<Stack['second']>;
  const browser = new TestBrowser(stack.appUrl);
  await connect(browser, 'default');
  await connect(browser, 'notes');
  const session = await browser.session();
  expect(session.connections.map((c) => [c.server, c.status])).toEqual([
    ['default', 'connected'],
    ['notes', 'connected'],
  ]);
  // The second AS knew no client: the BFF registered itself there.
  expect(second.as.tokenRequests.filter((r) => r.grantType === 'authorization_code')).toHaveLength(1);

  for (const [server, mcp] of [
    ['default', stack.mcp],
    ['notes', second.mcp],
  ] as const) {
    const client = await browser.mcpClient(server);
    const who = await client.callTool({ name: 'whoami', arguments: {} });
    expect(who.structuredContent).toMatchObject({ sub: 'alice' });
    await client.close();
    expect(mcp.received.at(-1)?.headers.authorization).toMatch(/^Bearer /);
  }
  // Tokens from one server's AS never go to the other server.
  const defaultTokens = new Set(stack.mcp.received.map((r) => r.headers.authorization).filter(Boolean));
  expect(second.mcp.received.some((r) => defaultTokens.has(r.headers.authorization))).toBe(false);

  // Disconnecting one server revokes its tokens and leaves the other connected.
  const secondRevocations = second.as.revocations.length;
  expect((await browser.request('/bff/logout?server=notes', { method: 'POST' })).status).toBe(200);
  expect(second.as.revocations.length).toBeGreaterThan(secondRevocations);
  expect((await browser.session()).connections.map((c) => c.status)).toEqual(['connected', 'login_required']);
  expect((await browser.request('/bff/logout?server=nope', { method: 'POST' })).status).toBe(404);
  expect((await browser.request('/bff/logout?server=default', { method: 'POST', csrf: false })).status).toBe(403);
  await connect(browser, 'notes');

  const revocations = [stack.as.revocations.length, second.as.revocations.length];
  expect((await browser.request('/bff/logout', { method: 'POST' })).status).toBe(200);
  expect(stack.as.revocations.length).toBeGreaterThan(revocations[0] as number);
  expect(second.as.revocations.length).toBeGreaterThan(revocations[1] as number);
  expect((await browser.session()).connections.every((c) => c.status === 'login_required')).toBe(true);
});
