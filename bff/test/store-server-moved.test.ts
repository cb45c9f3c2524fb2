import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Listening, listen } from '../../demo/src/listen.js';
import { Database } from '../src/store/sqlite-driver.js';
import { INITIALIZE, MCP_HEADERS, TestBrowser } from './support.js';
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
 * An operator points a server id at another URL and restarts the BFF on the same store. The tokens
 * stored for that id were issued for the old URL (their `resource`); the new host must never receive
 * them as bearer tokens.
 */

const k1 = newKey('k1');
const dir = tempDir('moved');
const dbPath = join(dir.path, 'bff.db');
let lb: Forwarder;
let up: Upstreams;
let moved: Listening;
let bff: BffProcess | undefined;
/** Authorization headers the new host received, one per request ('' for none). */
const seenAtNewHost: string[] = [];

async function restart(mcpUrl: string): Promise<void> {
  await bff?.stop();
  bff = await startBffProcess(bffEnv({ publicUrl: lb.origin, mcpUrl, store: `sqlite:${dbPath}`, keys: k1.env }));
  lb.targets.splice(0, lb.targets.length, bff.url);
}

function callMcp(browser: TestBrowser): Promise<Response> {
  return browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: INITIALIZE });
}

beforeAll(async () => {
  lb = await startForwarder('localhost');
  up = await startUpstreams(`${lb.origin}/bff/callback/default`);
  // The new host: whatever it is, it records what it is sent and asks for authorization.
  moved = await listen(0, '127.0.0.1');
  moved.handle((req, res) => {
    seenAtNewHost.push(req.headers.authorization ?? '');
    req.resume();
    req.on('end', () => {
      res.writeHead(401, { 'www-authenticate': `Bearer resource_metadata="${moved.origin}/.well-known/oauth-protected-resource/mcp"` });
      res.end();
    });
  });
  await restart(up.mcpUrl);
}, 60_000);

afterAll(async () => {
  await bff?.stop();
  await Promise.all([lb?.close(), up?.close(), moved?.close()]);
  dir.remove();
});

describe('a server whose URL changed under the same id', () => {
  it('never gets the tokens issued for the old URL: the connection reads as absent and is deleted', async () => {
    const browser = new TestBrowser(lb.origin);
    await browser.login();
    expect((await callMcp(browser)).status).toBe(200);
    const oldTokens = up.mcp.received
      .map((r) => String(r.headers.authorization ?? '').replace(/^Bearer /, ''))
      .filter((t) => t.length > 20);
    expect(oldTokens.length).toBeGreaterThan(0);

    await restart(`${moved.origin}/mcp`);
    const res = await callMcp(browser);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'login_required' });
    expect(seenAtNewHost.length).toBeGreaterThan(0);
    expect(seenAtNewHost.filter((a) => a !== '')).toEqual([]);
    for (const token of oldTokens) expect(seenAtNewHost.some((a) => a.includes(token))).toBe(false);
    expect(await browser.session()).toMatchObject({ connections: [{ server: 'default', status: 'login_required' }] });
    expect(await bff?.logged((l) => l.kind === 'token_resource_mismatch', 'the token_resource_mismatch log line')).toBeDefined();

    // Deleted from the store, not merely skipped: nothing is left to send anywhere.
    const db = new Database(dbPath, { readonly: true });
    try {
      expect(db.prepare('SELECT count(*) AS n FROM connections').get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
    // And another call still goes out without a token.
    expect((await callMcp(browser)).status).toBe(401);
    expect(seenAtNewHost.filter((a) => a !== '')).toEqual([]);
  }, 60_000);
});
