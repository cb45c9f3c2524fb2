import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { unsealData } from 'iron-session';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CLIENT, DEMO_SESSION_SECRET } from '../../demo/src/stack.js';
import { Database } from '../src/store/sqlite-driver.js';
import { INITIALIZE, MCP_HEADERS, rpc, TestBrowser } from './support.js';
import {
  type BffProcess,
  bffEnv,
  type Forwarder,
  newKey,
  startBffProcess,
  startForwarder,
  startUpstreams,
  tempDir,
  type Upstreams,
} from './vault-support.js';

/**
 * The default store as `pnpm serve` runs it: a BFF process on a SQLite file, restarted with the same
 * file, then with rotated keys and secrets. A one-backend forwarder stands in front so that
 * PUBLIC_URL (and so the cookie's origin) stays the same across restarts.
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const k1 = newKey('k1');
const k2 = newKey('k2');
/** Test-only, public in this repository. */
const NEW_SECRET = 'whYKBEG1PRDvZ4fBQkeJE3aVvV6GZCqtpLR6p7RhzOSeBSxoFTxP4Ll0sZNSAjyU';
const dir = tempDir('sqlite');
const dbPath = join(dir.path, 'data', 'bff.db');
let lb: Forwarder;
let up: Upstreams;
let bff: BffProcess | undefined;
let browser: TestBrowser;

function env(keys: string, extra: Record<string, string> = {}): Record<string, string> {
  return bffEnv({ publicUrl: lb.origin, mcpUrl: up.mcpUrl, store: `sqlite:${dbPath}`, keys, extra });
}

/** Stops the running BFF (SIGTERM) and starts another on the same file with `environment`. */
async function restart(environment: Record<string, string>): Promise<void> {
  await bff?.stop();
  bff = await startBffProcess(environment);
  lb.targets.splice(0, lb.targets.length, bff.url);
}

function grants(grantType: string): number {
  return up.as.tokenRequests.filter((r) => r.grantType === grantType).length;
}

async function callTool(who: TestBrowser = browser): Promise<Response> {
  return who.request('/mcp/default', {
    method: 'POST',
    headers: MCP_HEADERS,
    body: INITIALIZE,
  });
}

function sessionCookie(who: TestBrowser): string {
  return who.jar.header(lb.origin)?.match(/mcp_session=([^;]+)/)?.[1] as string;
}

function fileBytes(): string {
  return ['', '-wal', '-shm']
    .map((suffix) => `${dbPath}${suffix}`)
    .filter(existsSync)
    .map((f) => readFileSync(f).toString('latin1'))
    .join('\n');
}

beforeAll(async () => {
  lb = await startForwarder('localhost');
  up = await startUpstreams(`${lb.origin}/bff/callback/default`);
  await restart(env(k1.env));
  browser = new TestBrowser(lb.origin);
}, 60_000);

afterAll(async () => {
  await bff?.stop();
  await Promise.all([lb?.close(), up?.close()]);
  dir.remove();
});

describe('SQLite token vault across restarts', () => {
  it('a restart keeps the browser session without a new login; the file holds no token, code, verifier or id', async () => {
    const callback = await browser.authorize();
    const loginCookie = browser.jar.header(callback)?.match(/mcp_login=([^;]+)/)?.[1] as string;
    const transaction = await unsealData<{ codeVerifier: string; state: string }>(loginCookie, { password: { 1: DEMO_SESSION_SECRET } });
    await browser.finishLogin(callback);
    const init = await callTool();
    expect(init.status).toBe(200);
    const mcpSessionId = init.headers.get('mcp-session-id') as string;
    const logins = grants('authorization_code');

    await restart(env(k1.env));
    expect((await callTool()).status).toBe(200);
    expect(await browser.session()).toMatchObject({ authenticated: true, connections: [{ status: 'connected' }] });
    expect(grants('authorization_code')).toBe(logins);

    const sid = await browser.sessionId();
    const upstreamTokens = up.mcp.received
      .map((r) => String(r.headers.authorization ?? '').replace(/^Bearer /, ''))
      .filter((t) => t.length > 20);
    expect(upstreamTokens.length).toBeGreaterThan(0);
    const secrets = {
      accessToken: upstreamTokens.at(-1) as string,
      code: callback.searchParams.get('code') as string,
      verifier: transaction.codeVerifier,
      state: transaction.state,
      sessionId: sid,
      sessionCookie: sessionCookie(browser),
      mcpSessionId,
      clientSecret: DEMO_CLIENT.client_secret,
    };
    const bytes = fileBytes();
    expect(bytes).toContain('v2.k1.');
    for (const [name, value] of Object.entries(secrets)) {
      expect(value, name).toBeTruthy();
      expect(bytes.includes(value), `${name} in the SQLite file`).toBe(false);
    }
  }, 60_000);

  it('key rotation, as the README says: add the new key first, re-encrypt, then remove the old key', async () => {
    const logins = grants('authorization_code');
    // 1. New key in front, old key kept.
    await restart(env(`${k2.env},${k1.env}`));
    expect((await callTool()).status).toBe(200);
    // 2. Re-encrypt whatever was not read since.
    const rekey = spawnSync(process.execPath, ['--import', 'tsx', 'bff/src/rekey.ts'], {
      cwd: ROOT,
      env: { ...process.env, ...env(`${k2.env},${k1.env}`) },
      encoding: 'utf8',
    });
    expect(rekey.status, rekey.stderr).toBe(0);
    expect(rekey.stdout).toMatch(/re-encrypted under "k2", 0 unreadable/);
    // 3. Old key removed: the same browser session still works, no new login.
    await restart(env(k2.env));
    expect((await callTool()).status).toBe(200);
    expect(grants('authorization_code')).toBe(logins);

    // A key removed before its records were re-encrypted: those connections need a new login (401),
    // never a 500, and the session itself stays.
    await restart(env(newKey('k3').env));
    const lost = await callTool();
    expect(lost.status).toBe(401);
    expect(await lost.json()).toMatchObject({ error: 'login_required' });
    expect(await browser.session()).toMatchObject({ connections: [{ status: 'login_required' }] });
    await restart(env(k2.env));
    expect((await callTool()).status).toBe(200);
  }, 60_000);

  it('session secret rotation: an old cookie is re-sealed under the newest secret; once the old secret is gone an old cookie is anonymous', async () => {
    const oldCookie = sessionCookie(browser);
    expect(oldCookie.split('*')[1]).toBe('1');
    await restart(env(k2.env, { SESSION_SECRET: `2:${NEW_SECRET},1:${DEMO_SESSION_SECRET}` }));
    // Re-sealed on whatever request comes first, an MCP call too (its answer is streamed by the proxy).
    const seen = await callTool();
    expect(seen.status).toBe(200);
    await seen.text();
    expect(seen.headers.getSetCookie().join()).toMatch(/mcp_session=Fe26\.2\*2\*/);
    expect(sessionCookie(browser).split('*')[1]).toBe('2');
    expect(await (await browser.request('/bff/session')).json()).toMatchObject({ authenticated: true });
    // Once re-sealed, it is not sealed again on every request.
    expect((await browser.request('/bff/session')).headers.getSetCookie()).toEqual([]);

    await restart(env(k2.env, { SESSION_SECRET: `2:${NEW_SECRET}` }));
    expect((await callTool()).status).toBe(200);
    const stale = new TestBrowser(lb.origin);
    const anonymous = await stale.request('/bff/session', { headers: { cookie: `mcp_session=${oldCookie}` } });
    expect(anonymous.status).toBe(200);
    expect(await anonymous.json()).toMatchObject({ authenticated: false, sessionExpiresAt: null });
    const refused = await stale.request('/mcp/default', {
      method: 'POST',
      headers: { ...MCP_HEADERS, cookie: `mcp_session=${oldCookie}` },
      body: rpc('tools/list'),
    });
    expect(refused.status).toBe(401);
  }, 60_000);

  it('idle timeout: /bff/session says when the session ends; an idle session ends and is purged', async () => {
    await restart(env(k2.env, { SESSION_SECRET: `2:${NEW_SECRET}`, SESSION_IDLE_TIMEOUT_SECONDS: '120' }));
    const before = Date.now();
    const info = (await (await browser.request('/bff/session')).json()) as { sessionExpiresAt: number };
    // Used just now: it ends 120 s from now (the absolute end, 8 h, is later).
    expect(info.sessionExpiresAt).toBeGreaterThanOrEqual(before + 110_000);
    expect(info.sessionExpiresAt).toBeLessThanOrEqual(Date.now() + 120_000);

    // Age the session in the file as if nobody had used it for longer than the idle timeout.
    const db = new Database(dbPath);
    try {
      db.prepare('UPDATE sessions SET idle_expires_at = ?').run(Date.now() - 1);
    } finally {
      db.close();
    }
    expect(await browser.session()).toMatchObject({ authenticated: false, sessionExpiresAt: null });
    expect((await callTool()).status).toBe(401);
    // Purged: at start (main.ts purges at once) nothing of it is left in the file.
    await restart(env(k2.env, { SESSION_SECRET: `2:${NEW_SECRET}` }));
    const check = new Database(dbPath, { readonly: true });
    try {
      expect(check.prepare('SELECT count(*) AS n FROM connections').get()).toEqual({ n: 0 });
    } finally {
      check.close();
    }
  }, 60_000);
});
