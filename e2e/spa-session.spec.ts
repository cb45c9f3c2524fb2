/**
 * The SPA around the calls: permission banners that bring the person back, a silently renewed MCP
 * session, pages for what is missing or not connected, the keyboard, and a phone-sized screen.
 */
import { asOrigin, expect, openSection, screenshot, signIn, test } from './fixtures.js';

test.beforeEach(async ({ noPageProblems: _ }) => {});

test('more permission: the banner asks for it and brings the person back to the same page', async ({ page }) => {
  await page.goto('/');
  await signIn(page, 'alice');
  await openSection(page, 'Tools');
  await page.getByRole('link', { name: 'admin_report' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'admin_report' })).toBeVisible();
  const toolUrl = page.url();
  await page.getByRole('button', { name: 'Run' }).click();
  const banner = page.getByRole('alert').filter({ hasText: 'More permission is needed for this action.' });
  await expect(banner).toBeVisible();
  await expect(page.getByText('The call could not be made; see the message at the top of the page.')).toBeVisible();
  await screenshot(page, 'banner-insufficient-scope');
  await banner.getByRole('link', { name: 'Grant access' }).click();
  // The authorization server asks for consent to the extra scope.
  await expect(page).toHaveURL(new RegExp(`^${asOrigin}/`));
  await expect(page.getByText('mcp:admin')).toBeVisible();
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(toolUrl);
  await expect(page.getByRole('heading', { level: 1, name: 'admin_report' })).toBeVisible();
  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByRole('region', { name: 'Result' })).toContainText('Admin report for alice');
  await expect(banner).toHaveCount(0);
});

test('pages for what is not there, or not connected yet', async ({ page }) => {
  await page.goto('/servers/default/tools');
  await expect(page.getByRole('heading', { level: 1, name: 'Something went wrong' })).toHaveCount(0);
  await expect(page.getByText('Connect to Demo MCP server to use it.')).toBeVisible();
  // No session banner for a server that was never connected: the page itself offers the way in.
  await expect(page.getByRole('alert')).toHaveCount(0);
  await page.getByRole('link', { name: 'Connect' }).click();
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill('alice-demo-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Allow' }).click();
  // Back where the person started.
  await page.waitForURL(/\/servers\/default\/tools$/);
  await expect(page.getByRole('heading', { level: 1, name: 'Tools' })).toBeVisible();

  await page.goto('/servers/default/tools/no_such_tool');
  await expect(page.getByRole('heading', { level: 1, name: 'Page not found' })).toBeVisible();
  await expect(page.getByText('Demo MCP server has no tool by this name.')).toBeVisible();
  await page.goto('/servers/nowhere/tools');
  await expect(page.getByText('There is no MCP server at this address.')).toBeVisible();
  await page.goto('/servers/default/resources/read?uri=demo%3A%2F%2Fmissing');
  await expect(page.getByText(/The MCP server answered with an error: .*not found/i)).toBeVisible();
  await page.getByRole('link', { name: 'Back to servers' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'MCP servers' })).toBeVisible();
});

test('everything can be done with the keyboard, with a visible focus', async ({ page }) => {
  await page.goto('/');
  await signIn(page, 'alice');
  await page.goto('/servers/default/tools');
  await expect(page.getByRole('heading', { level: 1, name: 'Tools' })).toBeVisible();

  // Skip link first, then on through the page.
  await page.keyboard.press('Tab');
  await expect(page.getByRole('link', { name: 'Skip to content' })).toBeFocused();
  const search = page.getByRole('searchbox', { name: 'Search tools' });
  await search.focus();
  await page.keyboard.type('add');
  await page.keyboard.press('Tab');
  const link = page.getByRole('link', { name: 'add', exact: true });
  await expect(link).toBeFocused();
  expect(await link.evaluate((el) => getComputedStyle(el).outlineStyle)).toBe('solid');
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { level: 1, name: 'add' })).toBeVisible();

  await page.getByLabel('a', { exact: true }).focus();
  await page.keyboard.type('19');
  await page.keyboard.press('Tab');
  await expect(page.getByLabel('b', { exact: true })).toBeFocused();
  await page.keyboard.type('23');
  await page.keyboard.press('Enter'); // submits the form
  await expect(page.getByRole('region', { name: 'Result' })).toContainText('42');

  // Arrays and nested objects too.
  await page.goto('/servers/default/tools/create_event');
  await page.getByRole('button', { name: 'Add to attendees' }).focus();
  await page.keyboard.press('Enter');
  // Focus moves into the new item: the keyboard user types its first field next ...
  const item = page.getByRole('group', { name: 'attendees item 1' });
  await expect(item.getByLabel('name', { exact: true })).toBeFocused();
  await page.keyboard.type('Ada');
  // ... and after removing it, to what is left to go on with ("Add" here: no item remains).
  await item.getByRole('button', { name: 'Remove attendees item 1' }).focus();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('button', { name: 'Add to attendees' })).toBeFocused();
});

test('works on a phone-sized screen', async ({ page }) => {
  await page.setViewportSize({ width: 375, height: 740 });
  await page.goto('/');
  await signIn(page, 'alice');
  const noSideways = async () =>
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
  await expect(page.getByText('Signed in as alice')).toBeVisible();
  await noSideways();
  await screenshot(page, 'phone-servers');
  await page.goto('/servers/default/tools/create_event');
  await page.getByRole('button', { name: 'Add to attendees' }).click();
  await noSideways();
  await screenshot(page, 'phone-tool', { docs: true });
  await page.goto('/servers/default/resources');
  await expect(page.getByRole('heading', { level: 1, name: 'Resources' })).toBeVisible();
  await noSideways();
  await page.goto('/servers/default/log');
  await expect(page.getByRole('heading', { level: 1, name: 'Log' })).toBeVisible();
  await noSideways();
});
