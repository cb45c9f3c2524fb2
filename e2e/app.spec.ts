import { expect, issuedSecrets, signIn, test, tokenRequests } from './fixtures.js';

test('a person logs in across sites, calls tools, outlives the access token, and logs out', async ({ page, signIn, runTool }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { level: 1, name: 'MCP servers' })).toBeVisible();
  await expect(page.getByText('Not connected')).toBeVisible();

  await signIn('alice');
  await expect(page.getByText('Connected', { exact: true })).toBeVisible();
  await expect(page.getByText('Signed in as alice')).toBeVisible();
  for (const tool of ['whoami', 'echo', 'add', 'slow_task']) {
    await expect(page.getByRole('link', { name: tool, exact: true })).toBeVisible();
  }

  await runTool('add', { a: '2', b: '3' });
  await expect(page.getByRole('region', { name: 'Result' })).toContainText('5');

  await page.getByRole('link', { name: 'Back to servers' }).click();
  // 1.5 s steps: an intermediate step (1–4 of 5) stays on screen for six seconds, however slow the machine.
  await runTool('slow_task', { steps: '5', delayMs: '1500' });
  const progress = page.getByRole('progressbar', { name: 'Progress' });
  await expect(progress).toBeVisible();
  await expect(page.getByText(/^[1-4] \/ 5$/)).toBeVisible();
  await expect(page.getByRole('region', { name: 'Result' })).toContainText('Completed 5 steps');

  // Outlive the access token: wait for the expiry the BFF reports, then keep working without a login.
  const session = await (await page.request.get('/bff/session', { headers: { 'X-CSRF': '1' } })).json();
  // The token may already have expired during the slow task (its TTL is 8 s); either way, the poll below
  // waits until it has, and the refresh count proves the next call needed and got a refresh.
  const expiresAt = session.connections[0].expiresAt as number;
  expect(expiresAt).toEqual(expect.any(Number));
  const refreshesBefore = (await tokenRequests()).filter((r) => r.grantType === 'refresh_token').length;
  await expect.poll(() => Date.now() > expiresAt, { timeout: 30_000, intervals: [500] }).toBe(true);
  await page.getByRole('link', { name: 'Back to servers' }).click();
  await runTool('add', { a: '40', b: '2' });
  await expect(page.getByRole('region', { name: 'Result' })).toContainText('42');
  expect((await tokenRequests()).filter((r) => r.grantType === 'refresh_token').length).toBeGreaterThan(refreshesBefore);
  await expect(page).toHaveURL(/localhost/);

  await page.getByRole('link', { name: 'Back to servers' }).click();
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page.getByText('Not connected')).toBeVisible();
  await page.reload();
  await expect(page.getByText('Not connected')).toBeVisible();
  const mcp = await page.request.post('/mcp/default', {
    headers: { 'X-CSRF': '1', 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    data: { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} },
  });
  expect(mcp.status()).toBe(401);
});

test('when the session ends, the page says so and reconnecting returns to the same page', async ({ page, runTool }) => {
  await page.goto('/');
  await signIn(page);
  await runTool('echo', { message: 'hello' });
  await expect(page.getByRole('region', { name: 'Result' })).toContainText('hello');
  const toolUrl = page.url();

  // The session ends behind the page's back (logout from another tab).
  await page.request.post('/bff/logout', { headers: { 'X-CSRF': '1' } });
  await page.getByRole('button', { name: 'Run' }).click();
  const banner = page.getByRole('alert').filter({ hasText: 'Your session has ended.' });
  await expect(banner).toBeVisible();
  // The server's badge stops saying "Connected" at once.
  await expect(page.locator('.server-head').getByText('Session ended', { exact: true })).toBeVisible();
  await banner.getByRole('link', { name: 'Reconnect' }).click();
  // The AS still has its own login session for alice: consent may be asked again, or not at all.
  // Logout revoked the grant at the AS, so it asks for consent again (its own login session remains).
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(toolUrl);
  await expect(page.getByRole('heading', { level: 1, name: 'echo' })).toBeVisible();
  await expect(page.locator('.server-head').getByText('Connected', { exact: true })).toBeVisible();
});

test('an access denied at the consent page brings the person back with a clear message', async ({ page }) => {
  await page.goto('/');
  await page.getByRole('link', { name: 'Connect' }).first().click();
  await page.getByLabel('Username').fill('bob');
  await page.getByLabel('Password').fill('bob-demo-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Deny' }).click();
  await expect(page).toHaveURL(/login_error=access_denied/);
  await expect(page.getByRole('alert')).toContainText(/denied/i);
  // The reference to quote in a report: the id of the BFF request the failure is logged under.
  const reference = new URL(page.url()).searchParams.get('login_ref');
  expect(reference).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  await expect(page.getByRole('alert')).toContainText(`Reference: ${reference}`);
  await expect(page.getByText('Not connected')).toBeVisible();
  await page.getByRole('alert').getByRole('button', { name: 'Dismiss' }).click();
  await expect(page.getByRole('alert')).toHaveCount(0);
  await expect(page).not.toHaveURL(/login_ref=/);
});

test('a call the BFF refuses shows its reference: the id the BFF answered with (header and body)', async ({ page, runTool }) => {
  await page.goto('/');
  await signIn(page);
  // The fault: the tool call leaves with a header the BFF refuses to forward (400, its own JSON body).
  // The answer is read here, as it passes (the browser's own copy of a routed response's body is not
  // always still there to read afterwards), and handed on unchanged.
  const refusals: Array<{ header: string | undefined; body: unknown }> = [];
  await page.route(
    (url) => url.pathname === '/mcp/default',
    async (route) => {
      if (!route.request().postData()?.includes('"tools/call"')) return route.continue();
      const response = await route.fetch({ headers: { ...route.request().headers(), 'mcp-param-token': `=?base64?${'c2VjcmV0'.repeat(3)}=?=` } });
      const body = await response.text();
      if (response.status() === 400) refusals.push({ header: response.headers()['x-request-id'], body: JSON.parse(body) });
      return route.fulfill({ response, body });
    },
  );
  await runTool('echo', { message: 'hello' });
  const error = page.getByRole('alert').filter({ hasText: 'The call failed' });
  await expect(error).toContainText('Reference: ');
  const shown = await error.locator('code').textContent();
  expect(shown).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  // The id shown is the refused request's: in its X-Request-Id header and its body.
  expect(refusals).toContainEqual({ header: shown, body: expect.objectContaining({ error: 'bad_request', requestId: shown }) });
});

test('nothing the browser can see holds a token, code or verifier', async ({ page, context, signIn, runTool }) => {
  const seen: string[] = [];
  page.on('response', async (response) => {
    const url = new URL(response.url());
    // The authorization code necessarily passes through the browser in the AS's redirect to the
    // callback; everything the app's own origin sends must be free of it and of every token.
    if (url.hostname !== 'localhost') return;
    // The callback's own request URL carries the code by design (it is how the code reaches the BFF).
    if (url.pathname !== '/bff/callback/default') seen.push(url.href);
    seen.push(JSON.stringify(await response.allHeaders()));
    if (response.status() < 300 || response.status() >= 400) {
      seen.push(await response.text().catch(() => ''));
    }
  });
  await page.goto('/');
  await signIn();
  await runTool('whoami');
  await expect(page.getByRole('region', { name: 'Result' })).toContainText('alice');
  await page.getByRole('link', { name: 'Back to servers' }).click();
  await runTool('slow_task', { steps: '2', delayMs: '50' });
  await expect(page.getByRole('region', { name: 'Result' })).toContainText('Completed 2 steps');

  seen.push(JSON.stringify(await context.cookies()));
  seen.push(await page.evaluate(() => JSON.stringify({ ...localStorage })));
  seen.push(await page.evaluate(() => JSON.stringify({ ...sessionStorage })));
  seen.push(page.url(), await page.content());
  const everything = seen.join('\n');

  const secrets = await issuedSecrets();
  expect(secrets.length).toBeGreaterThanOrEqual(4); // code, verifier, access token, refresh token
  for (const [i, secret] of secrets.entries()) {
    expect(everything.includes(secret), `issued secret #${i} is visible to the browser`).toBe(false);
  }
  // No JWT of any kind.
  expect(everything).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.eyJ/);
});
