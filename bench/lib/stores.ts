import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { RecordCipher } from '../../bff/src/store/cipher.js';
import { MemoryTokenStore } from '../../bff/src/store/memory.js';
import { RedisTokenStore } from '../../bff/src/store/redis.js';
import { SqliteTokenStore } from '../../bff/src/store/sqlite.js';
import type { TokenStore } from '../../bff/src/store/types.js';
import { freePort } from './child.js';
import { hasRedisServer, startRedis } from './redis.js';

/**
 * Every token store the BFF has, as the sessions benchmark builds them: adding a store is one entry.
 * `sizeBytes` is the store's own size where it lives outside the heap (a database file, a server's
 * memory); the memory store's size is the heap growth itself.
 */
export interface BenchStore {
  store: TokenStore;
  sizeBytes(): Promise<number | undefined>;
  close(): Promise<void>;
}

const cipher = () => new RecordCipher([{ id: 'bench', key: randomBytes(32) }]);

export const STORES: Record<string, { available(): boolean; open(dir: string): Promise<BenchStore> }> = {
  memory: {
    available: () => true,
    open: async () => ({ store: new MemoryTokenStore({ cipher: cipher() }), sizeBytes: async () => undefined, close: async () => {} }),
  },
  sqlite: {
    available: () => true,
    open: async (dir) => {
      const path = join(dir, 'bff.db');
      const store = new SqliteTokenStore({ path, cipher: cipher() });
      return { store, sizeBytes: async () => fileSizes([path, `${path}-wal`]), close: () => store.close() };
    },
  },
  redis: {
    available: hasRedisServer,
    open: async () => {
      const server = await startRedis(await freePort());
      const store = new RedisTokenStore({ url: server.url, cipher: cipher() });
      if (!(await store.connect())) throw new Error('redis store did not connect');
      return {
        store,
        sizeBytes: () => server.usedMemory(),
        close: async () => {
          await store.close();
          await server.stop();
        },
      };
    },
  },
};

function fileSizes(paths: string[]): number {
  return paths.filter((p) => existsSync(p)).reduce((sum, p) => sum + statSync(p).size, 0);
}

