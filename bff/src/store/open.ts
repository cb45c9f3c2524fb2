import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { RecordCipher } from './cipher.js';
import { MemoryTokenStore } from './memory.js';
import { RedisTokenStore } from './redis.js';
import { SqliteTokenStore } from './sqlite.js';
import type { TokenStore } from './types.js';

/** Opens the store TOKEN_STORE names, with the cipher TOKEN_ENCRYPTION_KEYS describes. */
export async function openTokenStore(config: Pick<Config, 'tokenStore' | 'tokenEncryptionKeys'>, log: Logger): Promise<TokenStore> {
  const cipher = config.tokenEncryptionKeys.length > 0 ? new RecordCipher(config.tokenEncryptionKeys) : RecordCipher.withRandomKey();
  const settings = config.tokenStore;
  switch (settings.kind) {
    case 'memory':
      log.warn({ event: 'memory_token_store', message: 'TOKEN_STORE=memory: sessions end with the process; for tests only' });
      return new MemoryTokenStore({ cipher, log });
    case 'sqlite':
      return new SqliteTokenStore({ path: settings.path, cipher, log });
    case 'redis': {
      const store = new RedisTokenStore({ url: settings.url, cipher, log });
      // Not reachable yet: start anyway and answer 503 until it is (the client keeps reconnecting).
      if (!(await store.connect())) log.error({ event: 'store_unavailable', store: 'redis', phase: 'startup' });
      return store;
    }
  }
}

/** A label for logs: the kind of store and, for SQLite, its file; never a Redis URL (it may hold a password). */
export function describeTokenStore(config: Pick<Config, 'tokenStore'>): string {
  return config.tokenStore.kind === 'sqlite' ? `sqlite:${config.tokenStore.path}` : config.tokenStore.kind;
}
