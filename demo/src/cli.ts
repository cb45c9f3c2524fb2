import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStack } from './stack.js';

/**
 * `pnpm start`: the whole demo on fixed ports. The app is at http://localhost:3000; the authorization
 * server at http://127.0.0.1:4000 is deliberately another site, as real ones are.
 */
const here = dirname(fileURLToPath(import.meta.url));
const stack = await startStack({
  appPort: Number(process.env.PORT ?? 3000),
  asPort: Number(process.env.AS_PORT ?? 4000),
  mcpPort: Number(process.env.MCP_PORT ?? 4100),
  accessTokenTtlSeconds: Number(process.env.ACCESS_TOKEN_TTL_SECONDS ?? 600),
  staticDir: join(here, '../../web/dist'),
  logLevel: process.env.LOG_LEVEL ?? 'info',
});

console.log(`
  MCP BFF demo is running.

  Open ${stack.appUrl} and sign in as alice / alice-demo-password (or bob / bob-demo-password).

  authorization server  ${stack.issuer}
  MCP server            ${stack.mcpUrl}
  Press Ctrl+C to stop.
`);

const stop = () => {
  stack.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
