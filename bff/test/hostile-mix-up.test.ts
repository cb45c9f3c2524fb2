import { getRequestListener } from '@hono/node-server';
import { afterEach, describe, expect, it } from 'vitest';
import { listen } from '../../demo/src/listen.js';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { MemoryTokenStore } from '../src/store/memory.js';
import { TEST_SESSION_SECRET } from './hostile-support.js';
import { TestBrowser } from './support.js';
import { startVariant, type Variant, type VariantOptions } from './variant-server.js';

/**
 * Mix-up between authorization servers (RFC 9700 §4.4; issue #12, item 2). One of two configured MCP
 * servers is hostile: its metadata names the attacker's AS, which relays the person's authorization
 * request (state, code_challenge) to the honest server's AS, as the BFF's client there. The honest AS
 * sends no `iss`. Its code must never reach the attacker's token endpoint: each server has its own
 * redirect URI (PUBLIC_URL/bff/callback/<server id>), an AS accepts only the ones registered with it,
 * and the BFF accepts a callback only at the URI of the server its login is for.
 */

/** Neither AS says anything about `iss`, and neither sends one: the case only redirect URIs can catch. */
const NO_ISS: VariantOptions = { iss: 'missing', metadata: { authorization_response_iss_parameter_supported: undefined } };

interface Bff {
  origin: string;
  browser(): TestBrowser;
  store: MemoryTokenStore;
  close(): Promise<void>;
}

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (closers.length) await closers.pop()?.();
});

async function variant(options: VariantOptions): Promise<Variant> {
  const v = await startVariant(options);
  closers.push(() => v.close());
  return v;
}

/** A BFF for several servers ({ id: url, or { url, ...entry } }), on a port bound first so PUBLIC_URL can name it. */
async function startBff(servers: Array<Record<string, unknown>>): Promise<Bff> {
  const listening = await listen(0, '127.0.0.1', 'localhost');
  const config = loadConfig({
    PUBLIC_URL: listening.origin,
    MCP_SERVERS: JSON.stringify(servers),
    SESSION_SECRET: TEST_SESSION_SECRET,
    ALLOW_HTTP_LOOPBACK: '1',
    LOG_LEVEL: 'silent',
    TOKEN_STORE: 'memory',
  });
  const store = new MemoryTokenStore();
  listening.handle(getRequestListener(createApp({ config, store, log: createLogger('silent') }).fetch));
  closers.push(() => listening.close());
  return { origin: listening.origin, browser: () => new TestBrowser(listening.origin), store, close: () => listening.close() };
}

/** /bff/login for `server`: the authorization request the BFF sends the browser to. */
async function authorizationRequest(browser: TestBrowser, server: string): Promise<URL> {
  const login = await browser.request(`/bff/login?server=${server}&returnTo=/`, { csrf: false });
  expect(login.status).toBe(302);
  return new URL(login.headers.get('location') as string);
}

async function connections(browser: TestBrowser): Promise<string[]> {
  const info = (await (await browser.request('/bff/session')).json()) as { connections: Array<{ server: string; status: string }> };
  return info.connections.filter((c) => c.status === 'connected').map((c) => c.server);
}

/** Follows a redirect chain outside the BFF (the ASes' endpoints) until it leaves for the app, or stops. */
async function followAuthorization(start: URL, appOrigin: string): Promise<{ callback?: URL; stoppedWith?: number }> {
  let at = start;
  for (let hop = 0; hop < 5; hop++) {
    const res = await fetch(at, { redirect: 'manual' });
    if (res.status !== 302) return { stoppedWith: res.status };
    at = new URL(res.headers.get('location') as string);
    if (at.origin === appOrigin) return { callback: at };
  }
  throw new Error('too many redirects');
}

describe('a hostile server’s AS relays the login to the honest server’s AS, which sends no iss', () => {
  it.each([
    ['registered dynamically', 'unchanged'],
    ['registered dynamically', 'the honest server’s'],
    ['pre-registered by the operator', 'unchanged'],
    ['pre-registered by the operator', 'the honest server’s'],
  ] as const)('client %s, redirect URI %s: the code never reaches the attacker’s token endpoint', async (registration, redirect) => {
    const preRegistered = registration === 'pre-registered by the operator';
    // The honest AS, as a real one: it redirects only to a redirect URI registered for the client.
    const honest = await variant({ ...NO_ISS, checkRedirectUri: true, ...(preRegistered ? { registration: false } : {}) });
    // What the attacker learns by starting a login of their own at the honest server: the BFF's
    // client_id there and that server's redirect URI.
    const learned = { clientId: '', redirectUri: '' };
    const hostile = await variant({
      ...NO_ISS,
      relayAuthorization(request) {
        const to = new URL(`${honest.issuer}/authorize`);
        for (const name of ['response_type', 'state', 'code_challenge', 'code_challenge_method', 'scope']) {
          to.searchParams.set(name, request.get(name) ?? '');
        }
        to.searchParams.set('client_id', learned.clientId);
        to.searchParams.set('redirect_uri', redirect === 'unchanged' ? (request.get('redirect_uri') as string) : learned.redirectUri);
        to.searchParams.set('resource', honest.url);
        return to.href;
      },
    });
    const honestEntry: Record<string, unknown> = { id: 'honest', url: honest.url };
    const bff = await startBffWith(honestEntry, hostile, preRegistered, honest);

    const attacker = bff.browser();
    const own = await authorizationRequest(attacker, 'honest');
    learned.clientId = own.searchParams.get('client_id') as string;
    learned.redirectUri = own.searchParams.get('redirect_uri') as string;

    // The victim connects the hostile server.
    const victim = bff.browser();
    const toHostile = await authorizationRequest(victim, 'hostile');
    expect(toHostile.origin).toBe(new URL(hostile.issuer).origin);
    const { callback, stoppedWith } = await followAuthorization(toHostile, bff.origin);
    // The browser loads whatever callback the honest AS sent it to.
    const landed = callback ? await victim.request(`${callback.pathname}${callback.search}`, { csrf: false }) : undefined;
    // The honest AS's code never reached the attacker's token endpoint, nor was it exchanged anywhere.
    expect(hostile.tokenRequests).toEqual([]);
    expect(honest.tokenRequests).toEqual([]);
    if (redirect === 'unchanged') {
      // The hostile server's redirect URI is not registered at the honest AS: no code at all.
      expect(stoppedWith).toBe(400);
      expect(honest.refusedAuthorizations).toHaveLength(1);
    } else {
      // Issued to the honest server's redirect URI: the BFF refuses it there, for it is the hostile
      // server's login.
      expect(callback?.pathname).toBe('/bff/callback/honest');
      expect(landed?.status).toBe(400);
      expect(await landed?.text()).toMatch(/Sign-in failed/);
    }
    expect(await connections(victim)).toEqual([]);
  });

  async function startBffWith(honestEntry: Record<string, unknown>, hostile: Variant, preRegistered: boolean, honest: Variant): Promise<Bff> {
    if (!preRegistered) return startBff([honestEntry, { id: 'hostile', url: hostile.url }]);
    // The operator registered the BFF at the honest AS with the honest server's redirect URI only, as
    // the README says; the redirect URI needs the BFF's origin, so the AS learns it after the bind.
    const bff = await startBff([
      { ...honestEntry, clientId: 'bff-at-honest', clientSecret: 'operator-registered-secret', issuer: honest.issuer },
      { id: 'hostile', url: hostile.url },
    ]);
    honest.registerClient('bff-at-honest', { secret: 'operator-registered-secret', redirectUris: [`${bff.origin}/bff/callback/honest`] });
    return bff;
  }
});

describe('redirect URIs, one per server', () => {
  it('a callback at another server’s redirect URI is refused, nothing is exchanged, and that login is over', async () => {
    const a = await variant({});
    const b = await variant({});
    const bff = await startBff([
      { id: 'a', url: a.url },
      { id: 'b', url: b.url },
    ]);
    const browser = bff.browser();
    const request = await authorizationRequest(browser, 'a');
    expect(request.searchParams.get('redirect_uri')).toBe(`${bff.origin}/bff/callback/a`);
    const { callback } = await followAuthorization(request, bff.origin);
    expect(callback?.pathname).toBe('/bff/callback/a');

    const crossed = await browser.request(`/bff/callback/b${callback?.search}`, { csrf: false });
    expect(crossed.status).toBe(400);
    expect(await crossed.text()).toMatch(/Sign-in failed/);
    // RFC 9700 §4.4.2: on a mismatch the flow is aborted; its own callback no longer completes it.
    const own = await browser.request(`${callback?.pathname}${callback?.search}`, { csrf: false });
    expect(own.status).toBe(400);
    expect(a.tokenRequests).toEqual([]);
    expect(b.tokenRequests).toEqual([]);
    expect(await connections(browser)).toEqual([]);
  });

  it('/bff/callback without a server id, or with an unknown one: a refusal page, and the login in progress still completes', async () => {
    const a = await variant({});
    const bff = await startBff([{ id: 'a', url: a.url }]);
    const browser = bff.browser();
    const { callback } = await followAuthorization(await authorizationRequest(browser, 'a'), bff.origin);
    for (const path of ['/bff/callback', '/bff/callback/', '/bff/callback/nope', '/bff/callback/a/x']) {
      const res = await browser.request(`${path}${callback?.search}`, { csrf: false });
      expect(res.status, path).toBe(400);
      expect(res.headers.get('content-type'), path).toMatch(/text\/html/);
      expect(await res.text(), path).toMatch(/Sign-in failed/);
    }
    expect(a.tokenRequests).toEqual([]);
    expect((await browser.finishLogin(callback as URL)).status).toBe(302);
    expect(await connections(browser)).toEqual(['a']);
  });

  it('two logins to two servers in two tabs of one browser: the newer completes, the older is refused without spoiling it', async () => {
    const a = await variant({});
    const b = await variant({});
    const bff = await startBff([
      { id: 'a', url: a.url },
      { id: 'b', url: b.url },
    ]);
    const browser = bff.browser();
    const first = await followAuthorization(await authorizationRequest(browser, 'a'), bff.origin);
    const second = await followAuthorization(await authorizationRequest(browser, 'b'), bff.origin);
    const older = await browser.request(`${first.callback?.pathname}${first.callback?.search}`, { csrf: false });
    expect(older.status).toBe(400);
    expect((await browser.finishLogin(second.callback as URL)).status).toBe(302);
    expect(a.tokenRequests).toEqual([]);
    expect(await connections(browser)).toEqual(['b']);
  });

  it('the client metadata document lists every server’s; each server’s login uses its own', async () => {
    const a = await variant({});
    const b = await variant({ cimd: true });
    const bff = await startBff([
      { id: 'a', url: a.url },
      { id: 'b', url: b.url },
    ]);
    const doc = await (await bff.browser().request('/bff/oauth-client.json', { csrf: false })).json();
    expect(doc.redirect_uris).toEqual([`${bff.origin}/bff/callback/a`, `${bff.origin}/bff/callback/b`]);
    const browser = bff.browser();
    expect((await authorizationRequest(browser, 'a')).searchParams.get('redirect_uri')).toBe(`${bff.origin}/bff/callback/a`);
    const viaDocument = await authorizationRequest(browser, 'b');
    expect(viaDocument.searchParams.get('client_id')).toBe(`${bff.origin}/bff/oauth-client.json`);
    expect(viaDocument.searchParams.get('redirect_uri')).toBe(`${bff.origin}/bff/callback/b`);
  });

  it('a dynamic registration lists the redirect URIs of the servers that use that AS, and no others', async () => {
    const shared = await variant({});
    const alsoShared = await variant({});
    alsoShared.moveTo(shared);
    const elsewhere = await variant({});
    const bff = await startBff([
      { id: 'one', url: shared.url },
      { id: 'two', url: alsoShared.url },
      { id: 'three', url: elsewhere.url },
    ]);
    const uri = (id: string) => `${bff.origin}/bff/callback/${id}`;
    const browser = bff.browser();
    await authorizationRequest(browser, 'three');
    expect(elsewhere.registrations.map((r) => r.redirect_uris)).toEqual([[uri('three')]]);
    const one = await authorizationRequest(browser, 'one');
    expect(shared.registrations.map((r) => r.redirect_uris)).toEqual([[uri('one')]]);
    const first = one.searchParams.get('client_id');
    // A second server at the same AS: registered again, with both servers' redirect URIs.
    const two = await authorizationRequest(browser, 'two');
    expect(two.origin).toBe(new URL(shared.issuer).origin);
    expect(two.searchParams.get('redirect_uri')).toBe(uri('two'));
    expect(shared.registrations.map((r) => r.redirect_uris)).toEqual([[uri('one')], [uri('one'), uri('two')]]);
    // The client it replaced still serves what was issued to it (a login in progress, tokens).
    const stored = await bff.store.getRegisteredClient(shared.issuer);
    expect(stored).toMatchObject({ clientId: two.searchParams.get('client_id'), previous: { clientId: first } });
    // Known now: nothing more is registered, for either server.
    await authorizationRequest(browser, 'one');
    await authorizationRequest(browser, 'two');
    expect(shared.registrations).toHaveLength(2);
    expect(elsewhere.registrations).toHaveLength(1);
  });

  it('a login started before a second server made the AS’s client be registered again still completes', async () => {
    const shared = await variant({});
    const alsoShared = await variant({});
    alsoShared.moveTo(shared);
    const bff = await startBff([
      { id: 'one', url: shared.url },
      { id: 'two', url: alsoShared.url },
    ]);
    const browser = bff.browser();
    const { callback } = await followAuthorization(await authorizationRequest(browser, 'one'), bff.origin);
    await authorizationRequest(bff.browser(), 'two');
    expect(shared.registrations).toHaveLength(2);
    expect((await browser.finishLogin(callback as URL)).status).toBe(302);
    expect(await connections(browser)).toEqual(['one']);
  });
});
