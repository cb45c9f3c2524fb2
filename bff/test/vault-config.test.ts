import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_TOKEN_STORE, loadConfig } from '../src/config.js';

const base = {
  PUBLIC_URL: 'https://app.example.com',
  MCP_SERVER_URL: 'https://mcp.example.com/mcp',
  OAUTH_CLIENT_ID: 'client',
  OAUTH_CLIENT_SECRET: 'secret',
  // Test-only, public in this repository.
  SESSION_SECRET: 'NJQA7l/CJUKp+wCOMZfFr1oEnfR1tDEyZd495OrN7qWg09pxMdYpbzvoRIFeukRC',
};
const key = () => randomBytes(32).toString('base64');

function problems(env: Record<string, string>, options = {}): string[] {
  try {
    loadConfig({ ...base, ...env }, options);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('token vault configuration', () => {
  it('pnpm serve defaults to SQLite and then needs TOKEN_ENCRYPTION_KEYS; embedders and tests default to memory', () => {
    expect(problems({}, { defaultTokenStore: DEFAULT_TOKEN_STORE }).join('\n')).toMatch(/TOKEN_ENCRYPTION_KEYS is required/);
    const serve = loadConfig({ ...base, TOKEN_ENCRYPTION_KEYS: `k1:${key()}` }, { defaultTokenStore: DEFAULT_TOKEN_STORE });
    expect(serve.tokenStore).toEqual({ kind: 'sqlite', path: './data/bff.db' });
    expect(loadConfig(base).tokenStore).toEqual({ kind: 'memory' });
    expect(loadConfig(base).sessionIdleTimeoutSeconds).toBe(3600);
  });

  it('reads sqlite:, redis:// URLs and REDIS_URL', () => {
    const keys = { TOKEN_ENCRYPTION_KEYS: `k1:${key()}` };
    expect(loadConfig({ ...base, ...keys, TOKEN_STORE: 'sqlite:/var/lib/bff/vault.db' }).tokenStore).toEqual({ kind: 'sqlite', path: '/var/lib/bff/vault.db' });
    expect(loadConfig({ ...base, ...keys, TOKEN_STORE: 'rediss://:pw@redis.internal:6380/2' }).tokenStore).toEqual({
      kind: 'redis',
      url: 'rediss://:pw@redis.internal:6380/2',
    });
    expect(loadConfig({ ...base, ...keys, REDIS_URL: 'redis://127.0.0.1:6379' }).tokenStore).toEqual({ kind: 'redis', url: 'redis://127.0.0.1:6379' });
    expect(problems({ ...keys, TOKEN_STORE: 'postgres://x' }).join()).toMatch(/TOKEN_STORE must be memory, sqlite:<file> or a redis:\/\/ URL/);
    expect(problems({ ...keys, TOKEN_STORE: 'redis' }).join()).toMatch(/REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/);
  });

  it('validates every key, lists every problem, and never echoes a key or a Redis password', () => {
    const good = key();
    const list = problems({
      TOKEN_STORE: 'redis://:hunter2-password@:6379',
      TOKEN_ENCRYPTION_KEYS: `k2:${good},bad id:${key()},k1:c2hvcnQ=,k2:${key()},nocolon`,
      SESSION_IDLE_TIMEOUT_SECONDS: '5',
    });
    const text = list.join('\n');
    expect(text).toMatch(/TOKEN_STORE must be a redis/);
    expect(text).toMatch(/entry 2 must be id:key/);
    expect(text).toMatch(/entry 3 \("k1"\) must be 32 bytes/);
    expect(text).toMatch(/ids must be unique/);
    expect(text).toMatch(/entry 5 must be id:key/);
    expect(text).toMatch(/SESSION_IDLE_TIMEOUT_SECONDS must be at least 60/);
    expect(text).not.toContain(good);
    expect(text).not.toContain('c2hvcnQ=');
    expect(text).not.toContain('hunter2');
  });

  it('keeps keys in order: the first encrypts', () => {
    const [a, b] = [key(), key()];
    const c = loadConfig({ ...base, TOKEN_STORE: 'sqlite:./x.db', TOKEN_ENCRYPTION_KEYS: ` k2:${a} , k1:${b} ` });
    expect(c.tokenEncryptionKeys.map((k) => [k.id, k.key.toString('base64')])).toEqual([
      ['k2', a],
      ['k1', b],
    ]);
  });
});
