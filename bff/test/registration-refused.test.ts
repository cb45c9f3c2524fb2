import { afterEach, describe, expect, it } from 'vitest';
import type { RegisteredClient } from '../src/oauth/registration.js';
import { StoreClientRegistry } from '../src/store/client-registry.js';
import { authorizeAtVariant, loginAtVariant, startVariantApp, type VariantApp } from './hostile-support.js';
import type { TestBrowser } from './support.js';
import type { VariantOptions } from './variant-server.js';

/**
 * What the demo authorization server cannot be made to show (see registration-lifecycle.test.ts for
 * what it can): an AS that redirects back with error=invalid_client when it no longer knows the client
 * (the front channel, which anyone with a login in progress can forge), with and without the RFC 7592
 * registration endpoint to ask; and invalid_client at the code exchange.
 */

const apps: VariantApp[] = [];
afterEach(async () => {
  while (apps.length) await apps.pop()?.close();
});

async function start(options: VariantOptions): Promise<VariantApp> {
  const app = await startVariantApp({ forgottenClientAtAuthorize: 'redirect', ...options });
  apps.push(app);
  return app;
}

async function registered(app: VariantApp): Promise<RegisteredClient> {
  const client = await new StoreClientRegistry(app.store).get(app.variant.issuer);
  if (!client) throw new Error('no client registered');
  return client;
}

/** As if the client had been registered an hour ago: replacing it is not held back (see REREGISTER_INTERVAL_MS). */
async function registeredLongAgo(app: VariantApp): Promise<void> {
  await new StoreClientRegistry(app.store).put({ ...(await registered(app)), registeredAt: Date.now() - 3_600_000 });
}

/** Follows the callback URL the AS sent back; the login_error code the BFF redirects to, or null. */
async function callback(browser: TestBrowser, url: URL): Promise<string | null> {
  const res = await browser.request(url.pathname + url.search, { csrf: false });
  const location = res.headers.get('location');
  return location ? new URL(location, browser.appUrl).searchParams.get('login_error') : `status ${res.status}`;
}

describe('the authorization endpoint redirects back with invalid_client', () => {
  it('with RFC 7592: a new client only when the registration endpoint agrees it is unknown; a forged redirect changes nothing', async () => {
    const app = await start({ registrationManagement: true });
    expect((await loginAtVariant(app.browser())).status).toBe(302);
    const first = await registered(app);
    await registeredLongAgo(app);

    // Forged: the callback of the browser's own login, saying invalid_client. The AS still knows the client.
    const forger = app.browser();
    const login = await forger.request('/bff/login?server=default&returnTo=/', { csrf: false });
    const state = new URL(login.headers.get('location') as string).searchParams.get('state') as string;
    const forged = new URL(`${app.origin}/bff/callback/default`);
    for (const [k, v] of Object.entries({ error: 'invalid_client', state, iss: app.variant.issuer })) forged.searchParams.set(k, v);
    expect(await callback(forger, forged)).toBe('authorization_failed');
    expect(app.variant.registrations).toHaveLength(1);
    expect((await registered(app)).clientId).toBe(first.clientId);

    // Real: the AS forgets the client between the login's start and the authorization.
    const browser = app.browser();
    const pending = await browser.request('/bff/login?server=default&returnTo=/', { csrf: false });
    app.variant.forgetClient(first.clientId);
    const authorize = await fetch(pending.headers.get('location') as string, { redirect: 'manual' });
    expect(await callback(browser, new URL(authorize.headers.get('location') as string))).toBe('authorization_failed');
    expect(app.variant.registrations).toHaveLength(2);
    // The next login works, with the new client.
    expect((await loginAtVariant(browser)).status).toBe(302);
    expect(app.variant.authorizeRequests.at(-1)?.get('client_id')).toBe((await registered(app)).clientId);
    expect((await registered(app)).clientId).not.toBe(first.clientId);
  });

  it('without RFC 7592 the redirect is believed, but replaces a client at most once a minute', async () => {
    const app = await start({});
    expect((await loginAtVariant(app.browser())).status).toBe(302);
    const first = await registered(app);
    await registeredLongAgo(app);
    app.variant.forgetClient(first.clientId);

    const browser = app.browser();
    const refused = await authorizeAtVariant(browser);
    expect(refused.searchParams.get('error')).toBe('invalid_client');
    expect(await callback(browser, refused)).toBe('authorization_failed');
    expect(app.variant.registrations).toHaveLength(2);
    expect((await loginAtVariant(browser)).status).toBe(302);

    // The new client is refused at once too: no third registration within the minute.
    app.variant.forgetClient((await registered(app)).clientId);
    const again = await authorizeAtVariant(browser);
    expect(await callback(browser, again)).toBe('authorization_failed');
    expect(app.variant.registrations).toHaveLength(2);
  });
});

describe('invalid_client at the code exchange', () => {
  it('the login fails once, the client is marked rejected, and the next login registers a new one', async () => {
    const app = await start({});
    expect((await loginAtVariant(app.browser())).status).toBe(302);
    const first = await registered(app);
    await registeredLongAgo(app);

    const browser = app.browser();
    const returned = await authorizeAtVariant(browser);
    // Purged between the authorization and the code exchange.
    app.variant.forgetClient(first.clientId);
    expect(await callback(browser, returned)).toBe('token_exchange_failed');
    expect(await registered(app)).toMatchObject({ clientId: first.clientId, rejectedAt: expect.any(Number) });

    expect((await loginAtVariant(browser)).status).toBe(302);
    expect(app.variant.registrations).toHaveLength(2);
    expect((await registered(app)).clientId).not.toBe(first.clientId);
  });
});
