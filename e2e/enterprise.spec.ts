/**
 * Enterprise-managed authorization in the browser: the servers page says the server is managed by the
 * person's organisation; its button leads to the organisation's IdP (the demo enterprise IdP), and after
 * that one sign-in the server is connected with no consent page at its authorization server. The IdP's
 * policy refuses bob, and the page says so.
 *
 * Its own stack, started here and stopped at the end (e2e/stack-server.ts with E2E_IDP_PORT).
 */
import { join } from 'node:path';
import { enterprisePorts } from '../playwright.config.js';
import { expectAccessible } from './axe.js';
import { expect, test as base } from './fixtures.js';
import { startProcess, stopProcess, waitUntilAnswering } from './processes.js';

const appUrl = `http://localhost:${enterprisePorts.app}`;

const test = base.extend<object, { enterpriseApp: string }>({
  enterpriseApp: [
    // biome-ignore lint/correctness/noEmptyPattern: Playwright reads a fixture's dependencies from this pattern
    async ({}, use) => {
      const stack = startProcess(process.execPath, ['--import', 'tsx', join('e2e', 'stack-server.ts')], {
        E2E_APP_PORT: String(enterprisePorts.app),
        E2E_AS_PORT: String(enterprisePorts.as),
        E2E_MCP_PORT: String(enterprisePorts.mcp),
        E2E_INSPECT_PORT: String(enterprisePorts.inspect),
        E2E_IDP_PORT: String(enterprisePorts.idp),
        E2E_ACCESS_TOKEN_TTL: '600',
      });
      try {
        await waitUntilAnswering(`${appUrl}/healthz`, stack, { ok: true });
        await use(appUrl);
      } finally {
        await stopProcess(stack.child);
      }
    },
    { scope: 'worker' },
  ],
});

test.use({ baseURL: appUrl });

test.beforeEach(async ({ enterpriseApp: _, noPageProblems: __ }) => {});

async function signInAtIdp(page: import('@playwright/test').Page, user: string): Promise<void> {
  const card = page.getByRole('region', { name: 'Demo MCP server' });
  await card.getByRole('link', { name: 'Sign in with your organisation to Demo MCP server' }).click();
  await expect(page).toHaveURL(new RegExp(`^http://127\\.0\\.0\\.1:${enterprisePorts.idp}/`));
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(`${user}-demo-password`);
  await page.getByRole('button', { name: 'Sign in' }).click();
  // The IdP's own consent to sign in to the app; nothing is asked at the MCP server's authorization server.
  await page.getByRole('button', { name: 'Allow' }).click();
  await expect(page).toHaveURL(/^http:\/\/localhost:\d+\/(?!bff\/)/);
  await page.waitForLoadState();
}

test('an enterprise-managed server: one sign-in at the organisation, no consent page, then its tools', async ({ page }) => {
  await page.goto('/');
  const card = page.getByRole('region', { name: 'Demo MCP server' });
  await expect(card.getByText('Managed by your organisation')).toBeVisible();
  await expect(card.getByText('Not connected')).toBeVisible();
  await expectAccessible(page, 'servers page with an enterprise-managed server');

  await signInAtIdp(page, 'alice');
  await expect(card.getByText('Connected', { exact: true })).toBeVisible();
  await expect(card.getByText('Signed in as alice')).toBeVisible();
  await expect(page.getByText(`127.0.0.1:${enterprisePorts.as}`)).toHaveCount(0);

  await card.getByRole('link', { name: 'add', exact: true }).click();
  await page.getByLabel('a', { exact: true }).fill('20');
  await page.getByLabel('b', { exact: true }).fill('22');
  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByRole('region', { name: 'Result' })).toContainText('42');
});

test("the organisation's policy refuses bob, and the page says so", async ({ page }) => {
  await page.goto('/');
  await signInAtIdp(page, 'bob');
  await expect(page.getByText("Your organisation's identity provider did not allow access to this server").first()).toBeVisible();
});
