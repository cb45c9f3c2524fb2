import { multiPorts } from '../playwright.config.js';
import { expect, test } from './fixtures.js';

test.use({ baseURL: `http://localhost:${multiPorts.app}` });

test('two MCP servers behind two authorization servers: connect both, call a tool on each, log out of all', async ({ page }) => {
  await page.goto('/');
  const first = page.getByRole('region', { name: 'Demo MCP server', exact: true });
  const second = page.getByRole('region', { name: 'Second demo MCP server', exact: true });
  await expect(first.getByText('Not connected')).toBeVisible();
  await expect(second.getByText('Not connected')).toBeVisible();

  for (const [region, asPort] of [
    [first, multiPorts.as],
    [second, multiPorts.secondAs],
  ] as const) {
    await region.getByRole('link', { name: 'Connect' }).click();
    await expect(page).toHaveURL(new RegExp(`^http://127\\.0\\.0\\.1:${asPort}/`));
    // Each authorization server has its own login session: sign in at each.
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill('alice-demo-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Allow' }).click();
    await expect(region.getByText('Connected', { exact: true })).toBeVisible();
  }
  await expect(first.getByText('Signed in as alice')).toBeVisible();
  await expect(second.getByText('Signed in as alice')).toBeVisible();

  for (const region of [first, second]) {
    await region.getByRole('link', { name: 'add', exact: true }).click();
    await page.getByLabel('a', { exact: true }).fill('20');
    await page.getByLabel('b', { exact: true }).fill('22');
    await page.getByRole('button', { name: 'Run' }).click();
    await expect(page.getByRole('region', { name: 'Result' })).toContainText('42');
    await page.getByRole('link', { name: 'Back to servers' }).click();
  }

  // Disconnecting one server leaves the other connected.
  await second.getByRole('button', { name: 'Disconnect' }).click();
  await expect(second.getByText('Not connected')).toBeVisible();
  await expect(first.getByText('Connected', { exact: true })).toBeVisible();
  // Reconnect: the AS still knows alice, but the revoked grant needs consent again.
  await second.getByRole('link', { name: 'Connect' }).click();
  await page.getByRole('button', { name: 'Allow' }).click();
  await expect(second.getByText('Connected', { exact: true })).toBeVisible();

  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(first.getByText('Not connected')).toBeVisible();
  await expect(second.getByText('Not connected')).toBeVisible();
  const session = await (await page.request.get('/bff/session', { headers: { 'X-CSRF': '1' } })).json();
  expect(session.connections.map((c: { status: string }) => c.status)).toEqual(['login_required', 'login_required']);
});
