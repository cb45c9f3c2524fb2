/**
 * The connection details view (issue #14): after a login, what discovery found and where, the client,
 * scopes, lifetimes and the access token's claims (the e2e stack turns CONNECTION_CLAIMS on); after a
 * denied consent, the sign-in's steps with the one that failed and why. Never a token in the page.
 */
import { expectAccessible } from './axe.js';
import { asOrigin, expect, issuedSecrets, screenshot, test } from './fixtures.js';
import { ports } from '../playwright.config.js';

test('after a login: where everything was found, the client, scopes, lifetimes and claims, and no secret in the page', async ({
  page,
  signIn,
  noPageProblems: _,
}) => {
  await page.goto('/');
  await signIn();
  const card = page.getByRole('region', { name: 'Demo MCP server' });
  await card.getByRole('navigation').getByRole('link', { name: 'Connection details' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Connection details' })).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Server sections' }).getByRole('link', { name: 'Connection' })).toHaveAttribute(
    'aria-current',
    'page',
  );

  const steps = page.getByRole('list', { name: 'Sign-in steps' }).getByRole('listitem');
  await expect(steps).toHaveCount(6);
  for (const step of await steps.all()) await expect(step).toContainText(': done');

  const discovery = page.getByRole('region', { name: 'Discovery', exact: true });
  await expect(discovery).toContainText(`http://127.0.0.1:${ports.mcp}/.well-known/oauth-protected-resource/mcp`);
  await expect(discovery).toContainText(`${asOrigin}/.well-known/oauth-authorization-server`);
  await expect(page.getByRole('region', { name: 'Client', exact: true })).toContainText('Configured client credentials');
  await expect(page.getByRole('list', { name: 'Granted scopes' })).toContainText('mcp:tools');
  await expect(page.getByRole('region', { name: 'Access token', exact: true })).toContainText('valid for 8 s');
  const claims = page.getByRole('region', { name: 'Access token claims' });
  await expect(claims).toContainText('"alg": "RS256"');
  await expect(claims).toContainText(`"iss": "${asOrigin}"`);

  const html = await page.content();
  const secrets = await issuedSecrets();
  expect(secrets.length).toBeGreaterThan(0);
  for (const secret of secrets) expect(html.includes(secret), 'a secret in the page').toBe(false);
  await expectAccessible(page, 'connection details, connected');
  await screenshot(page, 'connection-details');
});

test('after a denied consent: the steps, the one that failed, and why in words a person can act on', async ({ page, noPageProblems: _ }) => {
  await page.goto('/servers/default/connection');
  await expect(page.getByRole('heading', { level: 1, name: 'Connection details' })).toBeVisible();
  await page.getByRole('link', { name: 'Connect to Demo MCP server' }).click();
  await expect(page).toHaveURL(/^http:\/\/127\.0\.0\.1:\d+\//);
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill('alice-demo-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Deny' }).click();

  await expect(page).toHaveURL(/\/servers\/default\/connection\?login_error=access_denied&login_ref=[0-9a-f-]{36}$/);
  await expect(page.getByRole('heading', { level: 2, name: 'The last sign-in failed' })).toBeVisible();
  const failure = page.locator('.connection-failure');
  await expect(failure).toHaveAttribute('role', 'alert');
  await expect(failure).toContainText('Failed at: Answer from the authorization server.');
  await expect(failure).toContainText('Connect again and allow access');
  const steps = page.getByRole('list', { name: 'Sign-in steps' }).getByRole('listitem');
  await expect(steps.nth(3)).toContainText('Sign-in and consent at the authorization server: done');
  await expect(steps.nth(4)).toContainText('Answer from the authorization server: failed');
  await expect(steps.nth(5)).toContainText('Tokens for the authorization code: not reached');
  await expect(page.getByRole('region', { name: 'Discovery', exact: true })).toContainText(asOrigin);
  await expect(page.getByRole('region', { name: 'Access token claims' })).toHaveCount(0);
  await expectAccessible(page, 'connection details, failed sign-in');
  await screenshot(page, 'connection-details-failed');

  // The banner at the top links here from the server's other pages too.
  await page.goto('/servers/default/tools?login_error=access_denied');
  await page.getByRole('link', { name: 'What happened?' }).click();
  await expect(page.getByRole('heading', { level: 2, name: 'The last sign-in failed' })).toBeVisible();
});
