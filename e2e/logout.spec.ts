/**
 * Logging out, and signing out at the authorization server too (OpenID Connect RP-Initiated Logout);
 * and a form in progress that survives the session ending and the Reconnect that follows.
 */
import { multiPorts, ports } from '../playwright.config.js';
import { expectAccessible } from './axe.js';
import { asOrigin, expect, signIn, test } from './fixtures.js';

test.beforeEach(async ({ noPageProblems: _ }) => {});

const asHost = `127.0.0.1:${ports.as}`;

test('log out and sign out at the authorization server too: Connect asks for the password again', async ({ page }) => {
  await page.goto('/');
  await signIn(page, 'alice');
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page.getByText('Not connected')).toBeVisible();

  const offer = page.getByRole('region', { name: 'You are logged out' });
  await expect(offer.getByRole('heading', { name: 'You are logged out' })).toBeFocused();
  await expect(offer).toContainText(`Also sign out at ${asHost}?`);
  await expectAccessible(page, 'the offer to sign out at the authorization server');
  await offer.getByRole('link', { name: `Sign out at ${asHost}` }).click();

  // The authorization server's own page asks before it signs the person out there.
  await expect(page).toHaveURL(new RegExp(`^${asOrigin}/session/end`));
  await expect(page.getByRole('heading', { name: 'Sign out of the demo authorization server?' })).toBeVisible();
  await expect(page.getByText('Signed in as alice')).toBeVisible();
  await page.getByRole('button', { name: 'Yes, sign me out' }).click();

  // Back in the app, which says where it came back from.
  await expect(page).toHaveURL(/^http:\/\/localhost:\d+\/\?logout=signed_out$/);
  await expect(page.getByRole('status').filter({ hasText: 'back from the authorization server’s sign-out page' })).toBeVisible();
  await expect(page.getByText('Not connected')).toBeVisible();

  // Connect: the password is asked for again.
  await page.getByRole('link', { name: 'Connect' }).first().click();
  await expect(page).toHaveURL(new RegExp(`^${asOrigin}/`));
  await expect(page.getByLabel('Password')).toBeVisible();
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill('alice-demo-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Allow' }).click();
  await expect(page.getByText('Signed in as alice')).toBeVisible();
  // The way back leaves no outcome in the address to show again.
  await expect(page).not.toHaveURL(/logout=/);
});

test('a plain log out keeps today’s behaviour: the sign-in at the authorization server stays, Connect only asks for consent', async ({
  page,
}) => {
  await page.goto('/');
  await signIn(page, 'alice');
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page.getByText('Not connected')).toBeVisible();
  const offer = page.getByRole('region', { name: 'You are logged out' });
  await offer.getByRole('button', { name: 'No, stay signed in there' }).click();
  await expect(offer).toHaveCount(0);

  await page.getByRole('link', { name: 'Connect' }).first().click();
  await expect(page).toHaveURL(new RegExp(`^${asOrigin}/`));
  // Logout revoked the grant, so consent is asked again; the AS's own sign-in remains: no password.
  await expect(page.getByRole('button', { name: 'Allow' })).toBeVisible();
  await expect(page.getByLabel('Password')).toHaveCount(0);
  await page.getByRole('button', { name: 'Allow' }).click();
  await expect(page.getByText('Signed in as alice')).toBeVisible();
});

test.describe('signed in at two authorization servers', () => {
  test.use({ baseURL: `http://localhost:${multiPorts.app}` });

  test('the person chooses the one to sign out at, and the page says the other is signed out of on its own site', async ({ page }) => {
    await page.goto('/');
    const first = page.getByRole('region', { name: 'Demo MCP server', exact: true });
    const second = page.getByRole('region', { name: 'Second demo MCP server', exact: true });
    for (const region of [first, second]) {
      await region.getByRole('link', { name: 'Connect' }).click();
      await page.getByLabel('Username').fill('alice');
      await page.getByLabel('Password').fill('alice-demo-password');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('button', { name: 'Allow' }).click();
      await expect(region.getByText('Connected', { exact: true })).toBeVisible();
    }
    await page.getByRole('button', { name: 'Log out' }).click();
    const offer = page.getByRole('region', { name: 'You are logged out' });
    await expect(offer).toContainText('You can sign out at one of them from here; sign out at the others on their own sites.');
    await expect(offer.getByRole('link', { name: /^Sign out at / })).toHaveCount(2);
    await expect(offer).toContainText('for Second demo MCP server');
    await offer.getByRole('link', { name: `Sign out at 127.0.0.1:${multiPorts.secondAs}` }).click();
    await expect(page).toHaveURL(new RegExp(`^http://127\\.0\\.0\\.1:${multiPorts.secondAs}/session/end`));
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await expect(page).toHaveURL(/\?logout=signed_out$/);

    // (Both demo authorization servers are on 127.0.0.1, and cookies do not tell ports apart: their
    // sign-in cookies replace each other, so only the chosen one's outcome can be shown here.)
    await second.getByRole('link', { name: 'Connect' }).click();
    await expect(page).toHaveURL(new RegExp(`^http://127\\.0\\.0\\.1:${multiPorts.secondAs}/`));
    await expect(page.getByLabel('Password')).toBeVisible();
  });
});

test('the session ends while a tool form is filled in: after Reconnect it is still filled in', async ({ page }) => {
  await page.goto('/');
  await signIn(page, 'alice');
  await page.goto('/servers/default/tools/create_event');
  await expect(page.getByRole('heading', { level: 1, name: 'create_event' })).toBeVisible();
  const toolUrl = page.url();
  await page.getByLabel('title', { exact: true }).fill('Harbour walk');
  const location = page.getByRole('group', { name: 'location' });
  await location.getByLabel('city', { exact: true }).fill('Lisbon');
  await page.getByRole('button', { name: 'Add to attendees' }).click();
  await page.getByRole('group', { name: 'attendees item 1' }).getByLabel('name', { exact: true }).fill('Ada');
  await page.getByLabel('priority', { exact: true }).selectOption('high');
  await page.getByLabel('remind', { exact: true }).uncheck();

  // The session ends behind the page's back (logout from another tab).
  await page.request.post('/bff/logout', { headers: { 'X-CSRF': '1' } });
  await page.getByRole('button', { name: 'Run' }).click();
  const banner = page.getByRole('alert').filter({ hasText: 'Your session has ended.' });
  await banner.getByRole('link', { name: 'Reconnect' }).click();
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(toolUrl);

  await expect(page.getByText('Filled in as you left it.')).toBeVisible();
  await expectAccessible(page, 'a form filled in again after Reconnect');
  await expect(page.getByLabel('title', { exact: true })).toHaveValue('Harbour walk');
  await expect(page.getByRole('group', { name: 'location' }).getByLabel('city', { exact: true })).toHaveValue('Lisbon');
  await expect(page.getByRole('group', { name: 'attendees item 1' }).getByLabel('name', { exact: true })).toHaveValue('Ada');
  await expect(page.getByLabel('priority', { exact: true }).locator('option:checked')).toHaveText('high');
  await expect(page.getByLabel('remind', { exact: true })).not.toBeChecked();

  // A successful call ends the draft: the next visit starts from the defaults.
  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByRole('region', { name: 'Result' })).toContainText('Harbour walk');
  await page.reload();
  await expect(page.getByLabel('title', { exact: true })).toHaveValue('');
  await expect(page.getByText('Filled in as you left it.')).toHaveCount(0);
});

test('the session ends while a prompt form is filled in: after Reconnect it is still filled in', async ({ page }) => {
  await page.goto('/');
  await signIn(page, 'alice');
  await page.goto('/servers/default/prompts/code_review');
  await expect(page.getByRole('heading', { level: 1, name: 'code_review' })).toBeVisible();
  const promptUrl = page.url();
  await page.getByLabel('language', { exact: true }).fill('Rust');
  await page.getByLabel('code', { exact: true }).fill('fn main() {}');

  await page.request.post('/bff/logout', { headers: { 'X-CSRF': '1' } });
  await page.getByRole('button', { name: 'Get prompt' }).click();
  await page.getByRole('alert').filter({ hasText: 'Your session has ended.' }).getByRole('link', { name: 'Reconnect' }).click();
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(promptUrl);

  await expect(page.getByLabel('language', { exact: true })).toHaveValue('Rust');
  await expect(page.getByLabel('code', { exact: true })).toHaveValue('fn main() {}');
  await page.getByRole('button', { name: 'Get prompt' }).click();
  await expect(page.getByRole('heading', { name: 'Messages' })).toBeVisible();
});
