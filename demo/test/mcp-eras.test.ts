import type { Client } from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DemoStack, startDemoStack } from '../src/demo-stack.js';
import type { McpProtocols } from '../src/mcp-server.js';
import { httpTransport, type Negotiation, v2Client } from './mcp-clients.js';
import { initializeRequest, mcpPost, modernHeaders, modernMeta, modernPost, openSession, readSse } from './mcp-http.js';
import { loginAndGetTokens, type TestClient } from './oauth-flow.js';

/**
 * The demo MCP server in each of its modes ('both', '2026-07-28' only, '2025-11-25' only), driven by
 * the official clients: which eras connect, and what a refused client sees.
 */
const testClient: TestClient = {
  client_id: 'mcp-eras-client',
  client_secret: 'mcp-eras-secret',
  redirect_uri: 'http://localhost:3999/bff/callback',
};
const MODES: McpProtocols[] = ['both', '2026-07-28', '2025-11-25'];
const stacks = {} as Record<McpProtocols, { stack: DemoStack; token: string; adminToken: string }>;

beforeAll(async () => {
  await Promise.all(
    MODES.map(async (protocols) => {
      const stack = await startDemoStack({
        protocols,
        clients: [{ client_id: testClient.client_id, client_secret: testClient.client_secret, redirect_uris: [testClient.redirect_uri] }],
      });
      const [tokens, admin] = await Promise.all([
        loginAndGetTokens({ issuer: stack.issuer, resource: stack.resource, client: testClient, scope: 'mcp:tools' }),
        loginAndGetTokens({ issuer: stack.issuer, resource: stack.resource, client: testClient, scope: 'mcp:tools mcp:admin' }),
      ]);
      stacks[protocols] = { stack, token: tokens.access_token, adminToken: admin.access_token };
    }),
  );
});

afterAll(async () => {
  await Promise.all(Object.values(stacks).map(({ stack }) => stack.close()));
});

async function connectV2(protocols: McpProtocols, negotiation: Negotiation): Promise<Client> {
  const { stack, token } = stacks[protocols];
  const client = v2Client({}, negotiation);
  await client.connect(httpTransport(stack.resource, token));
  return client;
}

async function connectV1(protocols: McpProtocols): Promise<V1Client> {
  const { stack, token } = stacks[protocols];
  const client = new V1Client({ name: 'demo-eras-test-v1', version: '0.0.0' });
  await client.connect(new V1Transport(new URL(stack.resource), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  return client;
}

const INSTRUCTIONS = /^A demo server: /;

describe('which clients connect to which server mode', () => {
  const expected: Record<McpProtocols, { auto: 'modern' | 'legacy'; pin: boolean; v1: boolean }> = {
    both: { auto: 'modern', pin: true, v1: true },
    '2026-07-28': { auto: 'modern', pin: true, v1: false },
    '2025-11-25': { auto: 'legacy', pin: false, v1: true },
  };

  for (const protocols of MODES) {
    const want = expected[protocols];

    it(`${protocols}: the v2 client in auto mode connects in the ${want.auto} era, with the server's identity and instructions`, async () => {
      const client = await connectV2(protocols, 'auto');
      try {
        expect(client.getProtocolEra()).toBe(want.auto);
        expect(client.getNegotiatedProtocolVersion()).toBe(want.auto === 'modern' ? '2026-07-28' : '2025-11-25');
        expect(client.getServerVersion()).toEqual({ name: 'demo-mcp-server', version: '1.1.0' });
        expect(client.getInstructions()).toMatch(INSTRUCTIONS);
        const who = await client.callTool({ name: 'whoami', arguments: {} });
        expect(who.structuredContent).toMatchObject({ sub: 'alice' });
      } finally {
        await client.close();
      }
    });

    it(`${protocols}: the v2 client pinned to 2026-07-28 ${want.pin ? 'connects' : 'is refused'}`, async () => {
      if (!want.pin) {
        await expect(connectV2(protocols, 'pin')).rejects.toThrow();
        return;
      }
      const client = await connectV2(protocols, 'pin');
      try {
        expect(client.getProtocolEra()).toBe('modern');
        expect(client.getDiscoverResult()).toMatchObject({ supportedVersions: ['2026-07-28'], instructions: expect.stringMatching(INSTRUCTIONS) });
        expect(client.getServerVersion()).toEqual({ name: 'demo-mcp-server', version: '1.1.0' });
      } finally {
        await client.close();
      }
    });

    it(`${protocols}: the v1 (2025-11-25) client ${want.v1 ? 'connects' : 'is refused'}`, async () => {
      if (!want.v1) {
        await expect(connectV1(protocols)).rejects.toThrow(/2026-07-28/);
        return;
      }
      const client = await connectV1(protocols);
      try {
        expect(client.getServerVersion()).toEqual({ name: 'demo-mcp-server', version: '1.1.0' });
        expect(client.getInstructions()).toMatch(INSTRUCTIONS);
        const who = await client.callTool({ name: 'whoami', arguments: {} });
        expect(who.structuredContent).toMatchObject({ sub: 'alice' });
      } finally {
        await client.close();
      }
    });
  }

  it('2026-07-28 only: initialize gets 400 with the unsupported-version error naming 2026-07-28; GET and DELETE 405', async () => {
    const { stack, token } = stacks['2026-07-28'];
    const res = await mcpPost(stack.resource, token, initializeRequest());
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: -32022, data: { supported: ['2026-07-28'] } } });
    for (const method of ['GET', 'DELETE']) {
      const other = await fetch(stack.resource, { method, headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } });
      expect(other.status).toBe(405);
    }
  });

  it('2025-11-25 only: a 2026-07-28 request gets what a 2025-11-25 server answers (400, no modern error)', async () => {
    const { stack, token } = stacks['2025-11-25'];
    const res = await fetch(stack.resource, {
      method: 'POST',
      headers: modernHeaders(token, 'server/discover'),
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'server/discover', params: { _meta: modernMeta() } }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { code: number } };
    expect(body.error.code).toBe(-32000);
  });
});

describe('the same authorization in every mode and era', () => {
  const metadataUrl = (stack: DemoStack) => `${stack.mcpListening.origin}/.well-known/oauth-protected-resource/mcp`;
  const adminCall = { id: 3, method: 'tools/call', params: { name: 'admin_report', arguments: {} } };

  for (const protocols of MODES) {
    it(`${protocols}: 401 with the resource_metadata challenge without a token, for a 2025-11-25 and a 2026-07-28 request`, async () => {
      const { stack } = stacks[protocols];
      for (const res of [
        await mcpPost(stack.resource, undefined, initializeRequest()),
        await modernPost(stack.resource, undefined, { id: 1, method: 'server/discover' }),
      ]) {
        expect(res.status).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${metadataUrl(stack)}", scope="mcp:tools"`);
      }
      const bad = await modernPost(stack.resource, 'not-a-jwt', { id: 1, method: 'tools/list' });
      expect(bad.status).toBe(401);
      expect(bad.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token", /);
    });

    it(`${protocols}: admin_report needs mcp:admin (403 step-up challenge) in each era it speaks`, async () => {
      const { stack, token, adminToken } = stacks[protocols];
      const challenge = `Bearer error="insufficient_scope", resource_metadata="${metadataUrl(stack)}", scope="mcp:tools mcp:admin"`;
      if (protocols !== '2025-11-25') {
        const denied = await modernPost(stack.resource, token, adminCall);
        expect(denied.status).toBe(403);
        expect(denied.headers.get('www-authenticate')).toBe(challenge);
        const allowed = await modernPost(stack.resource, adminToken, adminCall);
        expect(allowed.status).toBe(200);
        expect(JSON.stringify(await allowed.json())).toContain('Admin report for alice');
      }
      if (protocols !== '2026-07-28') {
        const sessionId = await openSession(stack.resource, token);
        const denied = await mcpPost(stack.resource, token, { jsonrpc: '2.0', ...adminCall }, sessionId);
        expect(denied.status).toBe(403);
        expect(denied.headers.get('www-authenticate')).toBe(challenge);
        const adminSession = await openSession(stack.resource, adminToken);
        const allowed = await mcpPost(stack.resource, adminToken, { jsonrpc: '2.0', ...adminCall }, adminSession);
        expect(allowed.status).toBe(200);
        expect(JSON.stringify(await readSse(allowed))).toContain('Admin report for alice');
      }
    });
  }

  it("refuses a 2026-07-28 request carrying a token minted for another server's audience", async () => {
    // The 'both' server's token at the 2026-07-28-only server: same demo subject, wrong audience.
    const res = await modernPost(stacks['2026-07-28'].stack.resource, stacks.both.token, { id: 1, method: 'tools/list' });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });
});
