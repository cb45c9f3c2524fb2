import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createApp, nodeRequestListener } from './app.js';
import { type Config, ConfigError, DEFAULT_TOKEN_STORE, loadConfig } from './config.js';
import { Connections } from './http/connections.js';
import { Drain } from './http/drain.js';
import { openRateLimits } from './http/rate-limit.js';
import { clientLimitOptions } from './http/server-limits.js';
import { createLogger } from './log.js';
import { metricsFor, startMetricsServer } from './metrics.js';
import { describeTokenStore, openTokenStore } from './store/open.js';

/** Ended sessions are purged this often (Redis expires them by itself). */
const PURGE_EVERY_MS = 5 * 60 * 1000;

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
  const drain = new Drain();
  // One set of counters for the app and the loopback metrics listener (METRICS_PORT), if any.
  const metrics = metricsFor(config);
  const app = createApp({ config, store, log, limits, drain, metrics, draining: () => drain.draining });
  const metricsServer =
    config.metrics.port === undefined ? undefined : await startMetricsServer({ port: config.metrics.port, metrics, token: config.metrics.token, log });
  // Slow clients (headers or bodies dribbled in) are cut off instead of holding connections for minutes.
  const serverOptions = clientLimitOptions(config);
  const server = createServer(serverOptions, nodeRequestListener(app));
  server.listen(config.port, config.host, () => {
    log.info({ event: 'listening', url: config.publicUrl, port: (server.address() as AddressInfo).port, store: describeTokenStore(config) });
  });

  const connections = new Connections(server);

  /**
   * SIGTERM or SIGINT: stop accepting connections, let requests in flight finish (a refresh in progress
   * gets to store its tokens), close streams with a retry hint (at once those that never end, a call's
   * stream only when time runs short), then release what is still held and exit. All of it within
   * SHUTDOWN_TIMEOUT_MS: past its last part connections are cut, and past it the process exits anyway.
   */
  const stop = (signal: string) => {
    if (drain.draining) return;
    const timeoutMs = config.shutdownTimeoutMs;
    const cleanupMs = Math.min(1_000, Math.floor(timeoutMs / 4));
    log.info({ event: 'shutting_down', signal, inFlight: connections.inFlight, timeoutMs });
    clearInterval(purger);
    drain.begin();
    let exiting = false;
    const exit = async (forced: boolean) => {
      if (exiting) return;
      // Every connection is closed, but a refresh whose browser went away may still be running: it
      // gets to store its tokens (the refresh token it spent is gone at the AS), until the deadline.
      if (!forced) await drain.locksReleased();
      if (exiting) return;
      exiting = true;
      if (forced) connections.closeAll();
      const released = await drain.releaseLocks();
      // Metrics last, so that scrapes see the drain to its end.
      await Promise.allSettled([store.close(), limits.close()]);
      await metricsServer?.close().catch(() => undefined);
      log.info({ event: 'stopped', forced, refreshLocksReleased: released });
      // pino writes what its stdout buffer still holds on exit (log.ts).
      process.exit(0);
    };
    connections.drain(() => void exit(false));
    setTimeout(() => {
      if (drain.openStreams > 0) log.info({ event: 'closing_streams', open: drain.openStreams });
      drain.closeStreams();
    }, timeoutMs - 2 * cleanupMs).unref();
    setTimeout(() => void exit(true), timeoutMs - cleanupMs).unref();
    setTimeout(() => {
      log.warn({ event: 'shutdown_timed_out', timeoutMs });
      process.exit(1);
    }, timeoutMs).unref();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

await main();
