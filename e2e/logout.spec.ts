/**
 * Logging out, and signing out at the authorization server too (OpenID Connect RP-Initiated Logout).
 */
import { ports } from '../playwright.config.js';
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
