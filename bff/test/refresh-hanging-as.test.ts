import { join } from 'node:path';
import { getRequestListener } from '@hono/node-server';
import { unsealData } from 'iron-session';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Listening, listen } from '../../demo/src/listen.js';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { SqliteTokenStore } from '../src/store/sqlite.js';
import { loginAtVariant, TEST_SESSION_SECRET } from './hostile-support.js';
import { MCP_HEADERS, rpc, TestBrowser } from './support.js';
import { startVariant, type Variant } from './variant-server.js';
import { cipherFor, type Forwarder, newKey, startForwarder, tempDir, until } from './vault-support.js';

/**
 * An authorization server that hangs on refresh, seen by two BFF instances (in this process, each on
 * its own port) sharing one SQLite token store behind a load balancer the test steers. What a person
 * waits is bounded by AUTH_SERVER_TIMEOUT_MS + 2 s, whichever instance answers and however many calls
 * wait for the same refresh; and a call made once the AS has recovered is not held hostage by a refresh
 * that hung before it.
 */

const AS_TIMEOUT_MS = 2_000;
/** refreshDeadlineMs(AS_TIMEOUT_MS), plus a loaded machine's margin. */
const BOUND_MS = AS_TIMEOUT_MS + 2_000 + 1_500;

const dir = tempDir('hanging-as');
let variant: Variant;
let store: SqliteTokenStore;
let lb: Forwarder;
const instances: Listening[] = [];

beforeAll(async () => {
  variant = await startVariant();
  store = new SqliteTokenStore({ path: join(dir.path, 'bff.db'), cipher: cipherFor(newKey('k1')) });
  lb = await startForwarder('localhost');
  const config = loadConfig({
    PUBLIC_URL: lb.origin,
    MCP_SERVER_URL: variant.url,
    SESSION_SECRET: TEST_SESSION_SECRET,
    ALLOW_HTTP_LOOPBACK: '1',
    LOG_LEVEL: 'silent',
    TOKEN_STORE: 'memory',
    AUTH_SERVER_TIMEOUT_MS: String(AS_TIMEOUT_MS),
  });
  for (let i = 0; i < 2; i++) {
    const instance = await listen(0, '127.0.0.1');
    instance.handle(getRequestListener(createApp({ config, store, log: createLogger('silent') }).fetch));
    instances.push(instance);
  }
  lb.targets.push(...instances.map((i) => i.origin));
}, 30_000);

afterAll(async () => {
  await Promise.all([lb?.close(), variant?.close(), ...instances.map((i) => i.close())]);
  await store?.close();
  dir.remove();
});

/** Sends the next requests to these instances only. */
function useInstances(...which: number[]): void {
  lb.targets.splice(0, lb.targets.length, ...which.map((i) => (instances[i] as Listening).origin));
}

/** A logged-in browser whose access token must be refreshed before its next use. */
async function connectedAndExpiring(): Promise<{ browser: TestBrowser; sid: string }> {
  useInstances(0, 1);
  const browser = new TestBrowser(lb.origin);
  expect((await loginAtVariant(browser)).status).toBe(302);
  const sealed = /mcp_session=([^;]+)/.exec(browser.jar.header(lb.origin) ?? '')?.[1] as string;
  const { sid } = await unsealData<{ sid: string }>(sealed, { password: { 1: TEST_SESSION_SECRET } });
  const record = await store.getConnection(sid, 'default');
  if (!record) throw new Error('no connection');
  const now = Date.now();
  await store.putConnection(sid, 'default', { ...record, issuedAt: now - 600_000, expiresAt: now + 1_000 });
  return { browser, sid };
}

async function timedCall(browser: TestBrowser): Promise<{ status: number; ms: number }> {
  const started = Date.now();
  const res = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list') });
  await res.text();
  return { status: res.status, ms: Date.now() - started };
}

describe('an authorization server that hangs on refresh', () => {
  it('two calls, one on each instance: each is answered 503 within AUTH_SERVER_TIMEOUT_MS + 2 s, the connection kept', async () => {
    const { browser, sid } = await connectedAndExpiring();
    const before = await store.getConnection(sid, 'default');
    variant.faults.refresh = 'hang';
    const hitsBefore = variant.hits.refresh;
    try {
      useInstances(0);
      const first = timedCall(browser);
      // The first instance holds the refresh lock and waits on the AS; the second waits behind it.
      await until(() => variant.hits.refresh > hitsBefore, 5_000, 'the refresh to reach the AS');
      useInstances(1);
      const second = timedCall(browser);
      const answers = await Promise.all([first, second]);
      for (const { status, ms } of answers) {
        expect(status).toBe(503);
        expect(ms).toBeLessThan(BOUND_MS);
      }
    } finally {
      delete variant.faults.refresh;
    }
    expect(await store.getConnection(sid, 'default')).toEqual(before);
    useInstances(1);
    expect((await timedCall(browser)).status).toBe(200);
  });

  it('a call made once the AS has recovered succeeds, though it came while an earlier refresh still hung', async () => {
    const { browser } = await connectedAndExpiring();
    useInstances(0);
    variant.faults.refresh = 'hang';
    const hitsBefore = variant.hits.refresh;
    const hung = timedCall(browser);
    // The first attempt timed out and its retry hangs too; then the AS recovers.
    await until(() => variant.hits.refresh >= hitsBefore + 2, 10_000, 'the retry to reach the AS');
    delete variant.faults.refresh;
    const afterRecovery = await timedCall(browser);
    expect(afterRecovery.status).toBe(200);
    expect(afterRecovery.ms).toBeLessThan(BOUND_MS);
    expect((await hung).status).toBe(503);
  });
});
