import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_SERVICE_JWT_CLIENT, DEMO_SERVICE_POST_CLIENT, DEMO_SERVICE_SECRET_CLIENT, demoServiceServer } from '../../demo/src/service-clients.js';
import { listen } from '../../demo/src/listen.js';
import { DEMO_CLIENT, DEMO_SESSION_SECRET, type Stack, startStack } from '../../demo/src/stack.js';
import { createApp } from '../src/app.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { SERVICE_SESSION_ID } from '../src/oauth/service-credentials.js';
import { SqliteTokenStore } from '../src/store/sqlite.js';
import { RedisTokenStore } from '../src/store/redis.js';
import type { TokenRecord, TokenStore } from '../src/store/types.js';
import { INITIALIZE, MCP_HEADERS, TestBrowser } from './support.js';
import { cipherFor, newKey, startRedis, tempDir } from './vault-support.js';

/**
 * Servers used with the deployment's own identity (`"grant": "client_credentials"`), against the real
 * demo authorization server (oidc-provider, client credentials on) and the real demo MCP server, which
 * checks the tokens' audience.
 */

const clientCredentialsRequests = (stack: Stack) => stack.as.tokenRequests.filter((r) => r.grantType === 'client_credentials').length;

async function whoami(client: Client): Promise<{ sub: string; clientId: string }> {
  const result = await client.callTool({ name: 'whoami', arguments: {} });
  return result.structuredContent as { sub: string; clientId: string };
}

async function signedIn(stack: Stack, user = 'alice'): Promise<TestBrowser> {
  const browser = new TestBrowser(stack.appUrl);
  await browser.login({ user });
  return browser;
}

describe('service credentials with a client secret', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ serviceCredentials: 'client_secret' });
  });
  afterAll(() => stack.close());

  it('every signed-in person uses the one deployment token; their own tokens stay theirs', async () => {
    const alice = await signedIn(stack, 'alice');
    const bob = await signedIn(stack, 'bob');
    const aliceService = await alice.mcpClient('service');
    const bobService = await bob.mcpClient('service');
    expect((await whoami(aliceService)).clientId).toBe(DEMO_SERVICE_SECRET_CLIENT.client_id);
    expect((await whoami(bobService)).clientId).toBe(DEMO_SERVICE_SECRET_CLIENT.client_id);
    // One token request for both sessions and every call.
    expect(clientCredentialsRequests(stack)).toBe(1);
    const aliceOwn = await alice.mcpClient('default');
    expect(await whoami(aliceOwn)).toMatchObject({ sub: 'alice', clientId: DEMO_CLIENT.client_id });
    await Promise.all([aliceService.close(), bobService.close(), aliceOwn.close()]);

    // Stored once, for the deployment, not in anyone's session.
    expect(await stack.store.getConnection(await alice.sessionId(), 'service')).toBeUndefined();
    expect((await stack.store.getConnection(SERVICE_SESSION_ID, 'service'))?.clientId).toBe(DEMO_SERVICE_SECRET_CLIENT.client_id);
  });

  it('/bff/session says the server uses the service identity, and there is no login for it', async () => {
    const browser = await signedIn(stack);
    const session = (await browser.session()) as { connections: Array<{ server: string; status: string; identity?: string }> };
    expect(session.connections.find((c) => c.server === 'service')).toMatchObject({ identity: 'service', status: 'connected' });
    expect(session.connections.find((c) => c.server === 'default')?.identity).toBeUndefined();
    const login = await browser.request('/bff/login?server=service&returnTo=/', { csrf: false });
    expect(login.status).toBe(302);
    expect(login.headers.get('location')).toContain('login_error=authorization_failed');
  });

  it('a person logging out leaves the deployment token alone', async () => {
    const alice = await signedIn(stack, 'alice');
    const bob = await signedIn(stack, 'bob');
    const service = await alice.mcpClient('service');
    await whoami(service);
    await service.close();
    const before = (await stack.store.getConnection(SERVICE_SESSION_ID, 'service')) as TokenRecord;
    const requests = clientCredentialsRequests(stack);
    const revocations = stack.as.revocations.length;
    const out = await alice.request('/bff/logout', { method: 'POST' });
    expect(out.status).toBe(200);
    // Alice's own tokens were revoked (one access and one refresh token at most), not the deployment's.
    expect(stack.as.revocations.length - revocations).toBeLessThanOrEqual(2);
    const after = await stack.store.getConnection(SERVICE_SESSION_ID, 'service');
    expect(after?.accessToken).toBe(before.accessToken);
    const bobService = await bob.mcpClient('service');
    expect((await whoami(bobService)).clientId).toBe(DEMO_SERVICE_SECRET_CLIENT.client_id);
    await bobService.close();
    expect(clientCredentialsRequests(stack)).toBe(requests);
  });

  it('renews the token before it expires with a new client credentials request', async () => {
    const browser = await signedIn(stack);
    const service = await browser.mcpClient('service');
    await whoami(service);
    const stored = (await stack.store.getConnection(SERVICE_SESSION_ID, 'service')) as TokenRecord;
    // About to expire: less than half its lifetime left.
    const now = Date.now();
    expect(await stack.store.replaceConnection(SERVICE_SESSION_ID, 'service', stored.generation, { ...stored, issuedAt: now - 600_000, expiresAt: now + 1_000 })).toBe(true);
    const requests = clientCredentialsRequests(stack);
    expect((await whoami(service)).clientId).toBe(DEMO_SERVICE_SECRET_CLIENT.client_id);
    expect(clientCredentialsRequests(stack)).toBe(requests + 1);
    const renewed = (await stack.store.getConnection(SERVICE_SESSION_ID, 'service')) as TokenRecord;
    expect(renewed.accessToken).not.toBe(stored.accessToken);
    expect(renewed.expiresAt).toBeGreaterThan(now + 60_000);
    await service.close();
  });

  it('a warm call reads the deployment token from the session cache, not the store', async () => {
    const service = demoServiceServer(stack.mcpUrl, 'client_secret');
    const config = loadConfig({
      PUBLIC_URL: stack.appUrl,
      ALLOW_HTTP_LOOPBACK: '1',
      SESSION_SECRET: DEMO_SESSION_SECRET,
      MCP_SERVERS: JSON.stringify([service.entry]),
      ...service.env,
    });
    // The stack's store, counting the reads of the deployment's session that reach it.
    const raw: string[] = [];
    const counted = new Proxy(stack.store, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (args[0] === SERVICE_SESSION_ID && (name === 'getConnection' || name === 'getSessionWithConnection')) raw.push(String(name));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    expect(counted.changes).toBeDefined();
    const app = createApp({ config, store: counted, log: createLogger('silent') });
    const browser = await signedIn(stack);
    const headers = { ...MCP_HEADERS, 'x-csrf': '1', cookie: browser.jar.header(stack.appUrl) as string };
    const call = async () => {
      const res = await app.request(`${stack.appUrl}/mcp/service`, { method: 'POST', headers, body: INITIALIZE });
      expect(res.status).toBe(200);
      await res.body?.cancel();
    };
    // The first use may fetch the token (its writes make the read before them not kept); the next reads it once.
    await call();
    await call();
    raw.length = 0;
    await call();
    await call();
    expect(raw).toEqual([]);
  });

  it('a token the MCP server refuses is replaced once', async () => {
    const browser = await signedIn(stack);
    const stored = (await stack.store.getConnection(SERVICE_SESSION_ID, 'service')) as TokenRecord;
    // A token that looks fresh but that the MCP server does not accept (as after a key rotation at the AS).
    expect(await stack.store.replaceConnection(SERVICE_SESSION_ID, 'service', stored.generation, { ...stored, accessToken: 'not-a-valid-token' })).toBe(true);
    const requests = clientCredentialsRequests(stack);
    const res = await browser.request('/mcp/service', { method: 'POST', headers: MCP_HEADERS, body: INITIALIZE });
    expect(res.status).toBe(200);
    await res.body?.cancel();
    expect(clientCredentialsRequests(stack)).toBe(requests + 1);
  });
});

describe('service credentials with private_key_jwt', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ serviceCredentials: 'private_key_jwt' });
  });
  afterAll(() => stack.close());

  it('authenticates with a signed assertion and uses the token', async () => {
    const browser = await signedIn(stack);
    const service = await browser.mcpClient('service');
    expect((await whoami(service)).clientId).toBe(DEMO_SERVICE_JWT_CLIENT.client_id);
    await service.close();
    expect(clientCredentialsRequests(stack)).toBe(1);
  });
});

describe('service credentials sent as client_secret_post', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ serviceCredentials: 'client_secret_post' });
  });
  afterAll(() => stack.close());

  it('a client registered for client_secret_post only is authenticated that way when configured so', async () => {
    const browser = await signedIn(stack);
    const service = await browser.mcpClient('service');
    expect((await whoami(service)).clientId).toBe(DEMO_SERVICE_POST_CLIENT.client_id);
    await service.close();
  });
});

describe('an MCP server that refuses the deployment token', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ serviceCredentials: 'client_secret' });
  });
  afterAll(() => stack.close());

  it('gets one new token and one retry, then a clear 502 naming the server, never a login', async () => {
    // A fault the demo MCP server cannot show: a server whose metadata names the demo AS but which
    // answers 401 to every token (as one would after its keys changed).
    const refusing = await listen(0, '127.0.0.1');
    const url = `${refusing.origin}/mcp`;
    const seen: string[] = [];
    refusing.handle((req, res) => {
      if (req.url === '/.well-known/oauth-protected-resource/mcp') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ resource: url, authorization_servers: [stack.issuer] }));
        return;
      }
      seen.push(req.headers.authorization ?? '');
      req.resume();
      res.statusCode = 401;
      res.setHeader('www-authenticate', `Bearer error="invalid_token", resource_metadata="${refusing.origin}/.well-known/oauth-protected-resource/mcp"`);
      res.end();
    });
    const service = demoServiceServer(url, 'client_secret', 'refusing');
    const config = loadConfig({
      PUBLIC_URL: stack.appUrl,
      ALLOW_HTTP_LOOPBACK: '1',
      SESSION_SECRET: DEMO_SESSION_SECRET,
      // The demo AS knows one resource: the token is asked for without `resource`, and is for that one.
      MCP_SERVERS: JSON.stringify([{ ...service.entry, name: 'Refusing tools', resourceIndicator: false }]),
      ...service.env,
    });
    const app = createApp({ config, store: stack.store, log: createLogger('silent') });
    try {
      const browser = await signedIn(stack);
      const headers = { ...MCP_HEADERS, 'x-csrf': '1', cookie: browser.jar.header(stack.appUrl) as string };
      const requests = clientCredentialsRequests(stack);
      const res = await app.request(`${stack.appUrl}/mcp/refusing`, { method: 'POST', headers, body: INITIALIZE });
      expect(res.status).toBe(502);
      const body = (await res.json()) as { error: string; message: string; loginUrl?: string };
      expect(body.error).toBe('service_credentials_failed');
      expect(body.message).toContain('Refusing tools');
      expect(body.loginUrl).toBeUndefined();
      expect(clientCredentialsRequests(stack) - requests).toBe(2);
      expect(seen).toHaveLength(2);
      expect(seen[0]).not.toBe(seen[1]);
    } finally {
      await refusing.close();
    }
  });
});

describe('the authorization server the service credentials go to is pinned', () => {
  let stack: Stack;
  const lines: string[] = [];
  beforeAll(async () => {
    stack = await startStack({ serviceCredentials: 'client_secret' });
  });
  afterAll(() => stack.close());

  it('a challenge or resource metadata naming another authorization server never gets the secret', async () => {
    // Faults the demo servers cannot show: an MCP server (configured without `issuer`) whose answers
    // turn hostile after the first use, and an authorization server that records what reaches it.
    const rogueAs = await listen(0, '127.0.0.1');
    const rogueSeen: string[] = [];
    rogueAs.handle((req, res) => {
      rogueSeen.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
      req.resume();
      res.setHeader('content-type', 'application/json');
      if (req.url?.startsWith('/.well-known/oauth-authorization-server') || req.url?.startsWith('/.well-known/openid-configuration')) {
        res.end(JSON.stringify({ issuer: rogueAs.origin, token_endpoint: `${rogueAs.origin}/token`, token_endpoint_auth_methods_supported: ['client_secret_post'] }));
        return;
      }
      if (req.url?.startsWith('/.well-known/oauth-protected-resource')) {
        res.end(JSON.stringify({ resource: `${mcp.origin}/mcp`, authorization_servers: [rogueAs.origin] }));
        return;
      }
      res.end(JSON.stringify({ access_token: 'rogue', token_type: 'Bearer', expires_in: 3600 }));
    });
    const mcp = await listen(0, '127.0.0.1');
    const url = `${mcp.origin}/mcp`;
    let hostile: 'no' | 'challenge' | 'metadata' = 'no';
    mcp.handle((req, res) => {
      if (req.url === '/.well-known/oauth-protected-resource/mcp') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ resource: url, authorization_servers: [hostile === 'metadata' ? rogueAs.origin : stack.issuer] }));
        return;
      }
      req.resume();
      if (hostile === 'no') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ jsonrpc: '2.0', id: 1, result: {} }));
        return;
      }
      res.statusCode = 401;
      res.setHeader('www-authenticate', `Bearer error="invalid_token", resource_metadata="${rogueAs.origin}/.well-known/oauth-protected-resource"`);
      res.end();
    });
    const service = demoServiceServer(url, 'client_secret', 'pinned');
    const config = loadConfig({
      PUBLIC_URL: stack.appUrl,
      ALLOW_HTTP_LOOPBACK: '1',
      SESSION_SECRET: DEMO_SESSION_SECRET,
      MCP_SERVERS: JSON.stringify([{ ...service.entry, name: 'Pinned tools', resourceIndicator: false }]),
      ...service.env,
    });
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const app = createApp({ config, store: stack.store, log: createLogger('trace', sink) });
    try {
      const browser = await signedIn(stack);
      const headers = { ...MCP_HEADERS, 'x-csrf': '1', cookie: browser.jar.header(stack.appUrl) as string };
      const call = () => app.request(`${stack.appUrl}/mcp/pinned`, { method: 'POST', headers, body: INITIALIZE });
      // First use: the demo AS is named, the token comes from it, and it is pinned.
      const first = await call();
      expect(first.status).toBe(200);
      await first.body?.cancel();

      // A 401 whose resource_metadata points at another origin: not followed (the server's own metadata
      // still names the demo AS, which gives a new token; refused again, a clear 502).
      hostile = 'challenge';
      const second = await call();
      expect(second.status).toBe(502);
      expect(((await second.json()) as { error: string }).error).toBe('service_credentials_failed');

      // The server's own metadata now names another AS: refused, nothing is sent there.
      hostile = 'metadata';
      const third = await call();
      expect(third.status).toBe(502);
      const text = await third.text();
      const body = JSON.parse(text) as { error: string; message: string; loginUrl?: string };
      expect(body.error).toBe('service_credentials_failed');
      expect(body.message).toContain(stack.issuer);
      expect(body.loginUrl).toBeUndefined();
      expect(text).not.toContain(DEMO_SERVICE_SECRET_CLIENT.client_secret);

      // The rogue AS was never asked for anything: not its metadata, let alone a token.
      expect(rogueSeen).toEqual([]);
      const log = lines.join('');
      expect(log).toContain('service_resource_metadata_elsewhere');
      expect(log).toContain('service_issuer_mismatch');
      expect(log).not.toContain(DEMO_SERVICE_SECRET_CLIENT.client_secret);
    } finally {
      await Promise.all([mcp.close(), rogueAs.close()]);
    }
  });
});

describe('service credentials with DPoP (demo AS and MCP server requiring DPoP and nonces)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ serviceCredentials: 'private_key_jwt', dpop: { requireNonce: true } });
  });
  afterAll(() => stack.close());

  it('binds the deployment token to a key kept in its record, and presents it with a proof', async () => {
    const browser = await signedIn(stack);
    const service = await browser.mcpClient('service');
    expect((await whoami(service)).clientId).toBe(DEMO_SERVICE_JWT_CLIENT.client_id);
    const stored = (await stack.store.getConnection(SERVICE_SESSION_ID, 'service')) as TokenRecord;
    expect(stored).toMatchObject({ tokenType: 'DPoP', dpop: { alg: 'ES256' } });
    expect((decodeJwt(stored.accessToken).cnf as { jkt: string }).jkt).toBe(stored.dpop?.jkt);
    const last = stack.mcp.received.at(-1);
    expect(last?.headers.authorization).toBe(`DPoP ${stored.accessToken}`);
    expect(typeof last?.headers.dpop).toBe('string');

    // Renewed: the same key, a new bound token.
    const now = Date.now();
    expect(await stack.store.replaceConnection(SERVICE_SESSION_ID, 'service', stored.generation, { ...stored, issuedAt: now - 600_000, expiresAt: now + 1_000 })).toBe(true);
    expect((await whoami(service)).clientId).toBe(DEMO_SERVICE_JWT_CLIENT.client_id);
    const renewed = (await stack.store.getConnection(SERVICE_SESSION_ID, 'service')) as TokenRecord;
    expect(renewed.accessToken).not.toBe(stored.accessToken);
    expect(renewed.dpop).toEqual(stored.dpop);
    await service.close();
  });
});

describe('service credentials refused', () => {
  let stack: Stack;
  const wrongSecret = 'wrong-demo-service-secret-value';
  const lines: string[] = [];
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    stack = await startStack({ serviceCredentials: 'client_secret', env: { DEMO_SERVICE_CLIENT_SECRET: wrongSecret }, log: createLogger('trace', sink) });
  });
  afterAll(() => stack.close());

  it('answers 502 naming the server and the authorization server error, never the secret, and offers no login', async () => {
    const browser = await signedIn(stack);
    const res = await browser.request('/mcp/service', { method: 'POST', headers: MCP_HEADERS, body: INITIALIZE });
    expect(res.status).toBe(502);
    const text = await res.text();
    const body = JSON.parse(text) as { error: string; message: string; loginUrl?: string };
    expect(body.error).toBe('service_credentials_failed');
    expect(body.message).toContain('Team tools (service identity)');
    expect(body.message).toContain('invalid_client');
    expect(body.loginUrl).toBeUndefined();
    expect(text).not.toContain(wrongSecret);
    expect(await stack.store.getConnection(SERVICE_SESSION_ID, 'service')).toBeUndefined();
    // The log says why, without the secret (nor its Basic encoding).
    const log = lines.join('');
    expect(log).toContain('service_token_refused');
    expect(log).not.toContain(wrongSecret);
    expect(log).not.toContain(Buffer.from(`${DEMO_SERVICE_SECRET_CLIENT.client_id}:${wrongSecret}`).toString('base64'));
  });
});

/**
 * Two BFF instances on one store (the stack's, and a second app on its own connection to the same
 * file or Redis): their first uses arrive together, and the authorization server is asked once.
 */
async function concurrentFirstUse(stack: Stack, storeB: TokenStore): Promise<void> {
  const service = demoServiceServer(stack.mcpUrl, 'client_secret');
  const configB = loadConfig({
    PUBLIC_URL: stack.appUrl,
    ALLOW_HTTP_LOOPBACK: '1',
    SESSION_SECRET: DEMO_SESSION_SECRET,
    MCP_SERVERS: JSON.stringify([{ id: 'default', url: stack.mcpUrl, clientId: DEMO_CLIENT.client_id, clientSecret: DEMO_CLIENT.client_secret }, service.entry]),
    ...service.env,
  });
  const appB = createApp({ config: configB, store: storeB, log: createLogger('silent') });
  // As an instance's readiness check does before it takes traffic: its store connection is up.
  await storeB.ping();
  const browser = await signedIn(stack);
  const cookie = browser.jar.header(stack.appUrl) as string;
  const headers = { ...MCP_HEADERS, 'x-csrf': '1', cookie };
  const calls = [
    ...Array.from({ length: 4 }, () => fetch(`${stack.appUrl}/mcp/service`, { method: 'POST', headers, body: INITIALIZE })),
    ...Array.from({ length: 4 }, () => appB.request(`${stack.appUrl}/mcp/service`, { method: 'POST', headers, body: INITIALIZE })),
  ];
  const answers = await Promise.all(calls);
  for (const res of answers) {
    expect(res.status).toBe(200);
    await res.body?.cancel();
  }
  expect(clientCredentialsRequests(stack)).toBe(1);
}

describe('service credentials across two instances', () => {
  const key = newKey('k1');

  it('on one SQLite file: concurrent first use asks the authorization server once', async () => {
    const dir = tempDir('service-credentials');
    const path = join(dir.path, 'bff.db');
    const stack = await startStack({ serviceCredentials: 'client_secret', store: new SqliteTokenStore({ path, cipher: cipherFor(key) }) });
    const storeB = new SqliteTokenStore({ path, cipher: cipherFor(key) });
    try {
      await concurrentFirstUse(stack, storeB);
    } finally {
      await stack.close();
      await storeB.close();
      dir.remove();
    }
  });

  it('on one Redis: concurrent first use asks the authorization server once, and the token is stored encrypted', async () => {
    const redis = await startRedis();
    const stack = await startStack({ serviceCredentials: 'client_secret', store: new RedisTokenStore({ url: redis.url, cipher: cipherFor(key) }) });
    const storeB = new RedisTokenStore({ url: redis.url, cipher: cipherFor(key) });
    try {
      await concurrentFirstUse(stack, storeB);
      const stored = (await storeB.getConnection(SERVICE_SESSION_ID, 'service')) as TokenRecord;
      const dump = await redis.dump();
      expect(dump).not.toContain(stored.accessToken);
      expect(dump).not.toContain(stored.accessToken.split('.')[1]);
    } finally {
      await stack.close();
      await storeB.close();
      await redis.close();
    }
  });
});

describe('service credentials configuration', () => {
  const base = { PUBLIC_URL: 'https://app.example.com', SESSION_SECRET: DEMO_SESSION_SECRET };
  const problems = (env: Record<string, string>): string[] => {
    try {
      loadConfig({ ...base, ...env });
    } catch (error) {
      if (error instanceof ConfigError) return error.problems;
      throw error;
    }
    return [];
  };
  const servers = (entry: Record<string, unknown>) => JSON.stringify([{ id: 'svc', url: 'https://mcp.example.com/mcp', grant: 'client_credentials', ...entry }]);

  it('needs a client id and one way to authenticate', () => {
    expect(problems({ MCP_SERVERS: servers({ clientSecretEnv: 'S' }), S: 'x' })).toEqual([expect.stringContaining('needs a clientId')]);
    expect(problems({ MCP_SERVERS: servers({ clientId: 'c' }) })).toEqual([expect.stringContaining('needs clientSecretEnv')]);
    expect(problems({ MCP_SERVERS: servers({ clientId: 'c', clientSecretEnv: 'S', privateKeyEnv: 'K' }), S: 'x', K: 'y' })).toEqual([
      expect.stringContaining('not both'),
    ]);
  });

  it('refuses a secret in the configuration itself, and never echoes one', () => {
    const found = problems({ MCP_SERVERS: servers({ clientId: 'c', clientSecret: 'super-secret-value', clientSecretEnv: 'S' }), S: 'x' });
    expect(found).toEqual([expect.stringContaining('must not be in the configuration itself')]);
    expect(found.join('\n')).not.toContain('super-secret-value');
  });

  it('names a missing variable, an unreadable key and a key that is not one', () => {
    expect(problems({ MCP_SERVERS: servers({ clientId: 'c', clientSecretEnv: 'NOT_SET_ANYWHERE' }) })).toEqual([
      expect.stringContaining('NOT_SET_ANYWHERE named by clientSecretEnv is not set'),
    ]);
    expect(problems({ MCP_SERVERS: servers({ clientId: 'c', privateKeyFile: '/nonexistent/key.pem' }) })).toEqual([
      expect.stringContaining('cannot be read (ENOENT)'),
    ]);
    const found = problems({ MCP_SERVERS: servers({ clientId: 'c', privateKeyEnv: 'K' }), K: 'not a key at all' });
    expect(found).toEqual([expect.stringContaining('does not hold a private key')]);
    expect(found.join('\n')).not.toContain('not a key at all');
  });

  it('checks the signing algorithm against the key, and settings only a login uses', () => {
    const jwk = JSON.stringify(JSON.parse(demoServiceServer('https://mcp.example.com/mcp', 'private_key_jwt').env.DEMO_SERVICE_PRIVATE_KEY as string));
    expect(problems({ MCP_SERVERS: servers({ clientId: 'c', privateKeyEnv: 'K', signingAlg: 'RS256' }), K: jwk })).toEqual([
      expect.stringContaining('signingAlg RS256 does not fit'),
    ]);
    expect(problems({ MCP_SERVERS: servers({ clientId: 'c', privateKeyEnv: 'K', signingAlg: 'ES256' }), K: jwk })).toEqual([]);
    expect(problems({ MCP_SERVERS: servers({ clientId: 'c', privateKeyEnv: 'K', tokenEndpointAuthMethod: 'client_secret_post' }), K: jwk })).toEqual([
      expect.stringContaining('tokenEndpointAuthMethod client_secret_post goes with clientSecretEnv'),
    ]);
    expect(problems({ MCP_SERVERS: servers({ clientId: 'c', clientSecretEnv: 'S', tokenEndpointAuthMethod: 'none' }), S: 'x' })).toEqual([
      expect.stringContaining('tokenEndpointAuthMethod must be'),
    ]);
    expect(problems({ MCP_SERVERS: servers({ clientId: 'c', clientSecretEnv: 'S', authorizationParams: { prompt: 'login' } }), S: 'x' })).toEqual([
      expect.stringContaining('authorizationParams is for signing people in'),
    ]);
    expect(
      problems({ MCP_SERVERS: JSON.stringify([{ id: 'a', url: 'https://mcp.example.com/mcp', clientSecretEnv: 'S' }]), S: 'x' }),
    ).toEqual([expect.stringContaining('only go with "grant": "client_credentials"')]);
  });

  it('reads the single-server variables as a deployment would set them', () => {
    const config = loadConfig({
      ...base,
      MCP_SERVER_URL: 'https://mcp.example.com/mcp',
      OAUTH_GRANT: 'client_credentials',
      OAUTH_CLIENT_ID: 'svc',
      OAUTH_CLIENT_SECRET: 'from-the-environment',
    });
    expect(config.servers[0]?.service?.clientId).toBe('svc');
    expect(config.servers[0]?.clientSecret).toBeUndefined();
    // Without OAUTH_GRANT the secret is that of the client people sign in with, as ever.
    const login = loadConfig({ ...base, MCP_SERVER_URL: 'https://mcp.example.com/mcp', OAUTH_CLIENT_ID: 'bff', OAUTH_CLIENT_SECRET: 'login-secret' });
    expect(login.servers[0]?.service).toBeUndefined();
    expect(login.servers[0]?.clientSecret).toBe('login-secret');
    expect(problems({ MCP_SERVER_URL: 'https://mcp.example.com/mcp', OAUTH_PRIVATE_KEY: '{}' })).toEqual([
      expect.stringContaining('only go with "grant": "client_credentials"'),
    ]);
    expect(problems({ MCP_SERVER_URL: 'https://mcp.example.com/mcp', OAUTH_GRANT: 'password' })).toEqual([
      'OAUTH_GRANT must be authorization_code or client_credentials',
    ]);
  });
});
