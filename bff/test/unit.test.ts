import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { csrfProblem } from '../src/http/csrf.js';
import { safeReturnTo } from '../src/http/return-to.js';
import { bearerChallenge, parseWwwAuthenticate } from '../src/oauth/www-authenticate.js';
import { checkRequestHeaders, downstreamResponseHeaders, isValidMcpSessionId } from '../src/mcp/headers.js';
import { createPkce, createState, stateMatches } from '../src/oauth/pkce.js';
import { needsRefresh } from '../src/oauth/tokens.js';
import { decodeJwt } from '../src/routes/connection.js';
import { LoginTrace, whyFailed } from '../src/oauth/login-trace.js';
import { OAuthFailure } from '../src/oauth/errors.js';
import { RecordCipher } from '../src/store/cipher.js';
import { storageKey } from '../src/store/keys.js';
import { Sealer } from '../src/store/sealed.js';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';

/** Test-only session secrets, public in this repository. */
const SECRET = 'NJQA7l/CJUKp+wCOMZfFr1oEnfR1tDEyZd495OrN7qWg09pxMdYpbzvoRIFeukRC';
const NEWER_SECRET = 'f5qWEoksmxwsknDTn2cqo3oc5WH320zfKBybCyKhGfdJYNp3xv2lxGY4AgfH1T7K';
const base = {
  PUBLIC_URL: 'https://app.example.com',
  MCP_SERVER_URL: 'https://mcp.example.com/mcp',
  OAUTH_CLIENT_ID: 'client',
  OAUTH_CLIENT_SECRET: 'secret',
  SESSION_SECRET: SECRET,
};

describe('config', () => {
  it('accepts a minimal https configuration', () => {
    const c = loadConfig(base);
    expect(c.publicOrigin).toBe('https://app.example.com');
    expect(c.secureCookies).toBe(true);
    expect(c.servers[0]?.url).toBe('https://mcp.example.com/mcp');
    expect(c.sessionSecrets).toEqual([{ id: 1, secret: SECRET }]);
  });

  it('lists every problem at once', () => {
    try {
      loadConfig({ PUBLIC_URL: 'http://app.example.com', SESSION_SECRET: 'short', PORT: 'x', OAUTH_CLIENT_SECRET: 's' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const text = (error as ConfigError).problems.join('\n');
      expect(text).toMatch(/MCP_SERVER_URL/);
      expect(text).toMatch(/SESSION_SECRET entry 1 is not base64: .*openssl rand -base64 48/);
      expect(text).toMatch(/PORT/);
      expect(text).toMatch(/PUBLIC_URL must use https/);
      expect(text).toMatch(/OAUTH_CLIENT_SECRET needs OAUTH_CLIENT_ID/);
    }
  });

  it('allows http only for loopback hosts and only when ALLOW_HTTP_LOOPBACK=1', () => {
    const loop = { ...base, PUBLIC_URL: 'http://localhost:3000', MCP_SERVER_URL: 'http://127.0.0.1:4100/mcp' };
    expect(() => loadConfig(loop)).toThrow(/ALLOW_HTTP_LOOPBACK/);
    expect(loadConfig({ ...loop, ALLOW_HTTP_LOOPBACK: '1' }).secureCookies).toBe(false);
    expect(() => loadConfig({ ...loop, ALLOW_HTTP_LOOPBACK: '1', MCP_SERVER_URL: 'http://10.0.0.1/mcp' })).toThrow(/https/);
  });

  it('reads several servers from MCP_SERVERS and checks each', () => {
    const servers = JSON.stringify([
      { id: 'docs', url: 'https://docs.example.com/mcp', name: 'Docs', scopes: 'read write' },
      { id: 'crm', url: 'https://crm.example.com/mcp', clientId: 'c', clientSecret: 's', resourceIndicator: false },
    ]);
    const c = loadConfig({ ...base, MCP_SERVER_URL: undefined, MCP_SERVERS: servers });
    expect(c.servers).toEqual([
      { id: 'docs', name: 'Docs', url: 'https://docs.example.com/mcp', clientId: undefined, clientSecret: undefined, scopes: ['read', 'write'], resourceIndicator: true, authorizationParams: {}, initialAccessToken: undefined, protocol: 'auto', dpop: true },
      { id: 'crm', name: 'crm', url: 'https://crm.example.com/mcp', clientId: 'c', clientSecret: 's', scopes: [], resourceIndicator: false, authorizationParams: {}, initialAccessToken: undefined, protocol: 'auto', dpop: true },
    ]);
    expect(() => loadConfig({ ...base, MCP_SERVERS: servers })).toThrow(/not both/);
    expect(() => loadConfig({ ...base, MCP_SERVER_URL: undefined, MCP_SERVERS: '[{"id":"A B","url":"x"}]' })).toThrow(/id must be/);
    expect(() => loadConfig({ ...base, MCP_SERVER_URL: undefined, MCP_SERVERS: 'nope' })).toThrow(/must be JSON/);
    const dup = JSON.stringify([{ id: 'a', url: 'https://a.example/mcp' }, { id: 'a', url: 'https://b.example/mcp' }]);
    expect(() => loadConfig({ ...base, MCP_SERVER_URL: undefined, MCP_SERVERS: dup })).toThrow(/duplicate id/);
    // Its redirect URI, /bff/callback/complete, is the route every login's bounce ends at.
    const complete = JSON.stringify([{ id: 'complete', url: 'https://a.example/mcp' }]);
    expect(() => loadConfig({ ...base, MCP_SERVER_URL: undefined, MCP_SERVERS: complete })).toThrow(/"complete" is reserved/);
    const http = JSON.stringify([{ id: 'a', url: 'http://a.example/mcp' }]);
    expect(() => loadConfig({ ...base, MCP_SERVER_URL: undefined, MCP_SERVERS: http })).toThrow(/MCP_SERVERS\[0\]\.url must use https/);
  });

  it('refuses a PUBLIC_URL with a path', () => {
    expect(() => loadConfig({ ...base, PUBLIC_URL: 'https://app.example.com/app' })).toThrow(/origin only/);
  });

  it('wants SESSION_SECRET to be at least 32 random bytes in base64, and says how to make one', () => {
    const refused: Array<[string, RegExp]> = [
      ['a'.repeat(64), /does not look random/],
      ['test-only-session-secret-0123456789abcdefghi', /does not look random/],
      [Buffer.from('correct horse battery staple: a passphrase is not a key').toString('base64'), /does not look random/],
      ['this is not base64 at all, even though it is long enough!', /is not base64/],
      [`${randomBytes(32).toString('base64')}!`, /is not base64/],
      [randomBytes(24).toString('base64'), /is 24 bytes in base64, fewer than 32/],
    ];
    for (const [secret, reason] of refused) {
      try {
        loadConfig({ ...base, SESSION_SECRET: secret });
        expect.unreachable(secret);
      } catch (error) {
        const text = (error as ConfigError).problems.join('\n');
        expect(text).toMatch(reason);
        expect(text).toMatch(/SESSION_SECRET entry 1 .*: it must be at least 32 random bytes in base64, made with e\.g\. `openssl rand -base64 48`/);
        expect(text).not.toContain(secret);
      }
    }
    // The rotation form is checked entry by entry.
    expect(() => loadConfig({ ...base, SESSION_SECRET: `2:${'b'.repeat(64)},1:${SECRET}` })).toThrow(/SESSION_SECRET entry 1 does not look random/);
    // What openssl rand -base64 32 / 48 prints, and the URL-safe alphabet, are taken.
    for (let i = 0; i < 200; i++) {
      for (const secret of [randomBytes(32).toString('base64'), randomBytes(48).toString('base64'), randomBytes(32).toString('base64url')]) {
        expect(loadConfig({ ...base, SESSION_SECRET: secret }).sessionSecrets).toEqual([{ id: 1, secret }]);
      }
    }
  });

  it('reads several session secrets with ids for rotation', () => {
    const c = loadConfig({ ...base, SESSION_SECRET: `2:${NEWER_SECRET},1:${SECRET}` });
    expect(c.sessionSecrets.map((s) => s.id)).toEqual([2, 1]);
  });
});

describe('PKCE and state', () => {
  it('makes a 43-character verifier from 32 random bytes and its S256 challenge', async () => {
    const { code_verifier, code_challenge } = await createPkce();
    expect(code_verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(code_verifier, 'base64url')).toHaveLength(32);
    expect(code_challenge).toBe(createHash('sha256').update(code_verifier).digest('base64url'));
    expect((await createPkce()).code_verifier).not.toBe(code_verifier);
  });

  it('makes states of at least 128 bits that differ every time', () => {
    const states = new Set(Array.from({ length: 100 }, createState));
    expect(states.size).toBe(100);
    for (const s of states) expect(Buffer.from(s, 'base64url').length * 8).toBeGreaterThanOrEqual(128);
  });

  it('compares states exactly', () => {
    const s = createState();
    expect(stateMatches(s, s)).toBe(true);
    expect(stateMatches(`${s}x`, s)).toBe(false);
    expect(stateMatches('', s)).toBe(false);
    expect(stateMatches(s.replace(/.$/, (ch) => (ch === 'A' ? 'B' : 'A')), s)).toBe(false);
  });
});

describe('returnTo', () => {
  const origin = 'https://app.example.com';
  it('keeps same-origin paths', () => {
    expect(safeReturnTo('/servers/default/tools/add?x=1#y', origin)).toBe('/servers/default/tools/add?x=1#y');
  });
  it.each([
    'https://evil.example',
    '//evil.example',
    '/\\evil.example',
    '\\\\evil.example',
    'javascript:alert(1)',
    '/\t/evil.example',
    '/\n/evil.example',
    'evil',
    '',
    `/${'a'.repeat(3000)}`,
  ])('falls back to / for payload %#', (value) => {
    expect(safeReturnTo(value, origin)).toBe('/');
  });
});

describe('CSRF', () => {
  const origin = 'https://app.example.com';
  it('needs X-CSRF: 1 and a same origin', () => {
    expect(csrfProblem('1', undefined, undefined, origin)).toBeUndefined();
    expect(csrfProblem('1', origin, 'same-origin', origin)).toBeUndefined();
    expect(csrfProblem(undefined, origin, undefined, origin)).toMatch(/X-CSRF/);
    expect(csrfProblem('1', 'https://evil.example', undefined, origin)).toMatch(/Origin/);
    expect(csrfProblem('1', 'null', undefined, origin)).toMatch(/Origin/);
    expect(csrfProblem('1', undefined, 'cross-site', origin)).toMatch(/Sec-Fetch-Site/);
  });
});

describe('proxy headers', () => {
  it('forwards only MCP headers, never the browser’s Authorization or Cookie', () => {
    const out = checkRequestHeaders([
      ...['Cookie', 'mcp_session=abc', 'Authorization', 'Bearer browser-supplied', 'Content-Type', 'application/json'],
      ...['Accept', 'application/json, text/event-stream', 'Mcp-Session-Id', 's1', 'MCP-Protocol-Version', '2025-11-25'],
      ...['X-Forwarded-Host', 'evil.example', 'Host', 'app.example.com'],
    ]);
    expect(out).toEqual({
      accept: 'application/json, text/event-stream',
      'content-type': 'application/json',
      'mcp-protocol-version': '2025-11-25',
      'mcp-session-id': 's1',
    });
  });

  it('passes no Set-Cookie or hop-by-hop header back', () => {
    const out = downstreamResponseHeaders(
      { 'set-cookie': ['a=b'], connection: 'close', 'content-type': 'text/event-stream', 'mcp-session-id': 's' },
      200,
    );
    expect(out).toEqual({
      'content-type': 'text/event-stream',
      'mcp-session-id': 's',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
    });
  });

  it('keeps a JSON answer’s Content-Length (the body passes untouched), and only a well-formed one', () => {
    expect(downstreamResponseHeaders({ 'content-type': 'application/json', 'content-length': '94' }, 200)).toEqual({
      'content-type': 'application/json',
      'content-length': '94',
      'cache-control': 'no-store',
    });
    for (const bad of ['-1', '1e3', '12, 12', ' 5', '9'.repeat(16)]) {
      expect(downstreamResponseHeaders({ 'content-type': 'application/json', 'content-length': bad }, 200)['content-length']).toBeUndefined();
    }
    // 204 and 304 have no body, whatever the header says: passing it on could stall a proxy in front.
    for (const status of [204, 304]) {
      expect(downstreamResponseHeaders({ 'content-length': '5' }, status)['content-length']).toBeUndefined();
    }
  });

  it('validates Mcp-Session-Id', () => {
    expect(isValidMcpSessionId('abc-123')).toBe(true);
    expect(isValidMcpSessionId('a b')).toBe(false);
    expect(isValidMcpSessionId('é')).toBe(false);
    expect(isValidMcpSessionId('x'.repeat(257))).toBe(false);
  });
});

describe('WWW-Authenticate', () => {
  it('reads quoted and token parameters', () => {
    expect(
      bearerChallenge('Bearer error="insufficient_scope", scope="mcp:tools mcp:admin", resource_metadata="https://x/y"'),
    ).toEqual({ error: 'insufficient_scope', scope: 'mcp:tools mcp:admin', resource_metadata: 'https://x/y' });
  });
  it('separates several challenges, token68 included', () => {
    expect(parseWwwAuthenticate('Basic realm="a, b", Negotiate abc==, Bearer error=invalid_token, scope="x"')).toEqual([
      { scheme: 'basic', params: { realm: 'a, b' } },
      { scheme: 'negotiate', params: {}, token68: 'abc==' },
      { scheme: 'bearer', params: { error: 'invalid_token', scope: 'x' } },
    ]);
    expect(bearerChallenge('Bearer realm="r\\"q", scope="s"')).toEqual({ realm: 'r"q', scope: 's' });
    expect(bearerChallenge('Bearer resource_metadata="https://x/\\"y"')).toEqual({ resource_metadata: 'https://x/"y' });
  });
  it.each(['garbage ,,, "', '"', '=', 'Bearer', 'Bearer ,,,', 'Bearer scope="unterminated', ',,,Bearer a=b', 'x'.repeat(20000)])(
    'tolerates malformed header %#',
    (header) => {
      expect(() => parseWwwAuthenticate(header)).not.toThrow();
    },
  );
  it('keeps the first of repeated parameters and reads a later Bearer', () => {
    expect(bearerChallenge('Bearer scope="a", scope="b"')).toEqual({ scope: 'a' });
    expect(bearerChallenge(',,,Bearer a=b')).toEqual({ a: 'b' });
    expect(bearerChallenge('Bearer scope="unterminated')).toEqual({ scope: 'unterminated' });
    expect(bearerChallenge(null)).toEqual({});
  });
});

describe('refresh timing', () => {
  const record = (issuedAt: number, expiresAt: number | undefined) => ({
    accessToken: 'a',
    refreshToken: 'r',
    scopes: [],
    issuedAt,
    expiresAt,
    issuer: 'i',
    clientId: 'c',
    resource: 'r',
    generation: 0,
  });
  it('refreshes when less than min(5 min, half the lifetime) remains', () => {
    const hour = 3600_000;
    expect(needsRefresh(record(0, hour), hour - 6 * 60_000)).toBe(false);
    expect(needsRefresh(record(0, hour), hour - 4 * 60_000)).toBe(true);
    expect(needsRefresh(record(0, 10_000), 4_000)).toBe(false);
    expect(needsRefresh(record(0, 10_000), 6_000)).toBe(true);
    expect(needsRefresh(record(0, undefined), 10 ** 12)).toBe(false);
  });
});

describe('record cipher', () => {
  it('round-trips, binds to its place, and decrypts under older keys', () => {
    const k1 = { id: 'k1', key: randomBytes(32) };
    const k2 = { id: 'k2', key: randomBytes(32) };
    const old = new RecordCipher([k1]);
    const sealed = old.encrypt('secret-token', 'here');
    expect(sealed).not.toContain('secret-token');
    expect(old.decrypt(sealed, 'here')).toBe('secret-token');
    expect(() => old.decrypt(sealed, 'elsewhere')).toThrow();
    const rotated = new RecordCipher([k2, k1]);
    expect(rotated.decrypt(sealed, 'here')).toBe('secret-token');
    expect(rotated.encrypt('x', 'here')).toMatch(/^v2\.k2\./);
    expect(() => new RecordCipher([k2]).decrypt(sealed, 'here')).toThrow(/no key/);
  });

  it('refuses a truncated tag (GCM would accept 4 bytes)', () => {
    const cipher = RecordCipher.withRandomKey();
    const sealed = cipher.encrypt('secret-token', 'here', 3);
    const [v, id, iv, tag, body] = sealed.split('.') as [string, string, string, string, string];
    expect(Buffer.from(tag, 'base64url')).toHaveLength(16);
    for (const bytes of [4, 8, 12, 15]) {
      const truncated = Buffer.from(tag, 'base64url').subarray(0, bytes).toString('base64url');
      expect(() => cipher.decrypt([v, id, iv, truncated, body].join('.'), 'here', 3)).toThrow(/malformed/);
      expect(new Sealer(cipher).open([v, id, iv, truncated, body].join('.'), 'here', 3)).toBeUndefined();
    }
    expect(cipher.decrypt(sealed, 'here', 3)).toBe('secret-token');
  });

  it('binds the generation: a ciphertext opens only for the generation it was written for', () => {
    const cipher = RecordCipher.withRandomKey();
    const sealed = cipher.encrypt('old-token', 'connection:s:default', 1);
    expect(cipher.decrypt(sealed, 'connection:s:default', 1)).toBe('old-token');
    expect(() => cipher.decrypt(sealed, 'connection:s:default', 2)).toThrow();
    expect(() => cipher.decrypt(sealed, 'connection:s:default')).toThrow();
    // Relabelled as the older format, which did not bind it: still refused.
    expect(() => cipher.decrypt(sealed.replace(/^v2\./, 'v1.'), 'connection:s:default', 2)).toThrow();
    // The sealer's cache never stands in for a different generation.
    const sealer = new Sealer(cipher);
    const record = sealer.seal({ accessToken: 'old-token' }, 'connection:s:default', 1);
    expect(sealer.open(record, 'connection:s:default', 1)?.value).toEqual({ accessToken: 'old-token' });
    expect(sealer.open(record, 'connection:s:default', 2)).toBeUndefined();
  });

  it('still opens a v1 ciphertext (written before the generation was bound) and calls it stale', () => {
    const key = { id: 'k1', key: randomBytes(32) };
    const sealed = legacyV1(key, 'secret-token', 'here');
    const cipher = new RecordCipher([key]);
    expect(cipher.decrypt(sealed, 'here', 7)).toBe('secret-token');
    expect(() => cipher.decrypt(sealed, 'elsewhere', 7)).toThrow();
    expect(cipher.isStale(sealed)).toBe(true);
    expect(cipher.isStale(cipher.encrypt('x', 'here', 7))).toBe(false);
  });
});

/** What RecordCipher wrote before v2: `v1.<keyId>.<iv>.<tag>.<ciphertext>`, the AAD being the place only. */
function legacyV1(key: { id: string; key: Buffer }, plaintext: string, aad: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key.key, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', key.id, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
}

describe('sealer', () => {
  it('reuses what it opened only for the very same ciphertext and AAD; tampering and misplacing still fail', () => {
    const cipher = RecordCipher.withRandomKey();
    const sealer = new Sealer(cipher, undefined, { maxEntries: 2 });
    const first = sealer.seal({ accessToken: 'AT1', n: 1 }, 'connection:a');
    const opened = sealer.open<{ accessToken: string; n: number }>(first, 'connection:a');
    expect(opened?.value).toEqual({ accessToken: 'AT1', n: 1 });
    // A caller changing what it got changes nothing for the next reader.
    (opened?.value as { n: number }).n = 99;
    expect(sealer.open(first, 'connection:a')?.value).toEqual({ accessToken: 'AT1', n: 1 });
    // A new record under the same AAD (a refresh) opens to the new value.
    const second = sealer.seal({ accessToken: 'AT2', n: 2 }, 'connection:a');
    expect(sealer.open(second, 'connection:a')?.value).toEqual({ accessToken: 'AT2', n: 2 });
    // The same ciphertext elsewhere, or altered, does not open: the cache never stands in for AES-GCM.
    expect(sealer.open(second, 'connection:b')).toBeUndefined();
    const [v, id, iv, tag, body] = second.split('.') as [string, string, string, string, string];
    const flipped = `${body.slice(0, -2)}${body.endsWith('AA') ? 'BA' : 'AA'}`;
    expect(sealer.open([v, id, iv, tag, flipped].join('.'), 'connection:a')).toBeUndefined();
    expect(sealer.open(second, 'connection:a')?.value).toEqual({ accessToken: 'AT2', n: 2 });
    // Bounded: a third AAD pushes out the oldest entry, which then opens through the cipher again.
    const other = sealer.seal({ n: 3 }, 'connection:c');
    const third = sealer.seal({ n: 4 }, 'connection:d');
    expect(sealer.open(other, 'connection:c')?.value).toEqual({ n: 3 });
    expect(sealer.open(third, 'connection:d')?.value).toEqual({ n: 4 });
    expect(sealer.cachedCount).toBe(2);
  });

  it('a storage key is the same however often it is asked for, and differs per id', () => {
    const id = randomBytes(32).toString('base64url');
    const key = createHash('sha256').update(id, 'utf8').digest('base64url');
    expect(storageKey(id)).toBe(key);
    expect(storageKey(id)).toBe(key);
    for (let i = 0; i < 1_500; i++) storageKey(`id-${i}`);
    expect(storageKey(id)).toBe(key);
    expect(storageKey(`${id}x`)).not.toBe(key);
  });
});

describe('connection details helpers', () => {
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

  it("decodes a JWS access token's header and payload, never its signature; anything else has no claims", () => {
    const token = `${b64({ alg: 'RS256', typ: 'at+jwt' })}.${b64({ sub: 'alice', scope: 'mcp:tools' })}.c2lnbmF0dXJl`;
    const decoded = decodeJwt(token);
    expect(decoded).toEqual({ header: { alg: 'RS256', typ: 'at+jwt' }, payload: { sub: 'alice', scope: 'mcp:tools' } });
    expect(JSON.stringify(decoded)).not.toContain('c2lnbmF0dXJl');
    const none = { header: null, payload: null };
    expect(decodeJwt('opaque-access-token')).toEqual(none);
    expect(decodeJwt(`${b64({ alg: 'RSA-OAEP', enc: 'A256GCM' })}.a.b.c.d`)).toEqual(none); // JWE
    expect(decodeJwt(`${b64({ typ: 'JWT' })}.${b64({ sub: 'x' })}.sig`)).toEqual(none); // no alg
    expect(decodeJwt(`${b64({ alg: 'none' })}.${b64([1, 2])}.`)).toEqual(none); // payload not an object
    expect(decodeJwt(`${b64({ alg: 'RS256' })}.not+base64url.sig`)).toEqual(none);
  });

  it('a login trace keeps a bounded, secret-free record; a failure says what to do', async () => {
    const trace = new LoginTrace();
    await trace.run('resource_metadata', async () => 1, () => ({ detail: 'found', url: 'https://mcp.example.com/.well-known/x' }));
    await expect(
      trace.run('authorization_server_metadata', async () => {
        throw new OAuthFailure('as_unavailable', 'authorization server metadata unavailable');
      }, () => ({ detail: 'never' })),
    ).rejects.toThrow('unavailable');
    expect(trace.failedStep).toMatchObject({ step: 'authorization_server_metadata', status: 'failed' });
    expect(trace.failedStep?.detail).toMatch(/^Authorization server metadata unavailable\. The authorization server could not be reached/);
    trace.ok('client', 'x'.repeat(5000), `https://as.example.com/${'p'.repeat(5000)}`);
    const client = trace.steps.find((s) => s.step === 'client');
    expect(client?.detail.length).toBeLessThanOrEqual(800);
    expect(client?.url?.length).toBeLessThanOrEqual(1000);
    // Read back from the store: what does not parse starts afresh.
    expect(LoginTrace.from(JSON.parse(JSON.stringify(trace.toJSON()))).steps).toHaveLength(3);
    expect(LoginTrace.from({ steps: 'junk' }).steps).toEqual([]);
    expect(whyFailed(new Error('with a token abc.def.ghi inside'))).not.toContain('abc.def.ghi');
  });
});
