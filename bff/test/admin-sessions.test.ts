import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CLIENT, DEMO_SESSION_SECRET, type Stack, startStack } from '../../demo/src/stack.js';
import { storageKey } from '../src/store/keys.js';
import { RedisTokenStore } from '../src/store/redis.js';
import { SqliteTokenStore } from '../src/store/sqlite.js';
import type { TokenStore } from '../src/store/types.js';
import { MCP_HEADERS, rpc, TestBrowser } from './support.js';
import { cipherFor, newKey, type RedisServer, startRedis, tempDir } from './vault-support.js';

/**
 * `pnpm admin sessions list|revoke` as an operator runs it: a process of its own, with the BFF's
 * environment, on the live store (a SQLite file, a redis-server) of a running BFF. What it ends, the
 * BFF refuses at the next request.
 */

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs bff/src/admin.ts in its own process (asynchronously: the BFF and the AS it calls run in this one). */
function admin(env: Record<string, string>, ...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bff/src/admin.ts', ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function mcpStatus(browser: TestBrowser): Promise<{ status: number; error?: string }> {
  const res = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: rpc('tools/list') });
  const text = await res.text();
  return res.status === 200 ? { status: 200 } : { status: res.status, error: (JSON.parse(text) as { error?: string }).error };
}

async function works(browser: TestBrowser): Promise<boolean> {
  const client = await browser.mcpClient();
  const { tools } = await client.listTools();
  await client.close();
  return tools.length > 0;
}

const key = newKey('k1');
const dir = tempDir('admin');
let redis: RedisServer | undefined;

const kinds: Array<{ name: string; open(): Promise<{ store: TokenStore; tokenStore: string }> }> = [
  {
    name: 'sqlite',
    open: async () => {
      const path = join(dir.path, 'bff.db');
      return { store: new SqliteTokenStore({ path, cipher: cipherFor(key) }), tokenStore: `sqlite:${path}` };
    },
  },
  {
    name: 'redis',
    open: async () => {
      redis = await startRedis();
      const store = new RedisTokenStore({ url: redis.url, cipher: cipherFor(key) });
      await store.connect();
      return { store, tokenStore: redis.url };
    },
  },
];

afterAll(async () => {
  await redis?.close();
  dir.remove();
});

describe.each(kinds)('admin sessions on a live $name store', (kind) => {
  let stack: Stack;
  let env: Record<string, string>;
  beforeAll(async () => {
    const { store, tokenStore } = await kind.open();
    stack = await startStack({ store, env: { OAUTH_SCOPES: 'openid mcp:tools' } });
    // The environment the BFF runs with: the same store, keys and servers.
    env = {
      PUBLIC_URL: stack.appUrl,
      MCP_SERVER_URL: stack.mcpUrl,
      MCP_SERVER_NAME: 'Demo MCP server',
      OAUTH_CLIENT_ID: DEMO_CLIENT.client_id,
      OAUTH_CLIENT_SECRET: DEMO_CLIENT.client_secret,
      OAUTH_SCOPES: 'openid mcp:tools',
      SESSION_SECRET: DEMO_SESSION_SECRET,
      ALLOW_HTTP_LOOPBACK: '1',
      TOKEN_STORE: tokenStore,
      TOKEN_ENCRYPTION_KEYS: key.env,
      LOG_LEVEL: 'silent',
    };
  });
  afterAll(async () => {
    await stack.close();
    await stack.store.close();
  });

  it('lists who holds sessions, with no token or session id; revoke --user ends them, and the BFF refuses them at once', async () => {
    const alice = new TestBrowser(stack.appUrl);
    const aliceElsewhere = new TestBrowser(stack.appUrl);
    const bob = new TestBrowser(stack.appUrl);
    await alice.login();
    await aliceElsewhere.login();
    await bob.login({ user: 'bob' });

    const list = await admin(env, 'sessions', 'list');
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^SESSION\s+CREATED\s+LAST SEEN\s+ENDS\s+CONNECTIONS/);
    expect(list.stdout.match(/default: alice @ http:\/\/127\.0\.0\.1:\d+/g)).toHaveLength(2);
    expect(list.stdout).toMatch(/default: bob @ /);
    expect(list.stdout).toContain('3 session(s)');
    for (const browser of [alice, aliceElsewhere, bob]) {
      const sid = await browser.sessionId();
      const record = await stack.store.getConnection(sid, 'default');
      for (const secret of [sid, record?.accessToken, record?.refreshToken, record?.idToken]) expect(list.stdout).not.toContain(secret);
      expect(list.stdout).toContain(storageKey(sid).slice(0, 12));
    }

    const json = JSON.parse((await admin(env, 'sessions', 'list', '--json', '--user', 'alice')).stdout) as Array<{
      session: string;
      connections: Array<{ server: string; user: string; issuer: string; scopes: string[] }>;
    }>;
    expect(json.map((row) => row.session).sort()).toEqual([storageKey(await alice.sessionId()), storageKey(await aliceElsewhere.sessionId())].sort());
    expect(json[0]?.connections).toEqual([{ server: 'default', user: 'alice', issuer: stack.issuer, scopes: expect.arrayContaining(['mcp:tools']) }]);

    const revocationsBefore = stack.as.revocations.length;
    const revoke = await admin(env, 'sessions', 'revoke', '--user', 'alice');
    expect(revoke.stderr).toBe('');
    expect(revoke.code).toBe(0);
    expect(revoke.stdout).toContain('2 session(s) ended');
    expect(await mcpStatus(alice)).toEqual({ status: 401, error: 'login_required' });
    expect(await mcpStatus(aliceElsewhere)).toEqual({ status: 401, error: 'login_required' });
    expect(await alice.session()).toMatchObject({ authenticated: false });
    // Their tokens were revoked at the AS, as a logout does (access and refresh token of each).
    expect(stack.as.revocations.length - revocationsBefore).toBe(4);
    expect(await works(bob)).toBe(true);

    const again = await admin(env, 'sessions', 'revoke', '--user', 'alice');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('No live session matched');
  });

  it('revoke --session ends the one session a prefix of its listed id names', async () => {
    const carol = new TestBrowser(stack.appUrl);
    const dave = new TestBrowser(stack.appUrl);
    await carol.login({ user: 'bob' });
    await dave.login({ user: 'bob' });
    const prefix = storageKey(await carol.sessionId()).slice(0, 12);
    const revoke = await admin(env, 'sessions', 'revoke', '--session', prefix);
    expect(revoke.code).toBe(0);
    expect(revoke.stdout).toContain(`ended ${prefix} (default)`);
    expect(await mcpStatus(carol)).toEqual({ status: 401, error: 'login_required' });
    expect(await works(dave)).toBe(true);
  });

  it('refuses what it cannot do safely, with a usage message', async () => {
    const [dashed, short, both, unknown, noKeys] = await Promise.all([
      // A prefix may start with "-" (base64url): a value, not an option.
      admin(env, 'sessions', 'revoke', '--session', '-AAAAAAAAAAA'),
      admin(env, 'sessions', 'revoke', '--session', 'abc'),
      admin(env, 'sessions', 'revoke'),
      admin(env, 'sessions', 'purge'),
      admin({ ...env, TOKEN_ENCRYPTION_KEYS: '' }, 'sessions', 'list'),
    ]);
    expect(dashed.code).toBe(1);
    expect(dashed.stderr).toContain('No live session matched');
    expect(short.code).toBe(64);
    expect(short.stderr).toContain('--session needs at least 8 characters');
    expect(both.code).toBe(64);
    expect(both.stderr).toContain('exactly one of --user SUB or --session PREFIX');
    expect(unknown.code).toBe(64);
    expect(noKeys.code).toBe(78);
    expect(noKeys.stderr).toContain('TOKEN_ENCRYPTION_KEYS is required');
  });
});
