import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_SESSION_SECRET } from '../../demo/src/stack.js';
import { type BffProcess, newKey, type RedisServer, startBffProcess, startRedis } from './vault-support.js';

/**
 * Per-address limits with a Redis token store: two BFF processes (bff/src/main.ts, as `pnpm serve` runs
 * them) on one real redis-server share each address's budget; while Redis is away each counts on its own.
 */

let redis: RedisServer;
let a: BffProcess;
let b: BffProcess;

beforeAll(async () => {
  redis = await startRedis();
  const env = {
    PUBLIC_URL: 'http://localhost:1',
    // Nothing listens there: a login within the budget fails at discovery, quickly, and still counts.
    MCP_SERVER_URL: 'http://127.0.0.1:1/mcp',
    SESSION_SECRET: DEMO_SESSION_SECRET,
    ALLOW_HTTP_LOOPBACK: '1',
    TOKEN_STORE: redis.url,
    TOKEN_ENCRYPTION_KEYS: newKey('k1').env,
    RATE_LIMIT_LOGIN: '4',
    RATE_LIMIT_ANONYMOUS_MCP: '4',
  };
  [a, b] = await Promise.all([startBffProcess(env), startBffProcess(env)]);
}, 60_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await redis?.close();
});

function send(base: string, path: string, o: { from?: string; method?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; location?: string }> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, method: o.method ?? 'GET', localAddress: o.from ?? '127.0.0.1', headers: { connection: 'close', ...o.headers } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ...(res.headers.location ? { location: res.headers.location } : {}) }));
      },
    );
    req.on('error', reject);
    req.end(o.method === 'POST' ? '{"jsonrpc":"2.0","id":1,"method":"ping"}' : undefined);
  });
}

async function loginError(base: string, from?: string): Promise<string | null> {
  const res = await send(base, '/bff/login?server=default&returnTo=%2F', from ? { from } : {});
  expect(res.status).toBe(302);
  return new URL(res.location as string, 'http://app').searchParams.get('login_error');
}

describe('limits shared on Redis', () => {
  it('/bff/login: two instances share one budget per address', async () => {
    const outcomes = [await loginError(a.url), await loginError(b.url), await loginError(a.url), await loginError(b.url)];
    expect(outcomes).not.toContain('rate_limited');
    expect(await loginError(a.url)).toBe('rate_limited');
    expect(await loginError(b.url)).toBe('rate_limited');
    expect(await redis.dump('mcp-bff:rl:')).toMatch(/^mcp-bff:rl:login:127\.0\.0\.1 = /m);
  });

  it('anonymous /mcp/*: two instances share one budget per address', async () => {
    const post = (base: string) =>
      send(base, '/mcp/default', {
        method: 'POST',
        from: '127.0.0.2',
        headers: { 'x-csrf': '1', 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      });
    const statuses = [];
    for (const base of [a.url, b.url, a.url, b.url, a.url, b.url]) statuses.push((await post(base)).status);
    // 502: nothing listens at the MCP server's address; the request was forwarded.
    expect(statuses).toEqual([502, 502, 502, 502, 429, 429]);
  });

  it('while Redis is away, each instance counts in its own memory (neither refuses everyone nor lets everyone through)', async () => {
    await redis.stop();
    try {
      const outcomes = [];
      for (let i = 0; i < 5; i++) outcomes.push(await loginError(a.url, '127.0.0.3'));
      expect(outcomes.slice(0, 4)).not.toContain('rate_limited');
      expect(outcomes[4]).toBe('rate_limited');
    } finally {
      await redis.start();
    }
  });
});
