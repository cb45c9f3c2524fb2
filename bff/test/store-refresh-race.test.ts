import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import type { OAuthClient } from '../src/oauth/client.js';
import { OAuthFailure } from '../src/oauth/errors.js';
import { TokenManager } from '../src/oauth/tokens.js';
import { StoreUnavailable } from '../src/store/errors.js';
import { MemoryTokenStore } from '../src/store/memory.js';
import { RedisTokenStore } from '../src/store/redis.js';
import { SqliteTokenStore } from '../src/store/sqlite.js';
import type { SessionRecord, TokenRecord, TokenStore } from '../src/store/types.js';
import { cipherFor, newKey, type RedisServer, startRedis, tempDir, until } from './vault-support.js';

/**
 * The races between BFF instances that the cluster test cannot time on purpose: here another
 * "instance" is the test itself writing to the shared store at the worst moment, and the
 * authorization server is a stand-in whose answers the test controls. The happy paths run against
 * the real demo AS in store-redis-cluster.test.ts and proxy.test.ts.
 */

const log = createLogger('silent');
let counter = 0;

function record(overrides: Partial<TokenRecord> = {}): TokenRecord {
  counter++;
  const now = Date.now();
  return {
    accessToken: `at-${counter}`,
    refreshToken: `rt-${counter}`,
    scopes: ['mcp:tools'],
    issuedAt: now - 600_000,
    expiresAt: now + 1_000, // about to expire: needs a refresh
    issuer: 'https://as.example.com',
    clientId: 'client',
    resource: 'https://mcp.example.com/mcp',
    generation: 0,
    ...overrides,
  };
}

async function connected(store: TokenStore): Promise<{ sid: string; stale: TokenRecord }> {
  const sid = `session-${++counter}`;
  const now = Date.now();
  const session: SessionRecord = { id: sid, createdAt: now, expiresAt: now + 3_600_000, idleExpiresAt: now + 3_600_000 };
  await store.createSession(session);
  await store.putConnection(sid, 'default', record());
  return { sid, stale: (await store.getConnection(sid, 'default')) as TokenRecord };
}

function fresh(previous: TokenRecord): TokenRecord {
  const now = Date.now();
  return { ...record(), issuedAt: now, expiresAt: now + 600_000, generation: previous.generation + 1 };
}

/** An AS stand-in: `refresh` does what the test says, and counts the refresh tokens it was sent. */
function fakeClient(refresh: (r: TokenRecord) => Promise<TokenRecord>): { clients: Map<string, OAuthClient>; sent: string[] } {
  const sent: string[] = [];
  const client = {
    refresh: async (r: TokenRecord) => {
      sent.push(r.refreshToken as string);
      return refresh(r);
    },
  } as unknown as OAuthClient;
  return { clients: new Map([['default', client]]), sent };
}

describe('refresh across instances', () => {
  it('a waiter uses what the lock holder stored, and never sends the spent refresh token', async () => {
    const store = new MemoryTokenStore();
    const { sid, stale } = await connected(store);
    const { clients, sent } = fakeClient(async (r) => fresh(r));
    // Another instance holds the lock and is refreshing.
    const lock = await store.acquireLock(`refresh\u0000${sid}\u0000default`, 60_000);
    let attempts = 0;
    const counting: TokenStore = Object.create(store);
    counting.acquireLock = (...args) => {
      attempts++;
      return store.acquireLock(...args);
    };
    const waiting = new TokenManager(counting, clients, log, { lockTtlMs: 60_000 }).getAccess(sid, 'default');
    await until(() => attempts >= 2, 5_000, 'the waiter to find the lock taken');
    const theirs = fresh(stale);
    await store.replaceConnection(sid, 'default', stale.generation, theirs);
    await store.releaseLock(`refresh\u0000${sid}\u0000default`, lock as string);
    const outcome = await waiting;
    expect(outcome).toMatchObject({ kind: 'ok', record: { accessToken: theirs.accessToken, generation: stale.generation + 1 } });
    expect(sent).toEqual([]);
  });

  it('a holder that died: its lock lapses and a waiter refreshes once', async () => {
    const store = new MemoryTokenStore();
    const { sid, stale } = await connected(store);
    const { clients, sent } = fakeClient(async (r) => fresh(r));
    await store.acquireLock(`refresh\u0000${sid}\u0000default`, 300); // never released
    const outcome = await new TokenManager(store, clients, log, { lockTtlMs: 300 }).getAccess(sid, 'default');
    expect(outcome.kind).toBe('ok');
    expect(sent).toEqual([stale.refreshToken]);
  });

  it('invalid_grant after a race: the store is read again before the connection is ended', async () => {
    const store = new MemoryTokenStore();
    const { sid, stale } = await connected(store);
    const theirs = fresh(stale);
    const { clients } = fakeClient(async () => {
      // Another instance (whose lock lapsed under it) spent the token first and stored its successor.
      await store.replaceConnection(sid, 'default', stale.generation, theirs);
      throw new OAuthFailure('invalid_grant', 'refresh token rejected');
    });
    const outcome = await new TokenManager(store, clients, log).getAccess(sid, 'default');
    expect(outcome).toMatchObject({ kind: 'ok', record: { accessToken: theirs.accessToken } });
    expect((await store.getConnection(sid, 'default'))?.accessToken).toBe(theirs.accessToken);
  });

  it('invalid_grant with nobody else involved ends the connection', async () => {
    const store = new MemoryTokenStore();
    const { sid } = await connected(store);
    const { clients } = fakeClient(async () => {
      throw new OAuthFailure('invalid_grant', 'refresh token rejected');
    });
    expect(await new TokenManager(store, clients, log).getAccess(sid, 'default')).toEqual({ kind: 'login_required' });
    expect(await store.getConnection(sid, 'default')).toBeUndefined();
    expect(await store.getSession(sid)).toBeDefined();
  });

  it('a writer that lost the race does not overwrite newer tokens', async () => {
    const store = new MemoryTokenStore();
    const { sid, stale } = await connected(store);
    const theirs = fresh(stale);
    const { clients } = fakeClient(async (r) => {
      await store.replaceConnection(sid, 'default', stale.generation, theirs);
      return fresh(r);
    });
    const outcome = await new TokenManager(store, clients, log).getAccess(sid, 'default');
    expect(outcome).toMatchObject({ kind: 'ok', record: { accessToken: theirs.accessToken } });
    expect((await store.getConnection(sid, 'default'))?.accessToken).toBe(theirs.accessToken);
  });

  it('logout while the AS answers: the session is not resurrected', async () => {
    const store = new MemoryTokenStore();
    const { sid } = await connected(store);
    const { clients } = fakeClient(async (r) => {
      await store.deleteSession(sid);
      return fresh(r);
    });
    expect(await new TokenManager(store, clients, log).getAccess(sid, 'default')).toEqual({ kind: 'login_required' });
    expect(await store.getSession(sid)).toBeUndefined();
    expect(await store.getConnection(sid, 'default')).toBeUndefined();
  });

  it('a brief store outage while storing refreshed tokens: the write is retried, the new tokens kept', async () => {
    const store = new MemoryTokenStore();
    const { sid } = await connected(store);
    let failures = 2;
    const flaky: TokenStore = Object.create(store);
    flaky.replaceConnection = (...args) => {
      if (failures-- > 0) return Promise.reject(new StoreUnavailable('down'));
      return store.replaceConnection(...args);
    };
    let issued: TokenRecord | undefined;
    const { clients } = fakeClient(async (r) => {
      issued = fresh(r);
      return issued;
    });
    const outcome = await new TokenManager(flaky, clients, log).getAccess(sid, 'default');
    expect(outcome).toMatchObject({ kind: 'ok', record: { accessToken: issued?.accessToken } });
    expect((await store.getConnection(sid, 'default'))?.accessToken).toBe(issued?.accessToken);
  });

  it('the store down before a refresh: fails closed (StoreUnavailable, answered 503), the AS is not asked', async () => {
    const store = new MemoryTokenStore();
    const { sid } = await connected(store);
    const down: TokenStore = Object.create(store);
    down.acquireLock = () => Promise.reject(new StoreUnavailable('down'));
    const { clients, sent } = fakeClient(async (r) => fresh(r));
    await expect(new TokenManager(down, clients, log).getAccess(sid, 'default')).rejects.toBeInstanceOf(StoreUnavailable);
    expect(sent).toEqual([]);
    expect(await store.getConnection(sid, 'default')).toBeDefined();
  });
});

/**
 * Two "instances" (two TokenManagers) on one real store, each with its own stand-in of the same AS:
 * what happens when a refresh outlives its lock's first lifetime.
 */
describe.each(['memory', 'sqlite', 'redis'] as const)('a slow refresh, two instances on the %s store', (kind) => {
  let redis: RedisServer | undefined;
  const dir = tempDir('race');
  const key = newKey('k1');
  let store: TokenStore;
  beforeAll(async () => {
    if (kind === 'redis') redis = await startRedis();
    store =
      kind === 'memory'
        ? new MemoryTokenStore()
        : kind === 'sqlite'
          ? new SqliteTokenStore({ path: join(dir.path, 'race.db'), cipher: cipherFor(key) })
          : new RedisTokenStore({ url: (redis as RedisServer).url, cipher: cipherFor(key), prefix: 'race:' });
  }, 30_000);
  afterAll(async () => {
    await store?.close();
    await redis?.close();
    dir.remove();
  });

  it('the holder renews its lock while it works: the other instance waits for its tokens and never sends the same refresh token', async () => {
    const { sid, stale } = await connected(store);
    const sent: string[] = [];
    let issued: TokenRecord | undefined;
    const slowAs = (delayMs: number) =>
      fakeClient(async (r) => {
        sent.push(r.refreshToken as string);
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        issued = fresh(r);
        return issued;
      }).clients;
    // The lock lives 300 ms unless renewed; the AS takes 1.5 s.
    const options = { lockTtlMs: 300, deadlineMs: 10_000 };
    const a = new TokenManager(store, slowAs(1_500), log, options).getAccess(sid, 'default');
    await until(() => sent.length === 1, 5_000, 'the first instance to send its refresh');
    const b = new TokenManager(store, slowAs(0), log, options).getAccess(sid, 'default');
    const [first, second] = await Promise.all([a, b]);
    expect(sent).toEqual([stale.refreshToken]);
    expect(first).toMatchObject({ kind: 'ok', record: { accessToken: issued?.accessToken } });
    expect(second).toMatchObject({ kind: 'ok', record: { accessToken: issued?.accessToken } });
    expect((await store.getConnection(sid, 'default'))?.accessToken).toBe(issued?.accessToken);
  });

  it('a refresher that lost its lock does not end the connection on invalid_grant: the instance that took over keeps it', async () => {
    const { sid } = await connected(store);
    // Instance A stalls (a blocked event loop, a paused VM): its renewals never reach the store, so it
    // does not know that its lock lapsed, and B takes it.
    const stalled: TokenStore = Object.create(store);
    stalled.extendLock = async () => true;
    let aSent = false;
    let aSettled = false;
    let bSent = false;
    let theirs: TokenRecord | undefined;
    const { clients: aClients } = fakeClient(async () => {
      aSent = true;
      // The AS had already taken B's request: A's copy of the refresh token is spent.
      await until(() => bSent, 10_000, 'the other instance to send its refresh');
      throw new OAuthFailure('invalid_grant', 'refresh token rejected');
    });
    const { clients: bClients } = fakeClient(async (r) => {
      bSent = true;
      // B's answer arrives only after A has decided what to do with its invalid_grant.
      await until(() => aSettled, 10_000, 'the first instance to settle');
      theirs = fresh(r);
      return theirs;
    });
    const a = new TokenManager(stalled, aClients, log, { lockTtlMs: 200, deadlineMs: 10_000 }).getAccess(sid, 'default').finally(() => {
      aSettled = true;
    });
    await until(() => aSent, 5_000, 'A to send its refresh');
    const b = new TokenManager(store, bClients, log, { lockTtlMs: 5_000, deadlineMs: 10_000 }).getAccess(sid, 'default');
    const [outcomeA, outcomeB] = await Promise.all([a, b]);
    expect(outcomeA.kind).not.toBe('login_required');
    expect(outcomeB).toMatchObject({ kind: 'ok', record: { accessToken: theirs?.accessToken } });
    expect((await store.getConnection(sid, 'default'))?.accessToken).toBe(theirs?.accessToken);
  });
});
