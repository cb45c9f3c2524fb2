import { Context } from 'hono';
import { sealData } from 'iron-session';
import { afterEach, describe, expect, it } from 'vitest';
import { CookieJar, newSessionId, pendingSetCookies } from '../src/session/cookies.js';
import { Sessions } from '../src/session/session.js';
import { MemoryTokenStore } from '../src/store/memory.js';
import { CachedStore } from '../src/store/session-cache.js';
import type { SessionWithConnection, TokenRecord } from '../src/store/types.js';
import { cipherFor, newKey } from './vault-support.js';

/**
 * Sessions.currentWithConnection, what every proxied call asks first: answered without waiting when
 * the cookie's seal and the session with its connection are in memory and nothing has to be written
 * back; otherwise it reads and writes as before (the idle end, a cookie sealed with an older secret,
 * a session that ended).
 */

const OLD_SECRET = 'old-session-secret-for-this-test-only-0123456789';
const NEW_SECRET = 'new-session-secret-for-this-test-only-0123456789';
const IDLE_SECONDS = 600;
/** Sessions writes the idle end back when it moved by a tenth of the idle timeout. */
const TOUCH_EVERY_MS = (IDLE_SECONDS * 1000) / 10;

function tokens(): TokenRecord {
  return {
    accessToken: 'at-1',
    refreshToken: 'rt-1',
    scopes: ['mcp:tools'],
    issuedAt: Date.now(),
    expiresAt: Date.now() + 3_600_000,
    issuer: 'http://127.0.0.1:1',
    clientId: 'c',
    resource: 'http://127.0.0.1:1/mcp',
    generation: 1,
  };
}

async function setup(options: { sealWith?: { id: number; secret: string } } = {}) {
  let now = Date.now();
  const clock = () => now;
  const store = new MemoryTokenStore({ cipher: cipherFor(newKey('k1')), now: clock });
  const touches: number[] = [];
  const touch = store.touchSession.bind(store);
  store.touchSession = (id, idleExpiresAt) => {
    touches.push(idleExpiresAt);
    return touch(id, idleExpiresAt);
  };
  const reads = { count: 0 };
  const read = store.getSessionWithConnection.bind(store);
  store.getSessionWithConnection = (id, server) => {
    reads.count++;
    return read(id, server);
  };
  const cache = new CachedStore(store, store.changes, { now: clock });
  const secrets = [
    { id: 2, secret: NEW_SECRET },
    { id: 1, secret: OLD_SECRET },
  ];
  const cookies = new CookieJar({ secure: false, secrets, sessionTtlSeconds: 3600 });
  const sessions = new Sessions(cookies, cache, { ttlSeconds: 3600, idleTimeoutSeconds: IDLE_SECONDS });
  // Sessions reads the time from Date.now: the test moves both clocks together (put back after each test).
  const advance = (ms: number) => {
    now += ms;
    Date.now = () => now;
  };

  const id = newSessionId();
  await store.createSession({ id, createdAt: now, expiresAt: now + 3_600_000, idleExpiresAt: now + IDLE_SECONDS * 1000 });
  await store.putConnection(id, 'default', tokens());
  const seal = options.sealWith ?? secrets[0];
  const sealed = await sealData({ sid: id }, { password: { [String(seal?.id)]: seal?.secret as string }, ttl: 3600 });
  const context = () => new Context(new Request('http://localhost/mcp/default', { headers: { cookie: `mcp_session=${sealed}` } }));
  return { id, store, cache, sessions, touches, reads, context, advance };
}

const realNow = Date.now;
afterEach(() => {
  Date.now = realNow;
});

describe('the session lookup of a proxied call', () => {
  it('is answered without waiting once the seal and the session are in memory, with what the store holds', async () => {
    const t = await setup();
    const first = t.sessions.currentWithConnection(t.context(), 'default');
    expect(first).toBeInstanceOf(Promise);
    const read = await first;
    expect(read?.session.id).toBe(t.id);
    expect(read?.record?.accessToken).toBe('at-1');
    expect(t.reads.count).toBe(1);

    const second = t.sessions.currentWithConnection(t.context(), 'default');
    expect(second).not.toBeInstanceOf(Promise);
    expect(second).toEqual(read);
    expect(t.reads.count).toBe(1);
    // A copy: what the caller changes is not the cached session.
    (second as SessionWithConnection).session.idleExpiresAt = 0;
    expect((t.sessions.currentWithConnection(t.context(), 'default') as SessionWithConnection).session.idleExpiresAt).toBe(read?.session.idleExpiresAt);
    expect(t.touches).toEqual([]);
  });

  it('still writes the idle end back when it is due, and is answered without waiting again after', async () => {
    const t = await setup();
    await t.sessions.currentWithConnection(t.context(), 'default');
    t.advance(TOUCH_EVERY_MS - 1_000);
    expect(t.sessions.currentWithConnection(t.context(), 'default')).not.toBeInstanceOf(Promise);
    expect(t.touches).toEqual([]);

    t.advance(2_000);
    const hits = t.cache.hits;
    const due = t.sessions.currentWithConnection(t.context(), 'default');
    expect(due).toBeInstanceOf(Promise);
    const found = await due;
    // Found in memory once (not looked up again to write the idle end), and not read from the store.
    expect(t.cache.hits).toBe(hits + 1);
    expect(t.reads.count).toBe(1);
    expect(t.touches).toEqual([Date.now() + IDLE_SECONDS * 1000]);
    expect(found?.session.idleExpiresAt).toBe(Date.now() + IDLE_SECONDS * 1000);
    expect((await t.store.getSession(t.id))?.idleExpiresAt).toBe(Date.now() + IDLE_SECONDS * 1000);

    // The write told the cache the session changed: read once more, then from memory again.
    const reread = t.reads.count;
    expect(await t.sessions.currentWithConnection(t.context(), 'default')).toEqual(found);
    expect(t.reads.count).toBe(reread + 1);
    expect(t.sessions.currentWithConnection(t.context(), 'default')).not.toBeInstanceOf(Promise);
    expect(t.touches).toHaveLength(1);
  });

  it('seals a cookie sealed with an older secret again on every call until the browser has the new one', async () => {
    const t = await setup({ sealWith: { id: 1, secret: OLD_SECRET } });
    for (let call = 0; call < 2; call++) {
      const c = t.context();
      const found = t.sessions.currentWithConnection(c, 'default');
      expect(found).toBeInstanceOf(Promise);
      expect((await found)?.session.id).toBe(t.id);
      expect(pendingSetCookies(c)).toEqual([expect.stringMatching(/^mcp_session=Fe26\.2\*2\*/)]);
    }
  });

  it('never answers from memory for a session that ended, nor for one past its idle end', async () => {
    const t = await setup();
    await t.sessions.currentWithConnection(t.context(), 'default');
    await t.store.deleteSession(t.id);
    const ended = t.sessions.currentWithConnection(t.context(), 'default');
    expect(ended).toBeInstanceOf(Promise);
    expect(await ended).toBeUndefined();

    const idle = await setup();
    await idle.sessions.currentWithConnection(idle.context(), 'default');
    idle.advance(IDLE_SECONDS * 1000 + 1);
    const late = idle.sessions.currentWithConnection(idle.context(), 'default');
    expect(late).toBeInstanceOf(Promise);
    expect(await late).toBeUndefined();
  });

  it('answers a session without a connection to the server too (the caller counts it as anonymous use)', async () => {
    const t = await setup();
    await t.sessions.currentWithConnection(t.context(), 'other');
    const found = t.sessions.currentWithConnection(t.context(), 'other');
    expect(found).not.toBeInstanceOf(Promise);
    expect(found).toEqual({ session: expect.objectContaining({ id: t.id }), record: undefined });
  });

  it('reads a cookie it has not unsealed, or a forged one, the slow way: never as a session from memory', async () => {
    const t = await setup();
    await t.sessions.currentWithConnection(t.context(), 'default');
    const forged = new Context(new Request('http://localhost/mcp/default', { headers: { cookie: 'mcp_session=Fe26.2*2*forged' } }));
    const found = t.sessions.currentWithConnection(forged, 'default');
    expect(found).toBeInstanceOf(Promise);
    expect(await found).toBeUndefined();
    const none = t.sessions.currentWithConnection(new Context(new Request('http://localhost/mcp/default')), 'default');
    expect(await none).toBeUndefined();
  });
});
