import { ConfigError, DEFAULT_TOKEN_STORE, loadConfig } from './config.js';
import { createLogger } from './log.js';
import { describeTokenStore, openTokenStore } from './store/open.js';

/**
 * Step 3 of a key rotation (README): re-encrypts every stored record that is not under the newest
 * TOKEN_ENCRYPTION_KEYS key, so that the older key can be removed. Run with the BFF's environment:
 *   pnpm exec tsx bff/src/rekey.ts
 * Safe while BFF instances run: each record is rewritten only if nobody changed it meanwhile.
 * Exits 1 when records remain that no configured key opens.
 */
let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig(process.env, { defaultTokenStore: DEFAULT_TOKEN_STORE });
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
const log = createLogger(config.logLevel === 'silent' ? 'silent' : 'warn');
const store = await openTokenStore(config, log);
try {
  const purged = await store.purgeExpired();
  const report = await store.reencryptAll();
  const newest = config.tokenEncryptionKeys[0]?.id ?? '(none)';
  console.log(
    `${describeTokenStore(config)}: ${report.reencrypted} record(s) re-encrypted under "${newest}", ` +
      `${report.unreadable} unreadable with the configured keys, ${purged} ended session(s) purged.`,
  );
  process.exitCode = report.unreadable > 0 ? 1 : 0;
} finally {
  await store.close();
}
