import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RecordCipher } from '../../bff/src/store/cipher.js';
import { SqliteTokenStore } from '../../bff/src/store/sqlite.js';
import { MCP_PROTOCOLS, type McpProtocols } from './mcp-server.js';
import { startStack } from './stack.js';

/**
 * `pnpm start`: the whole demo on fixed ports. The app is at http://localhost:3000; the authorization
 * server at http://127.0.0.1:4000 is deliberately another site, as real ones are.
 */
const here = dirname(fileURLToPath(import.meta.url));

// The BFF keeps its sessions in SQLite, as `pnpm serve` does. The demo authorization server keeps its
// grants, registrations and signing keys in memory, so nothing stored by a previous run could be used
// again: the file starts empty each time. The key is demo-only and public, like the other demo secrets.
const dbPath = join(here, '../../data/demo.db');
for (const suffix of ['', '-wal', '-shm']) rmSync(`${dbPath}${suffix}`, { force: true });
const DEMO_TOKEN_KEY = Buffer.from('demo-only-token-key-not-secret!!', 'utf8');
const store = new SqliteTokenStore({ path: dbPath, cipher: new RecordCipher([{ id: 'demo', key: DEMO_TOKEN_KEY }]) });

// MCP_PROTOCOLS=2026-07-28 or 2025-11-25 makes the demo MCP server speak only that era (default: both).
const mcpProtocols = (process.env.MCP_PROTOCOLS ?? 'both') as McpProtocols;
if (!MCP_PROTOCOLS.includes(mcpProtocols)) {
  console.error(`MCP_PROTOCOLS must be one of ${MCP_PROTOCOLS.join(', ')}, got ${mcpProtocols}`);
  process.exit(1);
}

// MCP_LIST_PAGE_SIZE=50 serves every list in pages of 50; MCP_BULK_RESOURCES=600 adds that many resources.
const numberFromEnv = (name: string): number | undefined => {
  const value = process.env[name];
  if (value === undefined || value === '') return undefined;
  if (!/^\d+$/.test(value)) {
    console.error(`${name} must be a whole number, got ${value}`);
    process.exit(1);
  }
  return Number(value);
};
// DEMO_SERVICE_CREDENTIALS=client_secret or =private_key_jwt adds a server used with the deployment's own
// identity (client credentials, demo-only credentials from service-clients.ts).
const serviceCredentials = process.env.DEMO_SERVICE_CREDENTIALS || undefined;
if (serviceCredentials !== undefined && serviceCredentials !== 'client_secret' && serviceCredentials !== 'client_secret_post' && serviceCredentials !== 'private_key_jwt') {
  console.error(`DEMO_SERVICE_CREDENTIALS must be client_secret, client_secret_post or private_key_jwt, got ${serviceCredentials}`);
  process.exit(1);
}
// DEMO_DPOP=1 binds tokens with DPoP (RFC 9449) at the demo authorization server, and the demo MCP server
// then takes only DPoP-bound tokens with a valid proof; DEMO_DPOP=nonce also makes both require nonces.
const dpopSetting = process.env.DEMO_DPOP ?? '';
if (!['', '0', '1', 'nonce'].includes(dpopSetting)) {
  console.error(`DEMO_DPOP must be 1, nonce or 0, got ${dpopSetting}`);
  process.exit(1);
}
const dpop = dpopSetting === '1' || dpopSetting === 'nonce' ? { requireNonce: dpopSetting === 'nonce' } : undefined;

// DEMO_ENTERPRISE=1: the MCP server is enterprise-managed. People sign in at a demo enterprise IdP (on
// IDP_PORT, default 4300) whose policy lets alice use it and not bob; no consent page at the server's AS.
const enterprise = process.env.DEMO_ENTERPRISE === '1';
const listPageSize = numberFromEnv('MCP_LIST_PAGE_SIZE');
const bulkResources = numberFromEnv('MCP_BULK_RESOURCES');

const stack = await startStack({
  store,
  appPort: Number(process.env.PORT ?? 3000),
  asPort: Number(process.env.AS_PORT ?? 4000),
  mcpPort: Number(process.env.MCP_PORT ?? 4100),
  accessTokenTtlSeconds: Number(process.env.ACCESS_TOKEN_TTL_SECONDS ?? 600),
  staticDir: join(here, '../../web/dist'),
  logLevel: process.env.LOG_LEVEL ?? 'info',
  mcpProtocols,
  ...(serviceCredentials ? { serviceCredentials } : {}),
  ...(dpop ? { dpop } : {}),
  mcpLists: { ...(listPageSize !== undefined ? { pageSize: listPageSize } : {}), ...(bulkResources !== undefined ? { bulkResources } : {}) },
  // The demo shows the access token's claims in the connection details view (off by default elsewhere).
  env: { CONNECTION_CLAIMS: process.env.CONNECTION_CLAIMS ?? '1' },
  ...(enterprise ? { enterprise: { idpPort: Number(process.env.IDP_PORT ?? 4300), allow: ({ sub }) => sub !== 'bob' } } : {}),
});

console.log(`
  MCP BFF demo is running.

  Open ${stack.appUrl} and sign in as alice / alice-demo-password (or bob / bob-demo-password).

  authorization server  ${stack.issuer}${stack.idp ? `\n  enterprise IdP        ${stack.idp.issuer}  (the MCP server is enterprise-managed: alice may use it, bob may not)` : ''}
  MCP server            ${stack.mcpUrl}  (MCP ${mcpProtocols === 'both' ? '2026-07-28 and 2025-11-25' : mcpProtocols})${dpop ? `\n  DPoP                  on${dpop.requireNonce ? ', with nonces' : ''}` : ''}
  Press Ctrl+C to stop.
`);

const stop = () => {
  stack
    .close()
    .then(() => store.close())
    .then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
