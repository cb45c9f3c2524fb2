import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page, Request, Response } from '@playwright/test';
import { loginThroughForms } from '../demo/src/login-driver.js';
import { ports } from '../playwright.config.js';
import { expect, inspectorUrl, signIn, test, tokenRequests } from './fixtures.js';

/**
 * A hostile site in a real browser: pages on 127.0.0.1 (another site than the app on localhost) that try
 * what web pages can do to a signed-in person's app — post forms, fetch with credentials, load images,
 * frame the app, send the person to the attacker's own login callback. None of it logs the person out,
 * reaches the MCP server, reads anything, or signs the person in as someone else.
 */

const appOrigin = `http://localhost:${ports.app}`;
let hostile: Server;
let hostileOrigin: string;
const pages = new Map<string, string>();

test.beforeAll(async () => {
  hostile = createServer((req, res) => {
    const html = pages.get(new URL(req.url ?? '/', 'http://x').pathname);
    res.writeHead(html ? 200 : 404, { 'content-type': 'text/html' });
    res.end(html ?? 'not found');
  });
  await new Promise<void>((resolve) => hostile.listen(0, '127.0.0.1', resolve));
  hostileOrigin = `http://127.0.0.1:${(hostile.address() as AddressInfo).port}`;
});

test.afterAll(async () => {
  await new Promise<void>((resolve) => {
    hostile.close(() => resolve());
    hostile.closeAllConnections();
  });
});

/** Serves `html` from the hostile site and returns its URL. */
function hostilePage(path: string, html: string): string {
  pages.set(path, `<!doctype html><html><head><title>Totally harmless</title></head><body>${html}</body></html>`);
  return `${hostileOrigin}${path}`;
}

async function mcpServer(): Promise<{ count: number; getStreams: string[] }> {
  return (await fetch(`${inspectorUrl}/mcp-requests`)).json();
}

async function mcpRequests(): Promise<number> {
  return (await mcpServer()).count;
}

/**
 * Signs alice in, waits for the app to finish talking to the MCP server, then leaves the app (the
 * hostile page takes its tab): how many requests the MCP server had received by then. "Finished" is
 * deterministic: the page shows what its last MCP call (whoami) returned, and every request the page
 * sent to /mcp/ has reached the MCP server — it has an answer (the BFF answers only after the MCP
 * server did, or without asking it), or it is the SDK's standalone GET stream, which stays open
 * without an answer the browser reports, and the MCP server has received it. Leaving starts nothing
 * either: the page does not open its dropped listen stream again on its way out (web/src/mcp.ts).
 */
async function signInAndLeave(page: Page): Promise<number> {
  const unanswered = new Set<Request>();
  const onRequest = (request: Request) => {
    if (request.url().startsWith(`${appOrigin}/mcp/`)) unanswered.add(request);
  };
  const onResponse = (response: Response) => unanswered.delete(response.request());
  const onFailed = (request: Request) => unanswered.delete(request);
  page.on('request', onRequest);
  page.on('response', onResponse);
  page.on('requestfailed', onFailed);
  try {
    await page.goto('/');
    await signIn(page, 'alice');
    await expect(page.getByText('Connected', { exact: true })).toBeVisible();
    await expect(page.getByText('Signed in as alice')).toBeVisible();
    await expect
      .poll(async () => {
        const { getStreams } = await mcpServer();
        const received = (r: Request) => {
          const mcpSession = r.headers()['mcp-session-id'];
          return r.method() === 'GET' && mcpSession !== undefined && getStreams.includes(mcpSession);
        };
        return [...unanswered].filter((r) => !received(r)).map((r) => `${r.method()} ${r.url()}`);
      })
      .toEqual([]);
  } finally {
    page.off('request', onRequest);
    page.off('response', onResponse);
    page.off('requestfailed', onFailed);
  }
  await page.goto(hostilePage('/blank', '<p>nothing to see</p>'));
  return mcpRequests();
}

async function revocations(): Promise<number> {
  return ((await (await fetch(`${inspectorUrl}/revocations`)).json()) as unknown[]).length;
}

async function codeExchanges(): Promise<number> {
  return (await tokenRequests()).filter((r) => r.grantType === 'authorization_code').length;
}

/** What the app itself says about the session (the same request the SPA makes). */
async function sessionOf(page: Page): Promise<{ authenticated: boolean }> {
  return (await page.request.get('/bff/session', { headers: { 'X-CSRF': '1' } })).json();
}

async function expectStillSignedInAsAlice(page: Page): Promise<void> {
  expect((await sessionOf(page)).authenticated).toBe(true);
  await page.goto('/');
  await expect(page.getByText('Signed in as alice')).toBeVisible();
}

test('forms posted from another site to /bff/logout and /mcp/default: refused, nothing forwarded, still signed in', async ({ page }) => {
  const forwarded = await signInAndLeave(page);
  const revoked = await revocations();
  const rpc = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"csrf"}},"x":"';
  for (const [target, enctype] of [
    ['/bff/logout', 'text/plain'],
    ['/bff/logout', 'application/x-www-form-urlencoded'],
    ['/bff/logout', 'multipart/form-data'],
    ['/mcp/default', 'text/plain'],
    ['/mcp/default', 'application/x-www-form-urlencoded'],
    ['/mcp/default', 'multipart/form-data'],
  ] as const) {
    const url = hostilePage(
      `/form-${target.replaceAll('/', '-')}-${enctype.replace(/\W/g, '-')}`,
      `<form method="POST" action="${appOrigin}${target}" enctype="${enctype}"><input type="hidden" name='${rpc}' value='"}'></form>` +
        '<script>document.forms[0].submit()</script>',
    );
    const answer = page.waitForResponse((r) => r.url() === `${appOrigin}${target}`);
    await page.goto(url);
    const res = await answer;
    expect(res.status(), `${target} as ${enctype}`).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'csrf_failed' });
  }
  expect(await mcpRequests()).toBe(forwarded);
  expect(await revocations()).toBe(revoked);
  await expectStillSignedInAsAlice(page);
});

test('fetch from another site, with credentials, no-cors or cors: refused, unreadable, nothing forwarded', async ({ page }) => {
  const forwarded = await signInAndLeave(page);
  await page.goto(hostilePage('/fetch', '<p>loading…</p>'));
  const outcome = await page.evaluate(async (app) => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
    const attempt = async (path: string, init: RequestInit) => {
      try {
        const res = await fetch(`${app}${path}`, { credentials: 'include', ...init });
        const text = await res.text();
        return { type: res.type, status: res.status, text };
      } catch (error) {
        return { error: (error as Error).name };
      }
    };
    return {
      noCorsMcp: await attempt('/mcp/default', { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body }),
      noCorsLogout: await attempt('/bff/logout', { method: 'POST', mode: 'no-cors' }),
      corsWithCsrfHeader: await attempt('/mcp/default', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf': '1' }, body }),
      corsSession: await attempt('/bff/session', {}),
      corsLogoutWithHeader: await attempt('/bff/logout', { method: 'POST', headers: { 'x-csrf': '1' } }),
    };
  }, appOrigin);
  // Not even an opaque answer: Cross-Origin-Resource-Policy: same-origin makes it a network error.
  expect(outcome.noCorsMcp).toEqual({ error: 'TypeError' });
  expect(outcome.noCorsLogout).toEqual({ error: 'TypeError' });
  // CORS: the preflight (or the answer's missing Access-Control-Allow-Origin) stops it.
  expect(outcome.corsWithCsrfHeader).toEqual({ error: 'TypeError' });
  expect(outcome.corsSession).toEqual({ error: 'TypeError' });
  expect(outcome.corsLogoutWithHeader).toEqual({ error: 'TypeError' });
  expect(await mcpRequests()).toBe(forwarded);
  await expectStillSignedInAsAlice(page);
});

test('a cross-site GET of /bff/logout (image, script, link) does nothing', async ({ page }) => {
  await signInAndLeave(page);
  const revoked = await revocations();
  const requested = page.waitForRequest(`${appOrigin}/bff/logout`);
  // The page's load event waits for the image and the script, whatever became of them.
  await page.goto(
    hostilePage(
      '/get-logout',
      `<img src="${appOrigin}/bff/logout"><script src="${appOrigin}/bff/logout?s"></script><a id="go" href="${appOrigin}/bff/logout">win a prize</a>`,
    ),
  );
  await requested;
  await page.getByRole('link', { name: 'win a prize' }).click();
  await expect(page).toHaveURL(`${appOrigin}/bff/logout`);
  expect(await revocations()).toBe(revoked);
  await expectStillSignedInAsAlice(page);
});

test('another site cannot frame the app', async ({ page }) => {
  const blocked = page.waitForEvent('console', { predicate: (m) => /frame-ancestors|X-Frame-Options/i.test(m.text()), timeout: 15_000 });
  await page.goto(hostilePage('/frame', `<iframe id="app" title="app" src="${appOrigin}/" width="800" height="600"></iframe>`));
  await blocked;
  const frame = page.frames().find((f) => f !== page.mainFrame());
  expect(frame?.url().startsWith(appOrigin)).not.toBe(true);
  await expect(page.frameLocator('#app').getByRole('heading', { name: 'MCP servers' })).toHaveCount(0);
});

test('login CSRF: the attacker’s own callback URL, opened in the person’s browser, signs nobody in as the attacker', async ({ browser, page }) => {
  // The attacker (bob) starts a login of his own, outside any browser, and stops at the callback.
  const start = await fetch(`${appOrigin}/bff/login?server=default&returnTo=/`, { redirect: 'manual' });
  const attackersCallback = await loginThroughForms(start.headers.get('location') as string, 'bob', 'bob-demo-password');
  expect(attackersCallback.origin + attackersCallback.pathname).toBe(`${appOrigin}/bff/callback/default`);
  const trap = hostilePage('/trap', `<a id="go" href="${attackersCallback.href}">see the photos</a>`);

  // A person signed in as alice.
  await page.goto('/');
  await signIn(page, 'alice');
  const exchanges = await codeExchanges();
  await page.goto(trap);
  await page.getByRole('link', { name: 'see the photos' }).click();
  await expect(page.getByRole('heading', { name: 'Sign-in failed' })).toBeVisible();
  expect(await codeExchanges()).toBe(exchanges);
  await expectStillSignedInAsAlice(page);

  // A person not signed in at all.
  const context = await browser.newContext();
  try {
    const fresh = await context.newPage();
    await fresh.goto(trap);
    await fresh.getByRole('link', { name: 'see the photos' }).click();
    await expect(fresh.getByRole('heading', { name: 'Sign-in failed' })).toBeVisible();
    expect(await codeExchanges()).toBe(exchanges);
    expect((await sessionOf(fresh)).authenticated).toBe(false);
    await fresh.goto('/');
    await expect(fresh.getByText('Not connected')).toBeVisible();
  } finally {
    await context.close();
  }
});

test('the SPA is served with a strict CSP and runs under it', async ({ page, noPageProblems: _ }) => {
  // Chromium asks for brotli: the scripts come as the build precompressed them (the document is too
  // small to be worth it).
  const script = page.waitForResponse((r) => /\/assets\/index-[^/]+\.js$/.test(r.url()));
  const res = await page.goto('/');
  expect((await script).headers()['content-encoding']).toBe('br');
  expect((await script).headers()['cache-control']).toMatch(/immutable/);
  const headers = res?.headers() ?? {};
  const csp = headers['content-security-policy'] ?? '';
  const directives = new Map(csp.split(';').map((d) => d.trim().split(/\s+/) as [string, ...string[]]).map(([name, ...v]) => [name, v]));
  const scripts = directives.get('script-src') ?? directives.get('default-src') ?? [];
  expect(scripts).toEqual(["'self'"]);
  expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
  expect(directives.get('object-src')).toEqual(["'none'"]);
  expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
  expect(headers['referrer-policy']).toBe('no-referrer');
  expect(headers['x-content-type-options']).toBe('nosniff');
  // The built document has no inline script, style or event handler that the CSP would have to allow.
  const html = await (await page.request.get('/')).text();
  expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
  expect(html).not.toMatch(/<style/i);
  expect(html).not.toMatch(/\son[a-z]+=/i);
  await expect(page.getByRole('heading', { level: 1, name: 'MCP servers' })).toBeVisible();
});
