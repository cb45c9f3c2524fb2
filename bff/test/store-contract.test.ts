import { createCipheriv, randomBytes } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyIdOf } from '../src/store/cipher.js';
import { refreshLockName } from '../src/store/locks.js';
import { connectionAad, storageKey } from '../src/store/keys.js';
import { MemoryTokenStore } from '../src/store/memory.js';
import { RedisTokenStore } from '../src/store/redis.js';
import { SqliteTokenStore } from '../src/store/sqlite.js';
import { Database, type SqliteDatabase } from '../src/store/sqlite-driver.js';
import type { SessionRecord, TokenRecord, TokenStore } from '../src/store/types.js';
import { cipherFor, newKey, type RedisServer, startRedis, tempDir, until } from './vault-support.js';

/**
 * One behaviour for every TokenStore: the memory store (tests), SQLite (a real file) and Redis (a real
 * redis-server of this test's own). Each store kind gets a factory that opens a store on the same
 * underlying data with given keys, so that rotation and raw dumps can be checked.
 */

interface Kind {
  name: string;
  open(keys: Array<{ id: string; key: Buffer }>): TokenStore;
  /** Everything the store holds, as the bytes an attacker with a copy would see. */
  dump(): Promise<string>;
  /** A connection as stored, and a raw write of its ciphertext: what someone who can write to the store does. */
  raw?: {
    get(sessionId: string, server: string): Promise<{ generation: number; sealed: string }>;
    setSealed(sessionId: string, server: string, sealed: string): Promise<void>;
  };
}

function sqliteFile<T>(use: (db: SqliteDatabase) => T): T {
  const db = new Database(join(dir.path, 'vault.db'));
  try {
    return use(db);
  } finally {
    db.close();
  }
}

async function redisClient<T>(use: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  try {
    return await use(client);
  } finally {
    client.disconnect();
  }
}

const k1 = newKey('k1');
const k2 = newKey('k2');
let redis: RedisServer;
const dir = tempDir('contract');
const opened: TokenStore[] = [];

function track<T extends TokenStore>(store: T): T {
  opened.push(store);
  return store;
}

let memory: MemoryTokenStore | undefined;
const kinds: Kind[] = [
  {
    name: 'memory',
    // One process, one store: "reopening" with other keys is not a thing for memory.
    open: (keys) => {
      memory ??= track(new MemoryTokenStore({ cipher: cipherFor(...keys) }));
      return memory;
    },
    dump: async () => '',
  },
  {
    name: 'sqlite',
    open: (keys) => track(new SqliteTokenStore({ path: join(dir.path, 'vault.db'), cipher: cipherFor(...keys) })),
    dump: async () =>
      ['vault.db', 'vault.db-wal', 'vault.db-shm']
        .map((f) => join(dir.path, f))
        .filter(existsSync)
        .map((f) => readFileSync(f).toString('latin1'))
        .join('\n'),
    raw: {
      get: async (sessionId, server) =>
        sqliteFile(
          (db) =>
            db.prepare('SELECT generation, sealed FROM connections WHERE session_key = ? AND server = ?').get(storageKey(sessionId), server) as {
              generation: number;
              sealed: string;
            },
        ),
      setSealed: async (sessionId, server, sealed) => {
        sqliteFile((db) => db.prepare('UPDATE connections SET sealed = ? WHERE session_key = ? AND server = ?').run(sealed, storageKey(sessionId), server));
      },
    },
  },
  {
    name: 'redis',
    open: (keys) => track(new RedisTokenStore({ url: redis.url, cipher: cipherFor(...keys), prefix: 'contract:' })),
    dump: () => redis.dump('contract:'),
    raw: {
      get: (sessionId, server) =>
        redisClient(async (client) => {
          const [generation, sealed] = await client.hmget(`contract:s:${storageKey(sessionId)}`, `g:${server}`, `c:${server}`);
          return { generation: Number(generation), sealed: sealed as string };
        }),
      setSealed: (sessionId, server, sealed) =>
        redisClient(async (client) => {
          await client.hset(`contract:s:${storageKey(sessionId)}`, `c:${server}`, sealed);
        }),
    },
  },
];

beforeAll(async () => {
  redis = await startRedis();
}, 30_000);

afterAll(async () => {
  for (const store of opened) await store.close();
  await redis?.close();
  dir.remove();
});

function session(overrides: Partial<SessionRecord> = {}): SessionRecord {
  const now = Date.now();
  return {
    id: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url'),
    createdAt: now,
    expiresAt: now + 3_600_000,
    idleExpiresAt: now + 600_000,
    ...overrides,
  };
}

function tokens(overrides: Partial<TokenRecord> = {}): TokenRecord {
  const now = Date.now();
  const secret = () => Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString('base64url');
  return {
    accessToken: `at-${secret()}`,
    refreshToken: `rt-${secret()}`,
    scopes: ['mcp:tools'],
    issuedAt: now,
    expiresAt: now + 600_000,
    issuer: 'https://as.example.com',
    clientId: 'client',
    resource: 'https://mcp.example.com/mcp',
    generation: 0,
    ...overrides,
  };
}

describe.each(kinds)('$name store', (kind) => {
  let store: TokenStore;
  beforeAll(() => {
    store = kind.open([k1]);
  });

  it('keeps sessions and connections, and deletes them together', async () => {
    const s = session();
    await store.createSession(s);
    expect(await store.getSession(s.id)).toEqual(s);
    expect(await store.getSessionWithConnection(s.id, 'default')).toEqual({ session: s, record: undefined });
    const record = tokens();
    await store.putConnection(s.id, 'default', record);
    expect(await store.getConnection(s.id, 'default')).toEqual(record);
    expect(await store.getSessionWithConnection(s.id, 'default')).toEqual({ session: s, record });
    expect(await store.getSessionWithConnection(s.id, 'other')).toEqual({ session: s, record: undefined });
    expect(await store.getSessionWithConnection(session().id, 'default')).toBeUndefined();
    expect([...(await store.listConnections(s.id)).keys()]).toEqual(['default']);
    await store.bindMcpSession('mcp-session-1', { sessionId: s.id, server: 'default' });
    expect(await store.getMcpSessionOwner('mcp-session-1')).toEqual({ sessionId: s.id, server: 'default' });

    await store.deleteSession(s.id);
    expect(await store.getSession(s.id)).toBeUndefined();
    expect(await store.getConnection(s.id, 'default')).toBeUndefined();
    expect(await store.getSessionWithConnection(s.id, 'default')).toBeUndefined();
    expect(await store.getMcpSessionOwner('mcp-session-1')).toBeUndefined();
    await expect(store.putConnection(s.id, 'default', record)).rejects.toThrow();
    await store.deleteSession(s.id); // twice is fine
  });

  it('lists live sessions with their connections (by storage key, never the id), and deletes one by that key', async () => {
    const s = session();
    await store.createSession(s);
    await store.putConnection(s.id, 'default', tokens({ subject: 'alice', authSessionId: 'as-sid' }));
    await store.putConnection(s.id, 'other', tokens());
    await store.bindMcpSession('mcp-listed', { sessionId: s.id, server: 'default' });
    const ended = session({ idleExpiresAt: Date.now() - 1 });
    await store.createSession(ended);
    const listed = [];
    for await (const one of store.listSessions()) listed.push(one);
    const mine = listed.find((one) => one.key === storageKey(s.id));
    expect(mine).toMatchObject({ createdAt: s.createdAt, expiresAt: s.expiresAt, idleExpiresAt: s.idleExpiresAt });
    expect([...(mine?.connections.keys() ?? [])].sort()).toEqual(['default', 'other']);
    expect(mine?.connections.get('default')).toMatchObject({ subject: 'alice', authSessionId: 'as-sid', generation: 0 });
    expect(listed.some((one) => one.key === storageKey(ended.id))).toBe(false);
    expect(JSON.stringify(listed.map((one) => one.key))).not.toContain(s.id);

    expect(await store.deleteSessionByKey(storageKey(s.id))).toBe(true);
    expect(await store.getSession(s.id)).toBeUndefined();
    expect(await store.getMcpSessionOwner('mcp-listed')).toBeUndefined();
    expect(await store.deleteSessionByKey(storageKey(s.id))).toBe(false);
  });

  it('writes refreshes with compare-and-set on the generation, and never resurrects a deleted session', async () => {
    const s = session();
    await store.createSession(s);
    await store.putConnection(s.id, 'default', tokens());
    const first = tokens();
    expect(await store.replaceConnection(s.id, 'default', 0, first)).toBe(true);
    expect((await store.getConnection(s.id, 'default'))?.generation).toBe(1);
    // The loser of a race cannot overwrite the newer tokens.
    expect(await store.replaceConnection(s.id, 'default', 0, tokens())).toBe(false);
    expect((await store.getConnection(s.id, 'default'))?.accessToken).toBe(first.accessToken);
    // An unconditional write (a login) still moves the generation forward.
    await store.putConnection(s.id, 'default', tokens({ generation: 0 }));
    expect((await store.getConnection(s.id, 'default'))?.generation).toBe(2);
    // Conditional delete: only the generation it names.
    await store.deleteConnection(s.id, 'default', 1);
    expect(await store.getConnection(s.id, 'default')).toBeDefined();
    await store.deleteConnection(s.id, 'default', 2);
    expect(await store.getConnection(s.id, 'default')).toBeUndefined();

    await store.putConnection(s.id, 'default', tokens());
    await store.deleteSession(s.id);
    expect(await store.replaceConnection(s.id, 'default', 0, tokens())).toBe(false);
    expect(await store.getSession(s.id)).toBeUndefined();
    await store.bindMcpSession('mcp-after-logout', { sessionId: s.id, server: 'default' });
    expect(await store.getMcpSessionOwner('mcp-after-logout')).toBeUndefined();
  });

  it('ends a session at its idle end and at its absolute end; touching sets the idle end, never past the absolute end', async () => {
    // Short-lived sessions end 3 s after creation: long enough that the creates and touches below happen
    // before then even on a stalled machine, short enough to wait for.
    const endsIn = 3_000;
    const idle = session({ idleExpiresAt: Date.now() + endsIn });
    const absolute = session({ expiresAt: Date.now() + endsIn, idleExpiresAt: Date.now() + endsIn });
    const touched = session({ idleExpiresAt: Date.now() + endsIn });
    for (const s of [idle, absolute, touched]) {
      await store.createSession(s);
      await store.putConnection(s.id, 'default', tokens());
    }
    await store.touchSession(touched.id, Date.now() + 60_000);
    await store.touchSession(absolute.id, Date.now() + 60_000);
    expect((await store.getSession(absolute.id))?.idleExpiresAt).toBe(absolute.expiresAt);
    // Backwards too (a lowered idle timeout applies at the next use).
    const shortened = session();
    await store.createSession(shortened);
    const lowered = Date.now() + 60_000;
    await store.touchSession(shortened.id, lowered);
    expect((await store.getSession(shortened.id))?.idleExpiresAt).toBe(lowered);
    await until(async () => (await store.getSession(idle.id)) === undefined, 15_000, 'the idle session to end');
    await until(async () => (await store.getSession(absolute.id)) === undefined, 15_000, 'the session to reach its end');
    // An ended session's connection is gone with it, read alone or together with the session.
    for (const ended of [idle, absolute]) {
      expect(await store.getSessionWithConnection(ended.id, 'default')).toBeUndefined();
      expect(await store.getConnection(ended.id, 'default')).toBeUndefined();
    }
    expect(await store.getSession(touched.id)).toBeDefined();
    expect((await store.getSessionWithConnection(touched.id, 'default'))?.record).toBeDefined();
    await store.purgeExpired();
    expect(await store.getSession(touched.id)).toBeDefined();
  });

  it('single-use markers and locks: first wins, only the owner releases, a lapsed lock is free again', async () => {
    expect(await store.consumeOnce('txn-1', 60_000)).toBe(true);
    expect(await store.consumeOnce('txn-1', 60_000)).toBe(false);

    const owner = await store.acquireLock('refresh:x', 60_000);
    expect(owner).toBeTruthy();
    expect(await store.acquireLock('refresh:x', 60_000)).toBeUndefined();
    await store.releaseLock('refresh:x', 'not-the-owner');
    expect(await store.acquireLock('refresh:x', 60_000)).toBeUndefined();
    await store.releaseLock('refresh:x', owner as string);
    const next = await store.acquireLock('refresh:x', 200);
    expect(next).toBeTruthy();
    await until(async () => (await store.acquireLock('refresh:x', 60_000)) !== undefined, 5_000, 'the lock to lapse');
    // The lapsed owner's release does not free the new owner's lock.
    await store.releaseLock('refresh:x', next as string);
    expect(await store.acquireLock('refresh:x', 60_000)).toBeUndefined();
  });

  it('keeps registered clients per issuer', async () => {
    await store.putRegisteredClient('https://as.example.com', { issuer: 'https://as.example.com', clientId: 'c1', clientSecret: 'registered-secret-value' });
    expect(await store.getRegisteredClient('https://as.example.com')).toMatchObject({ clientId: 'c1' });
    expect(await store.getRegisteredClient('https://other.example.com')).toBeUndefined();
  });

  it('keeps short-lived notes under their key until they lapse', async () => {
    await store.putNote('note:a', { step: 'client', detail: 'first' }, 60_000);
    await store.putNote('note:a', { step: 'client', detail: 'second' }, 60_000);
    expect(await store.getNote('note:a')).toEqual({ step: 'client', detail: 'second' });
    expect(await store.getNote('note:b')).toBeUndefined();
    await store.putNote('note:short', { x: 1 }, 100);
    await until(async () => (await store.getNote('note:short')) === undefined, 5_000, 'the note to lapse');
    await store.purgeExpired();
    expect(await store.getNote('note:a')).toMatchObject({ detail: 'second' });
  });

  it('extends a lock only for its owner, and only while it is held', async () => {
    const owner = (await store.acquireLock('extend:x', 300)) as string;
    expect(await store.extendLock('extend:x', 'not-the-owner', 60_000)).toBe(false);
    expect(await store.extendLock('extend:x', owner, 60_000)).toBe(true);
    // Extended: still held well past its first lifetime.
    await new Promise((r) => setTimeout(r, 600));
    expect(await store.acquireLock('extend:x', 60_000)).toBeUndefined();
    await store.releaseLock('extend:x', owner);
    // Lapsed and taken by another: the first owner cannot get it back by extending.
    const lapsing = (await store.acquireLock('extend:y', 200)) as string;
    await until(async () => (await store.acquireLock('extend:y', 60_000)) !== undefined, 5_000, 'the lock to lapse and be taken');
    expect(await store.extendLock('extend:y', lapsing, 60_000)).toBe(false);
  });

  it('a fenced delete happens only while the fence lock is held with its token', async () => {
    const s = session();
    await store.createSession(s);
    await store.putConnection(s.id, 'default', tokens());
    const generation = (await store.getConnection(s.id, 'default'))?.generation as number;
    const name = refreshLockName(s.id, 'default');
    const lapsed = (await store.acquireLock(name, 200)) as string;
    await until(async () => (await store.acquireLock(name, 60_000)) !== undefined, 5_000, 'the lock to lapse and be taken');
    // The refresher whose lock lapsed (and was taken by another) ends nothing.
    expect(await store.deleteConnection(s.id, 'default', generation, { name, token: lapsed })).toBe(false);
    expect(await store.getConnection(s.id, 'default')).toBeDefined();
    const other = session();
    await store.createSession(other);
    await store.putConnection(other.id, 'default', tokens());
    const otherName = refreshLockName(other.id, 'default');
    const holder = (await store.acquireLock(otherName, 60_000)) as string;
    // Held, but at another generation: nothing either.
    expect(await store.deleteConnection(other.id, 'default', 99, { name: otherName, token: holder })).toBe(false);
    expect(await store.deleteConnection(other.id, 'default', undefined, { name: otherName, token: holder })).toBe(true);
    expect(await store.getConnection(other.id, 'default')).toBeUndefined();
    expect(await store.deleteConnection(other.id, 'default')).toBe(false);
  });

  it('rotates a session in one step: every connection moves with its generation, the old session ends with its MCP bindings', async () => {
    const before = session();
    await store.createSession(before);
    const a = tokens();
    const b = tokens({ scopes: ['mcp:admin'] });
    await store.putConnection(before.id, 'a', a);
    await store.putConnection(before.id, 'b', b);
    expect(await store.replaceConnection(before.id, 'b', 0, { ...b, accessToken: 'at-b-refreshed' })).toBe(true);
    await store.bindMcpSession('mcp-before-rotation', { sessionId: before.id, server: 'a' });
    // A refresh lock of another session, or of a server this one has no connection to, is no obstacle.
    const unrelated = [
      (await store.acquireLock(refreshLockName(session().id, 'a'), 60_000)) as string,
      (await store.acquireLock(refreshLockName(before.id, 'c'), 60_000)) as string,
    ];
    expect(unrelated.every(Boolean)).toBe(true);

    const after = session();
    expect(await store.rotateSession(before.id, after)).toBe(true);
    expect(await store.getSession(after.id)).toEqual(after);
    expect(await store.getConnection(after.id, 'a')).toEqual(a);
    expect(await store.getConnection(after.id, 'b')).toEqual({ ...b, accessToken: 'at-b-refreshed', generation: 1 });
    expect([...(await store.listConnections(after.id)).keys()].sort()).toEqual(['a', 'b']);
    expect(await store.getSession(before.id)).toBeUndefined();
    expect(await store.getConnection(before.id, 'a')).toBeUndefined();
    expect(await store.getMcpSessionOwner('mcp-before-rotation')).toBeUndefined();
    // A refresh that answers after the move finds the old session gone (and never resurrects it); its
    // compare-and-set on the generation works where the connection now is.
    expect(await store.replaceConnection(before.id, 'b', 1, tokens())).toBe(false);
    expect(await store.getSession(before.id)).toBeUndefined();
    expect(await store.replaceConnection(after.id, 'b', 1, tokens({ accessToken: 'at-b-again' }))).toBe(true);
    expect((await store.getConnection(after.id, 'b'))?.accessToken).toBe('at-b-again');
  });

  it('does not rotate a session while one of its connections is being refreshed', async () => {
    const before = session();
    await store.createSession(before);
    const record = tokens();
    await store.putConnection(before.id, 'a', record);
    await store.putConnection(before.id, 'b', tokens());
    const refreshing = (await store.acquireLock(refreshLockName(before.id, 'b'), 60_000)) as string;

    const after = session();
    expect(await store.rotateSession(before.id, after)).toBe(false);
    // Nothing changed: the new session does not exist, the old one holds both connections.
    expect(await store.getSession(after.id)).toBeUndefined();
    expect([...(await store.listConnections(before.id)).keys()].sort()).toEqual(['a', 'b']);

    // The refresh lands in the old session, then lets go: the rotation carries its result over.
    expect(await store.replaceConnection(before.id, 'b', 0, tokens({ accessToken: 'at-refreshed' }))).toBe(true);
    await store.releaseLock(refreshLockName(before.id, 'b'), refreshing);
    expect(await store.rotateSession(before.id, after)).toBe(true);
    expect(await store.getConnection(after.id, 'a')).toEqual(record);
    expect(await store.getConnection(after.id, 'b')).toMatchObject({ accessToken: 'at-refreshed', generation: 1 });
  });

  it('rotating from no session, or from one that has ended, just creates the new session', async () => {
    const fresh = session();
    expect(await store.rotateSession(undefined, fresh)).toBe(true);
    expect(await store.getSession(fresh.id)).toEqual(fresh);
    const ended = session();
    await store.createSession(ended);
    await store.putConnection(ended.id, 'a', tokens());
    await store.deleteSession(ended.id);
    const next = session();
    expect(await store.rotateSession(ended.id, next)).toBe(true);
    expect(await store.getSession(next.id)).toEqual(next);
    expect(await store.listConnections(next.id)).toEqual(new Map());
  });
});

describe.each(kinds.filter((k) => k.name !== 'memory'))('$name store at rest', (kind) => {
  let store: TokenStore;
  beforeAll(() => {
    store = kind.open([k1]);
  });

  it('holds no plaintext secret at rest', async () => {
    const s = session();
    await store.createSession(s);
    const record = tokens();
    await store.putConnection(s.id, 'default', record);
    await store.bindMcpSession('mcp-session-plain', { sessionId: s.id, server: 'default' });
    await store.consumeOnce('login-transaction-id-plain', 60_000);
    await store.putNote(`login:${s.id}`, { detail: 'note-plaintext-value' }, 60_000);
    await store.putRegisteredClient('https://as.example.com', { issuer: 'https://as.example.com', clientId: 'c1', clientSecret: 'registered-secret-value' });
    const dump = await kind.dump();
    expect(dump).toContain('v2.k1.');
    expect(dump).not.toContain('v1.k1.');
    for (const secret of [record.accessToken, record.refreshToken as string, s.id, 'mcp-session-plain', 'login-transaction-id-plain', 'registered-secret-value', 'note-plaintext-value']) {
      expect(dump.includes(secret), secret).toBe(false);
    }
  });

  it('key rotation: records under an old key are read and re-encrypted; a removed key reads as absent', async () => {
    const s = session();
    await store.createSession(s);
    const record = tokens();
    await store.putConnection(s.id, 'default', record);

    // Rotate: k2 first (encrypts), k1 still there (decrypts).
    const rotated = kind.open([k2, k1]);
    expect(await rotated.getConnection(s.id, 'default')).toEqual(record);
    // The read wrote it back under k2: a store with k2 alone opens it.
    const k2only = kind.open([k2]);
    expect(await k2only.getConnection(s.id, 'default')).toEqual(record);

    // Everything else moves over with reencryptAll (what `rekey` runs).
    const other = session();
    await store.createSession(other);
    await store.putConnection(other.id, 'default', tokens());
    await store.bindMcpSession('mcp-rotated', { sessionId: other.id, server: 'default' });
    const report = await rotated.reencryptAll();
    expect(report.reencrypted).toBeGreaterThanOrEqual(2);
    expect(report.unreadable).toBe(0);
    expect(await k2only.getConnection(other.id, 'default')).toBeDefined();
    expect(await k2only.getMcpSessionOwner('mcp-rotated')).toEqual({ sessionId: other.id, server: 'default' });
    expect(await k2only.reencryptAll()).toEqual({ reencrypted: 0, unreadable: 0 });

    // A key that was removed too early: the record is unreadable, which is "not connected", not an error.
    const unrelated = kind.open([newKey('k3')]);
    expect(await unrelated.getConnection(s.id, 'default')).toBeUndefined();
    expect(await unrelated.getSession(s.id)).toBeDefined();
    expect(await unrelated.getSessionWithConnection(s.id, 'default')).toEqual({ session: s, record: undefined });
    expect((await unrelated.reencryptAll()).unreadable).toBeGreaterThan(0);
  });

  it('an older ciphertext put back under a newer generation is refused: a store writer cannot roll tokens back', async () => {
    const raw = kind.raw as NonNullable<Kind['raw']>;
    const s = session();
    await store.createSession(s);
    const before = tokens({ scopes: ['mcp:tools', 'admin'] });
    await store.putConnection(s.id, 'default', before);
    expect(await store.getConnection(s.id, 'default')).toEqual(before);
    const old = await raw.get(s.id, 'default');
    const refreshed = tokens();
    expect(await store.replaceConnection(s.id, 'default', old.generation, refreshed)).toBe(true);
    expect((await raw.get(s.id, 'default')).generation).toBe(old.generation + 1);

    await raw.setSealed(s.id, 'default', old.sealed);
    // Absent (the user connects again), never the old tokens; in this process and in a fresh one.
    expect(await store.getConnection(s.id, 'default')).toBeUndefined();
    expect((await store.getSessionWithConnection(s.id, 'default'))?.record).toBeUndefined();
    expect(await kind.open([k1]).getConnection(s.id, 'default')).toBeUndefined();
  });

  it('a v1 record (written before the generation was bound) still opens, and is written back as v2', async () => {
    const raw = kind.raw as NonNullable<Kind['raw']>;
    const s = session();
    await store.createSession(s);
    const record = tokens();
    await store.putConnection(s.id, 'default', record);
    const { generation } = await raw.get(s.id, 'default');
    await raw.setSealed(s.id, 'default', legacyV1(k1, { ...record, generation }, connectionAad(storageKey(s.id), 'default')));

    const fresh = kind.open([k1]);
    expect(await fresh.getConnection(s.id, 'default')).toEqual({ ...record, generation });
    const rewritten = (await raw.get(s.id, 'default')).sealed;
    expect(rewritten).toMatch(/^v2\.k1\./);
    expect(await kind.open([k1]).getConnection(s.id, 'default')).toEqual({ ...record, generation });
    // rekey finds nothing left to rewrite here.
    await fresh.reencryptAll();
    expect((await raw.get(s.id, 'default')).sealed).toBe(rewritten);
  });
});

/** What RecordCipher wrote before v2: `v1.<keyId>.<iv>.<tag>.<ciphertext>`, the AAD being the place only. */
function legacyV1(key: { id: string; key: Buffer }, value: unknown, aad: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key.key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
  return ['v1', key.id, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
}

describe('ciphertext format', () => {
  it('names its key id in clear, so that the right key opens it after a rotation', () => {
    const sealed = cipherFor(k2, k1).encrypt('x', 'aad');
    expect(keyIdOf(sealed)).toBe('k2');
  });
});
