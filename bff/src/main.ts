import { serve } from '@hono/node-server';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createApp } from './app.js';
import { type Config, ConfigError, DEFAULT_TOKEN_STORE, loadConfig } from './config.js';
import { openRateLimits } from './http/rate-limit.js';
import { clientLimitOptions } from './http/server-limits.js';
import { createLogger } from './log.js';
import { describeTokenStore, openTokenStore } from './store/open.js';

/** Ended sessions are purged this often (Redis expires them by itself). */
const PURGE_EVERY_MS = 5 * 60 * 1000;
/** How long open requests get to finish at shutdown. */
const SHUTDOWN_GRACE_MS = 5_000;

function readConfig(): Config {
  try {
    return loadConfig(
      {
        ...process.env,
        STATIC_DIR: process.env.STATIC_DIR ?? join(dirname(fileURLToPath(import.meta.url)), '../../web/dist'),
      },
      { defaultTokenStore: DEFAULT_TOKEN_STORE },
    );
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
}

async function main(): Promise<void> {
  const config = readConfig();
  const log = createLogger(config.logLevel);
  const store = await openTokenStore(config, log);
  const purge = () =>
    store.purgeExpired().then(
      (purged) => purged > 0 && log.info({ event: 'sessions_purged', purged }),
      (error: unknown) => log.warn({ event: 'purge_failed', err: { name: (error as Error).name } }),
    );
  await purge();
  const purger = setInterval(purge, PURGE_EVERY_MS);
  purger.unref();

  const limits = await openRateLimits(config, log);
  const app = createApp({ config, store, log, limits });
  // Slow clients (headers or bodies dribbled in) are cut off instead of holding connections for minutes.
  const serverOptions = clientLimitOptions(config);
  const server = serve({ fetch: app.fetch, hostname: config.host, port: config.port, serverOptions }, (info) => {
    log.info({ event: 'listening', url: config.publicUrl, port: info.port, store: describeTokenStore(config) });
  });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    clearInterval(purger);
    // Requests in flight finish (a refresh in progress gets to store its tokens), then the store
    // closes. Streams that stay open (SSE) are cut after a grace period; browsers reconnect.
    server.close(() => {
      Promise.allSettled([store.close(), limits.close()]).finally(() => process.exit(0));
    });
    if ('closeIdleConnections' in server) server.closeIdleConnections();
    setTimeout(() => {
      if ('closeAllConnections' in server) server.closeAllConnections();
    }, SHUTDOWN_GRACE_MS).unref();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

await main();
