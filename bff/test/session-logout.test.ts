import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MCP_HEADERS, rpc, TestBrowser } from './support.js';
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
  until,
} from './vault-support.js';

/** Logout against an authorization server whose revocation endpoint hangs. */

const dir = tempDir('logout');
let lb: Forwarder;
let up: Upstreams;
let bff: BffProcess;

beforeAll(async () => {
  lb = await startForwarder('localhost');
  up = await startUpstreams(`${lb.origin}/bff/callback/default`);
  bff = await startBffProcess(
    bffEnv({ publicUrl: lb.origin, mcpUrl: up.mcpUrl, store: `sqlite:${dir.path}/bff.db`, keys: newKey('k1').env }),
  );
  lb.targets.push(bff.url);
}, 60_000);

afterAll(async () => {
  await bff?.stop();
  await Promise.all([lb?.close(), up?.close()]);
  dir.remove();
});

describe('logout', () => {
  it('a revocation endpoint that hangs delays logout by a bounded time only; the session ends at once; twice is fine', async () => {
    const browser = new TestBrowser(lb.origin);
    await browser.login();
    const oldCookie = browser.jar.header(lb.origin) as string;
    up.holdRevocation = true;
    const started = Date.now();
    let finished = false;
    const pending = browser.request('/bff/logout', { method: 'POST' }).finally(() => {
      finished = true;
    });
    // While the revocation hangs, the session is already gone: the old cookie gets nothing.
    const replay = () =>
      browser
        .request('/mcp/default', { method: 'POST', headers: { ...MCP_HEADERS, cookie: oldCookie }, body: rpc('tools/list') })
        .then((r) => r.status);
    await until(async () => up.held > 0 && (await replay()) === 401, 4_000, 'the session to end');
    expect(finished).toBe(false);
    const res = await pending;
    // Bounded by the BFF's revocation timeout (5 s), not by the AS.
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(res.status).toBe(200);
    expect(res.headers.getSetCookie().join()).toMatch(/mcp_session=;.*Max-Age=0/);

    const again = await browser.request('/bff/logout', { method: 'POST', headers: { cookie: oldCookie } });
    expect(again.status).toBe(200);
    expect(await browser.session()).toMatchObject({ authenticated: false, sessionExpiresAt: null });
  }, 30_000);
});
