import { createAuthServer } from '../../demo/src/auth-server.js';
import { listen } from '../../demo/src/listen.js';
import { DEMO_CLIENT } from '../../demo/src/stack.js';
import { serveRpc } from '../lib/child.js';

/** The demo authorization server, alone in its process. argv: port, MCP resource URL, redirect URIs (comma-separated). */
const [port, resource, redirectUris] = process.argv.slice(2) as [string, string, string];
const listening = await listen(Number(port), '127.0.0.1');
const as = await createAuthServer({
  issuer: listening.origin,
  resource,
  clients: [{ ...DEMO_CLIENT, redirect_uris: redirectUris.split(',') }],
  // Long enough that the token handed to the direct and nginx setups outlives the whole run; the
  // refresh storm makes the BFF's copy look stale instead.
  accessTokenTtlSeconds: 3600,
  // DPoP-bound tokens for a client that asks with a proof (the bff-dpop setup); the others get bearer tokens.
  dpop: {},
});
listening.handle(as.handler);

serveRpc({
  refreshCount: () => as.tokenRequests.filter((r) => r.grantType === 'refresh_token').length,
  exit: () => void setImmediate(() => process.exit(0)),
});
