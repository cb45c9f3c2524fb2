/**
 * The stack Playwright tests run against: the real demo authorization server, MCP server and BFF with the
 * built SPA, on ports the test configuration chooses, with short-lived access tokens so that refresh
 * really happens during a test.
 *
 * Test-only instrumentation, on a separate loopback port: every secret the authorization server hands
 * the BFF (codes, verifiers, access and refresh tokens, as seen on the BFF's outbound requests) and the
 * count of token requests by grant type, so a test can prove none of them reaches the browser; how many
 * requests reached the MCP server and which revocations the AS saw, so a hostile page's effect shows.
 */
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createOutboundFetch } from '../bff/src/oauth/outbound.js';
import { MCP_PROTOCOLS, type McpProtocols } from '../demo/src/mcp-server.js';
import { startStack } from '../demo/src/stack.js';

const env = process.env;
const here = dirname(fileURLToPath(import.meta.url));
const secrets = new Set<string>();

// The BFF's own guarded fetch, watched: what goes to the AS and what comes back.
const guarded = createOutboundFetch({ allowHttpLoopback: true, allowPrivateNetworks: false, timeoutMs: 10_000, maxResponseBytes: 1024 * 1024 });
const outboundFetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
  const url = input instanceof Request ? input.url : String(input);
  const body = init?.body;
  if (body instanceof URLSearchParams) {
    for (const name of ['code', 'code_verifier', 'refresh_token', 'token']) {
      const value = body.get(name);
      if (value) secrets.add(value);
    }
  }
  const res = await guarded(input, init);
  if (url.endsWith('/token') && res.headers.get('content-type')?.includes('json')) {
    const json = (await res.clone().json()) as Record<string, unknown>;
    for (const name of ['access_token', 'refresh_token', 'id_token']) {
      if (typeof json[name] === 'string') secrets.add(json[name]);
    }
  }
  return res;
}) as typeof fetch;

// Which MCP protocol eras the demo MCP servers speak: both (default), or only one, to watch the SPA's
// fallback (2025-11-25) or a modern-only server refusing the old handshake (2026-07-28).
const mcpProtocols = env.E2E_MCP_PROTOCOLS as McpProtocols | undefined;
if (mcpProtocols !== undefined && !MCP_PROTOCOLS.includes(mcpProtocols)) {
  throw new Error(`E2E_MCP_PROTOCOLS must be one of ${MCP_PROTOCOLS.join(', ')}, got ${mcpProtocols}`);
}

// Long lists (e2e/lists.spec.ts): every list of the demo MCP server in pages, and made-up resources to
// page through. Off unless asked for, so every other spec sees the demo's lists as they are.
const listPageSize = env.E2E_MCP_LIST_PAGE_SIZE ? Number(env.E2E_MCP_LIST_PAGE_SIZE) : undefined;
const bulkResources = env.E2E_MCP_BULK_RESOURCES ? Number(env.E2E_MCP_BULK_RESOURCES) : undefined;

// DPoP (e2e/dpop.spec.ts): E2E_DPOP=1 binds tokens with DPoP at the demo AS and MCP server; =nonce also
// makes both ask for nonces. Off unless asked for.
const dpop = env.E2E_DPOP === '1' || env.E2E_DPOP === 'nonce' ? { requireNonce: env.E2E_DPOP === 'nonce' } : undefined;

const stack = await startStack({
  appPort: Number(env.E2E_APP_PORT ?? 3310),
  asPort: Number(env.E2E_AS_PORT ?? 4310),
  mcpPort: Number(env.E2E_MCP_PORT ?? 4410),
  accessTokenTtlSeconds: Number(env.E2E_ACCESS_TOKEN_TTL ?? 8),
  staticDir: join(here, '../web/dist'),
  logLevel: env.LOG_LEVEL ?? 'warn',
  // Every spec signs in from 127.0.0.1 against this one BFF: the per-address limits on sign-in (tested in
  // bff/test/hostile-load.test.ts) must not turn a quick test run into a flood.
  // The connection details view shows the access token's claims (off by default; the demo turns it on).
  env: { TOKEN_STORE: 'memory', RATE_LIMIT_LOGIN: '100000', RATE_LIMIT_CALLBACK: '100000', CONNECTION_CLAIMS: '1' },
  outboundFetch,
  ...(env.E2E_SECOND_AS_PORT
    ? { secondServer: true, secondAsPort: Number(env.E2E_SECOND_AS_PORT), secondMcpPort: Number(env.E2E_SECOND_MCP_PORT) }
    : {}),
  ...(mcpProtocols ? { mcpProtocols } : {}),
  // A server used with the deployment's own identity (e2e/service-credentials.spec.ts): client_secret or private_key_jwt.
  ...(env.E2E_SERVICE_CREDENTIALS === 'client_secret' || env.E2E_SERVICE_CREDENTIALS === 'private_key_jwt'
    ? { serviceCredentials: env.E2E_SERVICE_CREDENTIALS }
    : {}),
  ...(dpop ? { dpop } : {}),
  // Enterprise-managed authorization (e2e/enterprise.spec.ts): a demo enterprise IdP whose policy admits alice, not bob.
  ...(env.E2E_IDP_PORT ? { enterprise: { idpPort: Number(env.E2E_IDP_PORT), allow: ({ sub }: { sub: string }) => sub !== 'bob' } } : {}),
  ...(listPageSize !== undefined || bulkResources !== undefined
    ? { mcpLists: { ...(listPageSize !== undefined ? { pageSize: listPageSize } : {}), ...(bulkResources !== undefined ? { bulkResources } : {}) } }
    : {}),
});

const inspector = createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  if (req.url === '/secrets') {
    res.end(JSON.stringify([...secrets]));
  } else if (req.url === '/token-requests') {
    res.end(JSON.stringify(stack.as.tokenRequests));
  } else if (req.url === '/mcp-requests') {
    // How many requests the MCP server received: a hostile page's must not add any. And the MCP
    // sessions of the GET streams it received, so a test can tell when a page's stream has arrived.
    const getStreams = stack.mcp.received.filter((r) => r.method === 'GET').map((r) => String(r.headers['mcp-session-id'] ?? ''));
    // The authorization scheme of each request (never the token), whether it carried a DPoP proof, and
    // the proofs the MCP server refused, by error.
    const auth = stack.mcp.received.map((r) => ({ scheme: String(r.headers.authorization ?? '').split(' ')[0], proof: r.headers.dpop !== undefined }));
    res.end(JSON.stringify({ count: stack.mcp.received.length, getStreams, auth, dpopRefused: stack.mcp.dpopRefused }));
  } else if (req.url === '/revocations') {
    res.end(JSON.stringify(stack.as.revocations));
  } else {
    res.statusCode = 404;
    res.end('{}');
  }
});
inspector.listen(Number(env.E2E_INSPECT_PORT ?? 4510), '127.0.0.1', () => {
  console.log(`e2e stack ready at ${stack.appUrl}`);
});

const stop = () => {
  inspector.close();
  stack.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
