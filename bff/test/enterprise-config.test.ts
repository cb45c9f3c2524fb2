import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { MemoryTokenStore } from '../src/store/memory.js';

/** Enterprise-managed authorization's settings: ENTERPRISE_IDP_* and a server's "authorization". */

const base = {
  PUBLIC_URL: 'https://app.example.com',
  MCP_SERVER_URL: 'https://mcp.example.com/mcp',
  OAUTH_CLIENT_ID: 'bff-at-the-as',
  OAUTH_ISSUER: 'https://as.example.com',
  // Test-only, public in this repository.
  SESSION_SECRET: 'NJQA7l/CJUKp+wCOMZfFr1oEnfR1tDEyZd495OrN7qWg09pxMdYpbzvoRIFeukRC',
};
const idp = { ENTERPRISE_IDP_ISSUER: 'https://login.example.com', ENTERPRISE_IDP_CLIENT_ID: 'bff' };
const several = (...servers: Array<Record<string, unknown>>) => ({ ...base, MCP_SERVER_URL: undefined, MCP_SERVERS: JSON.stringify(servers) });

function problems(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('enterprise-managed authorization configuration', () => {
  it('marks servers and names the IdP, with openid always among its scopes', () => {
    const config = loadConfig({
      ...several({ id: 'crm', url: 'https://crm.example.com/mcp', authorization: 'enterprise', clientId: 'c', issuer: 'https://as.example.com' }, { id: 'docs', url: 'https://docs.example.com/mcp' }),
      ...idp,
      ENTERPRISE_IDP_SCOPES: 'profile email',
      ENTERPRISE_IDP_CLIENT_SECRET_ENV: 'MY_IDP_SECRET',
      MY_IDP_SECRET: 'idp-secret',
    });
    expect(config.servers.map((s) => s.authorization)).toEqual(['enterprise', undefined]);
    expect(config.enterpriseIdp).toEqual({
      issuer: 'https://login.example.com',
      clientId: 'bff',
      clientSecret: 'idp-secret',
      scopes: ['openid', 'profile', 'email'],
      idTokenHeader: undefined,
      idTokenVerify: 'signature',
    });
    expect(loadConfig({ ...base, ...idp, MCP_SERVER_AUTHORIZATION: 'enterprise' }).servers[0]?.authorization).toBe('enterprise');
    // Without any of it: nothing changes.
    expect(loadConfig(base).enterpriseIdp).toBeUndefined();
    expect(loadConfig({ ...base, MCP_SERVER_AUTHORIZATION: 'oauth' }).servers[0]?.authorization).toBeUndefined();
  });

  it('says what is missing or wrong, never echoing the secret', () => {
    expect(problems({ ...base, MCP_SERVER_AUTHORIZATION: 'enterprise' })).toEqual([
      'ENTERPRISE_IDP_ISSUER is required: default is enterprise-managed (authorization "enterprise")',
    ]);
    expect(problems({ ...base, MCP_SERVER_AUTHORIZATION: 'sso' })).toEqual(['MCP_SERVER_AUTHORIZATION must be one of oauth, enterprise']);
    expect(problems(several({ id: 'a', url: 'https://a.example/mcp', authorization: 'idjag' }))).toEqual([
      'MCP_SERVERS[0][authorization]: authorization must be one of oauth, enterprise',
    ]);
    expect(problems({ ...base, ...idp, OAUTH_CLIENT_ID: undefined, MCP_SERVER_AUTHORIZATION: 'enterprise' })).toEqual([
      'default is enterprise-managed: it needs the client pre-registered at its authorization server (OAUTH_CLIENT_ID), the one the IdP\'s administrator mapped the BFF to',
    ]);
    expect(problems({ ...several({ id: 'crm', url: 'https://crm.example.com/mcp', authorization: 'enterprise', issuer: 'https://as.example.com' }), ...idp })).toEqual([
      'crm is enterprise-managed: it needs the client pre-registered at its authorization server ("clientId" of crm), the one the IdP\'s administrator mapped the BFF to',
    ]);
    expect(problems({ ...base, ...idp })).toEqual([
      'ENTERPRISE_IDP_ISSUER is set but no server is enterprise-managed: give one "authorization": "enterprise"',
    ]);
    const managed = { ...base, MCP_SERVER_AUTHORIZATION: 'enterprise' };
    expect(problems({ ...managed, ENTERPRISE_IDP_ISSUER: 'https://login.example.com' })).toEqual([
      'ENTERPRISE_IDP_CLIENT_ID is required with ENTERPRISE_IDP_ISSUER: the client registered for the BFF at the IdP',
    ]);
    expect(problems({ ...managed, ...idp, ENTERPRISE_IDP_ISSUER: 'http://login.example.com' })).toEqual([
      'ENTERPRISE_IDP_ISSUER must use https (http is only allowed for loopback hosts)',
    ]);
    const secretProblems = problems({ ...managed, ...idp, ENTERPRISE_IDP_CLIENT_SECRET_ENV: 's3cr3t-value!' });
    expect(secretProblems).toEqual(['ENTERPRISE_IDP_CLIENT_SECRET_ENV must name an environment variable, e.g. "IDP_CLIENT_SECRET" (not the secret itself)']);
    expect(problems({ ...managed, ...idp, ENTERPRISE_IDP_CLIENT_SECRET_ENV: 'UNSET_SECRET' })).toEqual([
      'ENTERPRISE_IDP_CLIENT_SECRET_ENV: the environment variable UNSET_SECRET it names is not set',
    ]);
    expect(problems({ ...managed, ...idp, ENTERPRISE_IDP_SCOPES: 'openid "x"' })).toEqual(['ENTERPRISE_IDP_SCOPES must be space-separated scope tokens']);
  });

  it('requires the issuer of an enterprise-managed server\'s authorization server: the only audience its ID-JAGs may have', () => {
    expect(problems({ ...base, ...idp, OAUTH_ISSUER: undefined, MCP_SERVER_AUTHORIZATION: 'enterprise' })).toEqual([
      'default is enterprise-managed: it needs the issuer of its authorization server (OAUTH_ISSUER), the only one the person\'s ID token is exchanged for',
    ]);
    expect(problems({ ...several({ id: 'crm', url: 'https://crm.example.com/mcp', authorization: 'enterprise', clientId: 'c' }), ...idp })).toEqual([
      'crm is enterprise-managed: it needs the issuer of its authorization server ("issuer" of crm), the only one the person\'s ID token is exchanged for',
    ]);
  });

  it('refuses a server that is both enterprise-managed and a service server (client credentials)', () => {
    expect(
      problems({ ...base, ...idp, MCP_SERVER_AUTHORIZATION: 'enterprise', OAUTH_GRANT: 'client_credentials', OAUTH_CLIENT_SECRET: 'service-secret' }),
    ).toEqual(['default cannot be both enterprise-managed ("authorization": "enterprise") and a service server ("grant": "client_credentials"): choose one']);
  });

  it('believes a forwarded ID token header only with trusted proxies, and never in a header with another use', () => {
    const managed = { ...base, ...idp, MCP_SERVER_AUTHORIZATION: 'enterprise' };
    expect(problems({ ...managed, ENTERPRISE_IDP_ID_TOKEN_HEADER: 'X-Forwarded-Id-Token' })).toEqual([
      'ENTERPRISE_IDP_ID_TOKEN_HEADER needs TRUSTED_PROXIES: the header is believed only from the proxies named there',
    ]);
    for (const header of ['Authorization', 'Cookie', 'X-Forwarded-For', 'x id']) {
      expect(problems({ ...managed, TRUSTED_PROXIES: '10.0.0.1', ENTERPRISE_IDP_ID_TOKEN_HEADER: header })[0]).toMatch(/^ENTERPRISE_IDP_ID_TOKEN_HEADER must be a header name/);
    }
    const config = loadConfig({ ...managed, TRUSTED_PROXIES: '10.0.0.1', ENTERPRISE_IDP_ID_TOKEN_HEADER: 'X-Forwarded-Id-Token' });
    expect(config.enterpriseIdp?.idTokenHeader).toBe('x-forwarded-id-token');
    expect(config.enterpriseIdp?.idTokenVerify).toBe('signature');
    const proxied = { ...managed, TRUSTED_PROXIES: '10.0.0.1', ENTERPRISE_IDP_ID_TOKEN_HEADER: 'X-Forwarded-Id-Token' };
    expect(loadConfig({ ...proxied, ENTERPRISE_IDP_ID_TOKEN_VERIFY: 'claims' }).enterpriseIdp?.idTokenVerify).toBe('claims');
    expect(problems({ ...proxied, ENTERPRISE_IDP_ID_TOKEN_VERIFY: 'none' })).toEqual(['ENTERPRISE_IDP_ID_TOKEN_VERIFY must be signature or claims']);
    expect(problems({ ...managed, ENTERPRISE_IDP_ID_TOKEN_VERIFY: 'claims' })).toEqual([
      'ENTERPRISE_IDP_ID_TOKEN_VERIFY goes with ENTERPRISE_IDP_ID_TOKEN_HEADER, which is not set',
    ]);
  });
});

describe('/bff/login with enterprise-managed and ordinary servers side by side', () => {
  it('takes the enterprise-managed server to the IdP and leaves the other to its own authorization server', async () => {
    const asked: string[] = [];
    const outboundFetch = (async (input: RequestInfo | URL) => {
      asked.push(new URL(input instanceof Request ? input.url : String(input)).host);
      throw new TypeError('fetch failed'); // nothing is reachable: only where the BFF went matters
    }) as typeof fetch;
    const config = loadConfig({
      ...several(
        { id: 'crm', url: 'https://crm.example.com/mcp', authorization: 'enterprise', clientId: 'c', issuer: 'https://as.example.com' },
        { id: 'docs', url: 'https://docs.example.com/mcp' },
      ),
      ...idp,
    });
    const app = createApp({ config, store: new MemoryTokenStore(), log: createLogger('silent'), outboundFetch });
    const crm = await app.request('/bff/login?server=crm&returnTo=/');
    expect(crm.status).toBe(302);
    expect(asked).toEqual(['login.example.com']);
    expect(new URL(crm.headers.get('location') as string, 'https://app.example.com').searchParams.get('login_error')).toBe(
      'authorization_server_unavailable',
    );
    asked.length = 0;
    const docs = await app.request('/bff/login?server=docs&returnTo=/');
    expect(docs.status).toBe(302);
    expect(asked[0]).toBe('docs.example.com');
    expect(asked).not.toContain('login.example.com');
  });
});

describe('/bff/login of a service server', () => {
  it('never takes it to the IdP, even if it were marked enterprise-managed (config.ts refuses that at start)', async () => {
    const asked: string[] = [];
    const outboundFetch = (async (input: RequestInfo | URL) => {
      asked.push(new URL(input instanceof Request ? input.url : String(input)).host);
      throw new TypeError('fetch failed');
    }) as typeof fetch;
    const config = loadConfig({
      ...several(
        { id: 'crm', url: 'https://crm.example.com/mcp', authorization: 'enterprise', clientId: 'c', issuer: 'https://as.example.com' },
        { id: 'svc', url: 'https://svc.example.com/mcp', grant: 'client_credentials', clientId: 'svc', clientSecretEnv: 'SVC_SECRET' },
      ),
      SVC_SECRET: 'service-secret',
      ...idp,
    });
    const servers = config.servers.map((s) => (s.id === 'svc' ? { ...s, authorization: 'enterprise' as const } : s));
    const app = createApp({ config: { ...config, servers }, store: new MemoryTokenStore(), log: createLogger('silent'), outboundFetch });
    await app.request('/bff/login?server=svc&returnTo=/');
    expect(asked).not.toContain('login.example.com');
  });
});

describe('ENTERPRISE_IDP_ID_TOKEN_VERIFY=claims', () => {
  it('is an opt-out of the signature check, so every start says so in the log', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const proxied = { ...base, ...idp, MCP_SERVER_AUTHORIZATION: 'enterprise', TRUSTED_PROXIES: '10.0.0.1', ENTERPRISE_IDP_ID_TOKEN_HEADER: 'X-Forwarded-Id-Token' };
    createApp({ config: loadConfig(proxied), store: new MemoryTokenStore(), log: createLogger('info', sink) });
    expect(lines.join('')).not.toContain('forwarded_id_token_signature_unchecked');
    createApp({ config: loadConfig({ ...proxied, ENTERPRISE_IDP_ID_TOKEN_VERIFY: 'claims' }), store: new MemoryTokenStore(), log: createLogger('info', sink) });
    expect(lines.join('')).toContain('forwarded_id_token_signature_unchecked');
  });
});
