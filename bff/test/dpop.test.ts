import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen } from '../../demo/src/listen.js';
import { DEMO_CLIENT, DEMO_SESSION_SECRET, type Stack, startStack } from '../../demo/src/stack.js';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { accessTokenHash, chooseDpopAlgorithm, DpopNonces, dpopFetch, DpopSigner, generateDpopKey, jwkThumbprint } from '../src/oauth/dpop.js';
import { RecordCipher } from '../src/store/cipher.js';
import { SqliteTokenStore } from '../src/store/sqlite.js';
import { Database } from '../src/store/sqlite-driver.js';
import type { TokenRecord } from '../src/store/types.js';
import { expireSoon, grants, INITIALIZE, MCP_HEADERS, rpc, TestBrowser } from './support.js';
import { tempDir } from './vault-support.js';

/**
 * DPoP (RFC 9449) against the real demo authorization server (oidc-provider's DPoP) and the demo MCP
 * server checking proofs: the BFF binds tokens to a key it keeps inside the encrypted token record.
 */

/** Logs in, opens an MCP session and lists tools through the BFF; returns the tools/list answer. */
async function loginAndCall(stack: Stack): Promise<{ browser: TestBrowser; sid: string; status: number }> {
  const browser = new TestBrowser(stack.appUrl);
  await browser.login();
  const init = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: INITIALIZE });
  expect(init.status).toBe(200);
  await init.text();
  const mcpSession = init.headers.get('mcp-session-id') as string;
  const list = await browser.request('/mcp/default', {
    method: 'POST',
    headers: { ...MCP_HEADERS, 'mcp-session-id': mcpSession },
    body: rpc('tools/list', {}, 2),
  });
  const text = await list.text();
  if (list.status === 200) expect(text).toContain('ask_profile');
  return { browser, sid: await browser.sessionId(), status: list.status };
}

async function record(stack: Stack, sid: string): Promise<TokenRecord> {
  const found = await stack.store.getConnection(sid, 'default');
  if (!found) throw new Error('no connection');
  return found;
}

/** The last request the MCP server received, as the BFF sent it. */
function lastUpstream(stack: Stack): { authorization: string; dpop: string | undefined } {
  const last = stack.mcp.received.at(-1);
  return { authorization: String(last?.headers.authorization ?? ''), dpop: last?.headers.dpop as string | undefined };
}

/** A request straight to the MCP server, as an attacker holding a copied access token would make it. */
function callMcpDirectly(stack: Stack, headers: Record<string, string>): Promise<Response> {
  return fetch(stack.mcpUrl, { method: 'POST', headers: { ...MCP_HEADERS, ...headers }, body: INITIALIZE });
}

describe('DPoP-bound tokens (demo AS and MCP server with DPoP)', () => {
  const dir = tempDir('dpop');
  const dbPath = join(dir.path, 'bff.db');
  const vaultKey = randomBytes(32);
  let stack: Stack;
  beforeAll(async () => {
    const store = new SqliteTokenStore({ path: dbPath, cipher: new RecordCipher([{ id: 'k1', key: vaultKey }]) });
    stack = await startStack({ store, dpop: {} });
  });
  afterAll(async () => {
    await stack.close();
    await stack.store.close();
    dir.remove();
  });

  it('logs in with a proof at the token endpoint and calls the server with DPoP and a fresh proof each time', async () => {
    const metadata = (await (await fetch(`${stack.issuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(metadata.dpop_signing_alg_values_supported).toContain('ES256');

    const { browser, sid, status } = await loginAndCall(stack);
    expect(status).toBe(200);
    const stored = await record(stack, sid);
    expect(stored.tokenType).toBe('DPoP');
    expect(stored.dpop?.alg).toBe('ES256');
    // The connection details view says so, and shows nothing of the key.
    const details = await (await browser.request('/bff/servers/default/connection')).text();
    expect(details).toContain('bound with DPoP to a key the BFF holds for this connection (ES256)');
    expect(details).not.toContain(stored.dpop?.jwk.d as string);
    // The AS bound the token to the BFF's key: the proof at the token request was valid.
    expect((decodeJwt(stored.accessToken).cnf as { jkt: string }).jkt).toBe(stored.dpop?.jkt);

    const calls = stack.mcp.received.slice(-2);
    expect(calls).toHaveLength(2);
    const proofs = calls.map((c) => String(c.headers.dpop));
    for (const call of calls) expect(String(call.headers.authorization)).toBe(`DPoP ${stored.accessToken}`);
    expect(new Set(proofs.map((p) => decodeJwt(p).jti)).size).toBe(2);
    const claims = decodeJwt(proofs[0] as string);
    expect(claims).toMatchObject({ htm: 'POST', htu: stack.mcpUrl, ath: accessTokenHash(stored.accessToken) });
    expect(Math.abs((claims.iat as number) - Date.now() / 1000)).toBeLessThan(30);
    expect(stack.mcp.dpopRefused).toEqual({});
  });

  it('keeps the key only inside the encrypted record: a copy of the store without the vault key is useless', async () => {
    const { sid } = await loginAndCall(stack);
    const stored = await record(stack, sid);
    // What the BFF last sent the MCP server, as one who could watch the wire would have it.
    const sent = lastUpstream(stack);
    const privateD = stored.dpop?.jwk.d as string;
    expect(privateD).toBeTruthy();

    // Every byte the store holds, as a copy of its file would have them.
    const copy = join(dir.path, 'copy.db');
    const live = new Database(dbPath, { readonly: true });
    try {
      await live.backup(copy);
      const dump = JSON.stringify(live.prepare('SELECT * FROM connections').all());
      expect(dump).not.toContain(privateD);
      expect(dump).not.toContain(stored.accessToken);
      expect(dump).not.toContain(stored.dpop?.jkt as string);
    } finally {
      live.close();
    }
    // The copy opened without the vault key holds nothing; with it (the BFF's own), everything.
    const stranger = new SqliteTokenStore({ path: copy, cipher: new RecordCipher([{ id: 'k1', key: randomBytes(32) }]) });
    const owner = new SqliteTokenStore({ path: copy, cipher: new RecordCipher([{ id: 'k1', key: vaultKey }]) });
    try {
      expect(await stranger.getConnection(sid, 'default')).toBeUndefined();
      expect((await owner.getConnection(sid, 'default'))?.dpop?.jkt).toBe(stored.dpop?.jkt);
    } finally {
      await stranger.close();
      await owner.close();
    }

    // Even the access token itself, unexpired, is refused without a proof made with the BFF's key.
    const token = stored.accessToken;
    const asBearer = await callMcpDirectly(stack, { authorization: `Bearer ${token}` });
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers.get('www-authenticate')).toMatch(/^DPoP /);
    const noProof = await callMcpDirectly(stack, { authorization: `DPoP ${token}` });
    expect(noProof.status).toBe(401);
    // A proof signed with another key (the attacker's own): the token's cnf.jkt does not match.
    const attacker = new DpopSigner(generateDpopKey('ES256'));
    const otherKey = await callMcpDirectly(stack, {
      authorization: `DPoP ${token}`,
      dpop: attacker.proof({ htm: 'POST', htu: stack.mcpUrl, accessToken: token }),
    });
    expect(otherKey.status).toBe(401);
    expect(otherKey.headers.get('www-authenticate')).toContain('error="invalid_token"');
    // A proof the BFF sent, replayed: its jti was seen.
    expect(sent.authorization).toBe(`DPoP ${token}`);
    const replay = await callMcpDirectly(stack, { authorization: sent.authorization, dpop: sent.dpop as string });
    expect(replay.status).toBe(401);
    expect(replay.headers.get('www-authenticate')).toContain('error="invalid_dpop_proof"');
  });

  it('refreshes with a proof and keeps the key', async () => {
    const { browser, sid } = await loginAndCall(stack);
    const before = await record(stack, sid);
    await expireSoon(stack, sid);
    const refreshes = grants(stack, 'refresh_token');
    const res = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: INITIALIZE });
    expect(res.status).toBe(200);
    await res.text();
    expect(grants(stack, 'refresh_token')).toBe(refreshes + 1);
    const after = await record(stack, sid);
    expect(after.accessToken).not.toBe(before.accessToken);
    expect(after.tokenType).toBe('DPoP');
    expect(after.dpop).toEqual(before.dpop);
    expect((decodeJwt(after.accessToken).cnf as { jkt: string }).jkt).toBe(before.dpop?.jkt);
    expect(lastUpstream(stack).authorization).toBe(`DPoP ${after.accessToken}`);
  });
});

describe('DPoP nonces (RFC 9449 §8, §9)', () => {
  let stack: Stack;
  /** The BFF's log at trace level. */
  const lines: string[] = [];
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    stack = await startStack({ dpop: { requireNonce: true }, log: createLogger('trace', sink) });
  });
  afterAll(() => stack.close());

  it('retries the token request and the MCP request once with the nonce each server asked for', async () => {
    const codeGrants = grants(stack, 'authorization_code');
    const { sid, status } = await loginAndCall(stack);
    expect(status).toBe(200);
    // One token request refused with use_dpop_nonce, then the one with the nonce.
    expect(grants(stack, 'authorization_code')).toBe(codeGrants + 2);
    expect((await record(stack, sid)).tokenType).toBe('DPoP');
    // The MCP server asked once; every later request carried its nonce at once.
    expect(stack.mcp.dpopRefused).toEqual({ use_dpop_nonce: 1 });
    expect(decodeJwt(lastUpstream(stack).dpop as string).nonce).toEqual(expect.any(String));

    // A second login: the nonces are remembered, no more refusals.
    const second = await loginAndCall(stack);
    expect(second.status).toBe(200);
    expect(grants(stack, 'authorization_code')).toBe(codeGrants + 3);
    expect(stack.mcp.dpopRefused).toEqual({ use_dpop_nonce: 1 });

    // And the refresh, with the AS's nonce.
    const refreshes = grants(stack, 'refresh_token');
    await expireSoon(stack, second.sid);
    const res = await second.browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: INITIALIZE });
    expect(res.status).toBe(200);
    await res.text();
    expect(grants(stack, 'refresh_token')).toBe(refreshes + 1);

    // Through all of it, at trace level: no private key, proof, nonce or token in the log.
    const after = await record(stack, second.sid);
    const proof = lastUpstream(stack).dpop as string;
    const secrets = [after.dpop?.jwk.d, after.accessToken, after.refreshToken, proof, decodeJwt(proof).nonce];
    const log = lines.join('');
    expect(log.length).toBeGreaterThan(1000);
    for (const secret of secrets) {
      expect(typeof secret === 'string' && secret.length >= 16).toBe(true);
      expect(log.includes(secret as string)).toBe(false);
    }
  });
});

describe('an authorization server that takes only EdDSA proofs', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ dpop: {}, authServer: { dpop: { algorithms: ['EdDSA'] } } });
  });
  afterAll(() => stack.close());

  it('gets an Ed25519 key, and the MCP server takes its proofs', async () => {
    const { sid, status } = await loginAndCall(stack);
    expect(status).toBe(200);
    const stored = await record(stack, sid);
    expect(stored).toMatchObject({ tokenType: 'DPoP', dpop: { alg: 'EdDSA', jwk: { kty: 'OKP', crv: 'Ed25519' } } });
    expect((decodeJwt(stored.accessToken).cnf as { jkt: string }).jkt).toBe(stored.dpop?.jkt);
  });
});

describe('an authorization server that keeps refusing the proof at refresh (fault)', () => {
  let stack: Stack;
  let refusing = false;
  const refused: Array<string | undefined> = [];
  // The real AS, except that while `refusing` every refresh is answered use_dpop_nonce with a new nonce.
  const outboundFetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const body = init?.body;
    if (refusing && body instanceof URLSearchParams && body.get('grant_type') === 'refresh_token') {
      refused.push(decodeJwt(new Headers(init?.headers).get('dpop') as string).nonce as string | undefined);
      return Response.json({ error: 'use_dpop_nonce' }, { status: 400, headers: { 'dpop-nonce': `fault-${refused.length}` } });
    }
    return fetch(input, init);
  }) as typeof fetch;
  beforeAll(async () => {
    stack = await startStack({ dpop: {}, outboundFetch });
  });
  afterAll(() => stack.close());

  it('retries once with the new nonce, then keeps the connection (503), and refreshes once the AS takes it', async () => {
    const { browser, sid } = await loginAndCall(stack);
    await expireSoon(stack, sid);
    refusing = true;
    const res = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: INITIALIZE });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: string }).error).toBe('authorization_server_unavailable');
    // The first with the nonce the AS last gave (oidc-provider hands one out on every answer), the second
    // with the one the refusal brought; no third.
    expect(refused).toHaveLength(2);
    expect(refused[1]).toBe('fault-1');
    expect(await stack.store.getConnection(sid, 'default')).toBeDefined();

    refusing = false;
    const again = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: INITIALIZE });
    expect(again.status).toBe(200);
    await again.text();
  });
});

describe('"dpop": false', () => {
  let stack: Stack;
  beforeAll(async () => {
    // DPoP at the AS only (the MCP server takes bearer tokens), turned off for the server in the BFF.
    stack = await startStack({ authServer: { dpop: {} }, env: { OAUTH_DPOP: '0' } });
  });
  afterAll(() => stack.close());

  it('asks for plain bearer tokens and sends them as Bearer', async () => {
    const { sid, status } = await loginAndCall(stack);
    expect(status).toBe(200);
    const stored = await record(stack, sid);
    expect(stored.tokenType).toBeUndefined();
    expect(stored.dpop).toBeUndefined();
    expect(decodeJwt(stored.accessToken).cnf).toBeUndefined();
    expect(lastUpstream(stack)).toEqual({ authorization: `Bearer ${stored.accessToken}`, dpop: undefined });
  });
});

describe('an MCP server that does not know DPoP, behind an authorization server that does', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ authServer: { dpop: {} } });
  });
  afterAll(() => stack.close());

  it('a refused bearer try is not taken for an answer: after the refresh, DPoP first again', async () => {
    // Signed in, no call made yet: nothing is known of the server's DPoP.
    const browser = new TestBrowser(stack.appUrl);
    await browser.login();
    const sid = await browser.sessionId();
    // As if the token had been revoked early: the server refuses it however it is presented.
    await stack.store.putConnection(sid, 'default', { ...(await record(stack, sid)), accessToken: 'revoked-early-and-refused-everywhere' });
    const from = stack.mcp.received.length;
    const res = await browser.request('/mcp/default', { method: 'POST', headers: MCP_HEADERS, body: INITIALIZE });
    expect(res.status).toBe(200);
    await res.text();
    const schemes = stack.mcp.received.slice(from).map((r) => String(r.headers.authorization ?? '').split(' ')[0]);
    // DPoP refused, Bearer refused (no fallback remembered), refresh, DPoP refused, Bearer taken.
    expect(schemes).toEqual(['DPoP', 'Bearer', 'DPoP', 'Bearer']);
  });

  it('gets the bound token as a bearer token once it answers DPoP with a Bearer-only challenge', async () => {
    const from = stack.mcp.received.length;
    const { sid, status } = await loginAndCall(stack);
    expect(status).toBe(200);
    const stored = await record(stack, sid);
    expect(stored.tokenType).toBe('DPoP');
    // Since the server took a bound token as a bearer token (above), bound tokens go to it so.
    const schemes = stack.mcp.received.slice(from).map((r) => String(r.headers.authorization ?? '').split(' ')[0]);
    expect(schemes).not.toContain('DPoP');
    expect(lastUpstream(stack)).toEqual({ authorization: `Bearer ${stored.accessToken}`, dpop: undefined });
  });
});

describe('DPoP building blocks', () => {
  it('prefers ES256, else the first algorithm the AS lists that the BFF signs with', () => {
    expect(chooseDpopAlgorithm(['EdDSA', 'ES256'])).toBe('ES256');
    expect(chooseDpopAlgorithm(['PS256', 'EdDSA'])).toBe('EdDSA');
    expect(chooseDpopAlgorithm(['PS256'])).toBeUndefined();
    expect(chooseDpopAlgorithm(undefined)).toBeUndefined();
  });

  it('signs proofs that verify, without query or fragment in htu, for each algorithm', async () => {
    const { importJWK, jwtVerify, decodeProtectedHeader, calculateJwkThumbprint } = await import('jose');
    for (const alg of ['ES256', 'ES384', 'EdDSA'] as const) {
      const key = generateDpopKey(alg);
      const signer = new DpopSigner(key);
      const proof = signer.proof({ htm: 'GET', htu: 'https://mcp.example.com/mcp?x=1#y', accessToken: 'at', nonce: 'n1' });
      const header = decodeProtectedHeader(proof);
      expect(header).toMatchObject({ typ: 'dpop+jwt', alg });
      expect(header.jwk).not.toHaveProperty('d');
      const { payload } = await jwtVerify(proof, await importJWK(header.jwk as never, alg));
      expect(payload).toMatchObject({ htm: 'GET', htu: 'https://mcp.example.com/mcp', nonce: 'n1', ath: accessTokenHash('at') });
      expect(await calculateJwkThumbprint(header.jwk as never)).toBe(key.jkt);
      expect(jwkThumbprint(header.jwk as JsonWebKey)).toBe(key.jkt);
    }
  });

  it('answers a token endpoint use_dpop_nonce once with the new nonce, and not a second time', async () => {
    const signer = new DpopSigner(generateDpopKey('ES256'));
    const seen: Array<string | undefined> = [];
    let n = 0;
    const fakeAs = (async (_input: RequestInfo | URL, init?: RequestInit) => {
      seen.push(decodeJwt(new Headers(init?.headers).get('dpop') as string).nonce as string | undefined);
      n++;
      return Response.json({ error: 'use_dpop_nonce' }, { status: 400, headers: { 'dpop-nonce': `nonce-${n}` } });
    }) as typeof fetch;
    const res = await dpopFetch(signer, fakeAs, new DpopNonces())('https://as.example.com/token', { method: 'POST', body: 'x' });
    expect(res.status).toBe(400);
    expect(seen).toEqual([undefined, 'nonce-1']);
  });

  it('keeps nonces per URL: an AS and MCP servers on one origin never take each other\'s', async () => {
    const nonces = new DpopNonces();
    expect(nonces.remember('https://host.example.com/token', 'as-nonce')).toBe(true);
    expect(nonces.remember('https://host.example.com/mcp/a?x=1', 'a-nonce')).toBe(true);
    expect(nonces.get('https://host.example.com/token')).toBe('as-nonce');
    expect(nonces.get('https://host.example.com/mcp/a')).toBe('a-nonce');
    expect(nonces.get('https://host.example.com/mcp/b')).toBeUndefined();
    // A token request after the MCP server's nonce: without it (the AS asks for its own).
    const signer = new DpopSigner(generateDpopKey('ES256'));
    const seen: Array<string | undefined> = [];
    const fakeAs = (async (_input: RequestInfo | URL, init?: RequestInit) => {
      seen.push(decodeJwt(new Headers(init?.headers).get('dpop') as string).nonce as string | undefined);
      return Response.json({ access_token: 'x', token_type: 'DPoP' });
    }) as typeof fetch;
    await dpopFetch(signer, fakeAs, nonces)('https://host.example.com/oauth/token', { method: 'POST', body: 'x' });
    expect(seen).toEqual([undefined]);
  });

  it('costs one signature per proof (micro benchmark)', () => {
    const signer = new DpopSigner(generateDpopKey('ES256'));
    const rounds = 2_000;
    const token = randomBytes(600).toString('base64url');
    signer.proof({ htm: 'POST', htu: 'https://mcp.example.com/mcp', accessToken: token });
    const started = performance.now();
    for (let i = 0; i < rounds; i++) signer.proof({ htm: 'POST', htu: 'https://mcp.example.com/mcp', accessToken: token });
    const perProof = (performance.now() - started) / rounds;
    // Bare ECDSA P-256 signing, for comparison: the proof adds little on top of it.
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const bare = performance.now();
    for (let i = 0; i < rounds; i++) sign('sha256', Buffer.from(`input-${i}`), { key: privateKey, dsaEncoding: 'ieee-p1363' });
    const perSignature = (performance.now() - bare) / rounds;
    console.log(`DPoP proof: ${(perProof * 1000).toFixed(0)} µs each (bare ES256 signature ${(perSignature * 1000).toFixed(0)} µs)`);
    // Generous bounds for a shared CI machine: well under a millisecond either way.
    expect(perProof).toBeLessThan(Math.max(2, perSignature * 3));
  });
});

describe('an MCP server that asks for a new nonce again, or names DPoP after a bearer send (fault)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ dpop: {} });
  });
  afterAll(() => stack.close());

  /**
   * A real DPoP-bound connection from the demo AS, used through a second app whose "default" server is
   * a fake MCP server (faults the demo one cannot show on demand: nonces rotating between a request and
   * its retry, a server that starts checking DPoP). `answer` decides each request's fate.
   */
  async function harness(answer: (req: { n: number; authorization: string; nonce: unknown }) => { status: number; challenge?: string; nonce?: string }) {
    const { browser, sid } = await loginAndCall(stack);
    const fake = await listen(0, '127.0.0.1');
    const url = `${fake.origin}/mcp`;
    const seen: Array<{ authorization: string; nonce: unknown }> = [];
    fake.handle((req, res) => {
      if (req.url === '/.well-known/oauth-protected-resource/mcp') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ resource: url, authorization_servers: [stack.issuer] }));
        return;
      }
      req.resume();
      const proof = req.headers.dpop;
      const entry = { authorization: String(req.headers.authorization ?? '').split(' ')[0] as string, nonce: typeof proof === 'string' ? decodeJwt(proof).nonce : undefined };
      seen.push(entry);
      const out = answer({ n: seen.length, ...entry });
      if (out.nonce) res.setHeader('dpop-nonce', out.nonce);
      if (out.challenge) res.setHeader('www-authenticate', out.challenge);
      res.statusCode = out.status;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ jsonrpc: '2.0', id: 1, result: {} }));
    });
    const stored = await record(stack, sid);
    await stack.store.putConnection(sid, 'default', { ...stored, resource: url });
    const config = loadConfig({
      PUBLIC_URL: stack.appUrl,
      ALLOW_HTTP_LOOPBACK: '1',
      SESSION_SECRET: DEMO_SESSION_SECRET,
      MCP_SERVERS: JSON.stringify([{ id: 'default', url, clientId: DEMO_CLIENT.client_id, clientSecret: DEMO_CLIENT.client_secret }]),
    });
    const app = createApp({ config, store: stack.store, log: createLogger('silent') });
    const headers = { ...MCP_HEADERS, 'x-csrf': '1', cookie: browser.jar.header(stack.appUrl) as string };
    const call = () => app.request(`${stack.appUrl}/mcp/default`, { method: 'POST', headers, body: INITIALIZE });
    return { sid, seen, call, close: () => fake.close(), stored };
  }
  const useNonce = (nonce: string) => ({ status: 401, challenge: 'DPoP error="use_dpop_nonce", algs="ES256"', nonce });

  it('a second use_dpop_nonce in a row is retried with the newest nonce, without a refresh', async () => {
    const h = await harness(({ n }) => (n <= 2 ? useNonce(`rotated-${n}`) : { status: 200 }));
    try {
      const refreshes = grants(stack, 'refresh_token');
      const res = await h.call();
      expect(res.status).toBe(200);
      await res.body?.cancel();
      expect(h.seen.map((s) => s.nonce)).toEqual([undefined, 'rotated-1', 'rotated-2']);
      expect(grants(stack, 'refresh_token')).toBe(refreshes);
      expect((await record(stack, h.sid)).accessToken).toBe(h.stored.accessToken);
    } finally {
      await h.close();
    }
  });

  it('a server that never takes a nonce is answered 503 with Retry-After; the connection stays', async () => {
    const h = await harness(({ n }) => useNonce(`always-${n}`));
    try {
      const refreshes = grants(stack, 'refresh_token');
      const res = await h.call();
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBeTruthy();
      expect(((await res.json()) as { error: string; loginUrl?: string }).loginUrl).toBeUndefined();
      // The first send and two retries, each with the newest nonce.
      expect(h.seen.map((s) => s.nonce)).toEqual([undefined, 'always-1', 'always-2']);
      expect(grants(stack, 'refresh_token')).toBe(refreshes);
      expect((await record(stack, h.sid)).accessToken).toBe(h.stored.accessToken);
    } finally {
      await h.close();
    }
  });

  it('a server that took bound tokens as bearer tokens and now names DPoP gets the proof again, not a refresh', async () => {
    let checksDpop = false;
    const h = await harness(({ authorization }) => {
      if (!checksDpop) return authorization === 'Bearer' ? { status: 200 } : { status: 401, challenge: 'Bearer error="invalid_token"' };
      return authorization === 'DPoP' ? { status: 200 } : { status: 401, challenge: 'DPoP algs="ES256"' };
    });
    try {
      // First: refused as DPoP with a Bearer-only challenge, taken as a bearer token: "bearer only".
      const first = await h.call();
      expect(first.status).toBe(200);
      await first.body?.cancel();
      expect(h.seen.map((s) => s.authorization)).toEqual(['DPoP', 'Bearer']);
      checksDpop = true;
      const refreshes = grants(stack, 'refresh_token');
      const second = await h.call();
      expect(second.status).toBe(200);
      await second.body?.cancel();
      expect(h.seen.map((s) => s.authorization)).toEqual(['DPoP', 'Bearer', 'Bearer', 'DPoP']);
      expect(grants(stack, 'refresh_token')).toBe(refreshes);
      expect((await record(stack, h.sid)).accessToken).toBe(h.stored.accessToken);
    } finally {
      await h.close();
    }
  });
});
