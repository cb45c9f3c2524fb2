/**
 * A server used with the deployment's own identity (`"grant": "client_credentials"`, here with
 * private_key_jwt): its page says so, offers no Connect, and its tools run with the deployment's token,
 * the same for everyone. Its own stack (e2e/stack-server.ts with E2E_SERVICE_CREDENTIALS), started here
 * on the main stack's ports + 3 and stopped at the end.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ports } from '../playwright.config.js';
import { expectAccessible } from './axe.js';
import { test as base, expect, signIn } from './fixtures.js';
import { startProcess, stopProcess, waitUntilAnswering } from './processes.js';

const here = dirname(fileURLToPath(import.meta.url));
const own = { app: ports.app + 3, as: ports.as + 3, mcp: ports.mcp + 3, inspect: ports.inspect + 3 };
const appUrl = `http://localhost:${own.app}`;
const SERVICE = 'Team tools (service identity)';

const test = base.extend<object, { serviceApp: string }>({
  serviceApp: [
    // biome-ignore lint/correctness/noEmptyPattern: Playwright reads a fixture's dependencies from this pattern
    async ({}, use) => {
      const stack = startProcess(process.execPath, ['--import', 'tsx', join(here, 'stack-server.ts')], {
        E2E_APP_PORT: String(own.app),
        E2E_AS_PORT: String(own.as),
        E2E_MCP_PORT: String(own.mcp),
        E2E_INSPECT_PORT: String(own.inspect),
        E2E_SERVICE_CREDENTIALS: 'private_key_jwt',
      });
      try {
        await waitUntilAnswering(`${appUrl}/healthz`, stack);
        await use(appUrl);
      } finally {
        await stopProcess(stack.child);
      }
    },
    { scope: 'worker' },
  ],
});

test.use({ baseURL: appUrl });

test.beforeEach(async ({ serviceApp: _, noPageProblems: __ }) => {});

test('a service-identity server says so, has no Connect, and runs its tools as the deployment', async ({ page }) => {
  await page.goto('/');
  // A person signs in to the other server, as usual.
  await signIn(page, 'alice');
  const card = page.getByRole('region', { name: SERVICE });
  await expect(card.getByText("Uses this deployment's service identity")).toBeVisible();
  await expect(card.getByRole('link', { name: /Connect/ })).toHaveCount(0);
  await expect(card.getByRole('button', { name: /Disconnect/ })).toHaveCount(0);
  await card.getByRole('link', { name: 'whoami', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'whoami' })).toBeVisible();
  await expect(page.getByText("Uses this deployment's service identity")).toBeVisible();
  await page.getByRole('button', { name: 'Run' }).click();
  // The deployment's client, not alice.
  await expect(page.getByText('mcp-bff-demo-service-jwt').first()).toBeVisible();
  await expectAccessible(page, 'the tool page of a service-identity server');
  const grants = (await (await fetch(`http://127.0.0.1:${own.inspect}/token-requests`)).json()) as Array<{ grantType: string }>;
  expect(grants.filter((g) => g.grantType === 'client_credentials')).toHaveLength(1);
});
