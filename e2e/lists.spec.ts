/**
 * Long lists: a demo MCP server with 600 more resources than usual, every list served 50 a page. The
 * Resources page loads page after page with "Load more" until every resource is there, says what is
 * loaded and what the search lets through, and moves focus to what came in.
 *
 * Its own stack (e2e/stack-server.ts with the list options), started here and stopped at the end, on
 * the main stack's ports + 3, so that every other spec meets the demo's lists as they are.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ports } from '../playwright.config.js';
import { expectAccessible } from './axe.js';
import { test as base, expect, openSection, screenshot, signIn } from './fixtures.js';
import { startProcess, stopProcess, waitUntilAnswering } from './processes.js';

const here = dirname(fileURLToPath(import.meta.url));
const listsPorts = { app: ports.app + 3, as: ports.as + 3, mcp: ports.mcp + 3, inspect: ports.inspect + 3 };
const appUrl = `http://localhost:${listsPorts.app}`;
const BULK = 600;
const PAGE_SIZE = 50;
/** The demo's own resources come first: README, Counter, Swatch image, Badge. */
const OWN = 4;
const TOTAL = OWN + BULK;

const test = base.extend<object, { listsStack: string }>({
  listsStack: [
    // biome-ignore lint/correctness/noEmptyPattern: Playwright reads a fixture's dependencies from this pattern
    async ({}, use) => {
      const stack = startProcess(process.execPath, ['--import', 'tsx', join(here, 'stack-server.ts')], {
        E2E_APP_PORT: String(listsPorts.app),
        E2E_AS_PORT: String(listsPorts.as),
        E2E_MCP_PORT: String(listsPorts.mcp),
        E2E_INSPECT_PORT: String(listsPorts.inspect),
        E2E_MCP_LIST_PAGE_SIZE: String(PAGE_SIZE),
        E2E_MCP_BULK_RESOURCES: String(BULK),
      });
      try {
        await waitUntilAnswering(`${appUrl}/healthz`, stack, { ok: true, timeoutMs: 60_000 });
        await use(appUrl);
      } finally {
        await stopProcess(stack.child);
      }
    },
    { scope: 'worker' },
  ],
});

test.use({ baseURL: appUrl });

test.beforeEach(async ({ page, listsStack: _, noPageProblems: __ }) => {
  await page.goto('/');
  await signIn(page, 'alice');
  await expect(page.getByText('Signed in as alice')).toBeVisible();
});

test('loads 600 resources page by page, says what is loaded, and searches it', async ({ page }) => {
  await openSection(page, 'Resources');
  const section = page.getByRole('region', { name: 'Resources', exact: true });
  const status = section.getByRole('status');
  const more = section.getByRole('button', { name: /^Load more resources/ });
  const search = section.getByRole('searchbox', { name: 'Search resources' });

  await expect(status).toHaveText('50 resources loaded; more on the server');
  await expect(more).toHaveText('Load more resources (50 loaded)');
  await expect(section.getByRole('listitem')).toHaveCount(PAGE_SIZE);

  // The next page; focus on its first resource (resource 51 is bulk resource 47).
  await more.click();
  await expect(status).toHaveText('100 resources loaded; more on the server');
  await expect(section.getByRole('link', { name: `Bulk resource ${PAGE_SIZE + 1 - OWN}`, exact: true })).toBeFocused();
  await screenshot(page, 'long-list');

  // The search covers what is loaded, and says that the server has more.
  await search.fill('bulk resource 59');
  await expect(status).toHaveText('1 of 100 loaded resources matches; more on the server');
  await expect(section.getByRole('link', { name: 'Bulk resource 59', exact: true })).toBeVisible();

  // Searching on while loading the rest: a page with nothing that matches leaves focus on the button
  // (by keyboard here); the one with bulk resources 590 and on moves it there.
  await more.focus();
  await page.keyboard.press('Enter');
  await expect(status).toHaveText('1 of 150 loaded resources matches; more on the server');
  await expect(more).toBeFocused();
  for (let loaded = 150; loaded < TOTAL - PAGE_SIZE; loaded += PAGE_SIZE) {
    await expect(more).toHaveText(`Load more resources (${loaded} loaded)`);
    await more.click();
    await expect(more).toHaveText(`Load more resources (${loaded + PAGE_SIZE} loaded)`);
  }
  await expect(section.getByRole('link', { name: 'Bulk resource 590', exact: true })).toBeFocused();
  // Loaded now: bulk resources 1 to 596, of which 59 and 590 to 596 match.
  await expect(status).toHaveText(`8 of ${TOTAL - 4} loaded resources match; more on the server`);
  await expectAccessible(page, 'a long list, filtered, with Load more');

  // The last page: no more button, and every one of them is there.
  await more.click();
  await expect(more).toHaveCount(0);
  await expect(status).toHaveText(`11 of ${TOTAL} resources`);
  await expect(section.getByRole('link', { name: 'Bulk resource 597', exact: true })).toBeFocused();
  await search.fill('');
  await expect(status).toHaveText(`${TOTAL} resources`);
  await expect(section.getByRole('listitem')).toHaveCount(TOTAL);
  for (const name of ['README', 'Bulk resource 1', 'Bulk resource 300', `Bulk resource ${BULK}`]) {
    await expect(section.getByRole('link', { name, exact: true })).toHaveCount(1);
  }
  await search.fill('no such resource');
  await expect(section.getByText('No resource matches “no such resource”.')).toBeVisible();

  // A resource from the last page opens; back on the list, everything loaded is still there.
  await search.fill(`bulk resource ${BULK}`);
  await section.getByRole('link', { name: `Bulk resource ${BULK}`, exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: `Bulk resource ${BULK}` })).toBeVisible();
  await expect(page.getByRole('region', { name: 'Contents' })).toContainText(`Bulk resource ${BULK} of ${BULK}.`);
  await page.goBack();
  await expect(page.getByRole('region', { name: 'Resources', exact: true }).getByRole('status')).toHaveText(`${TOTAL} resources`);
});

test('the other lists fit in one page and say so', async ({ page }) => {
  await openSection(page, 'Tools');
  await expect(page.getByRole('status').filter({ hasText: /^\d+ tools$/ })).toBeVisible();
  await expect(page.getByRole('button', { name: /^Load more/ })).toHaveCount(0);

  await page.getByRole('navigation', { name: 'Server sections' }).getByRole('link', { name: 'Resources' }).click();
  const templates = page.getByRole('region', { name: 'Resource templates' });
  for (const name of ['Weather', 'Notes', 'Bulk resources']) await expect(templates.getByRole('region', { name })).toBeVisible();
  await expect(templates.getByRole('button', { name: /^Load more/ })).toHaveCount(0);
});

test('a list the server says changed offers to load it again', async ({ page, context }) => {
  await openSection(page, 'Resources');
  const section = page.getByRole('region', { name: 'Resources', exact: true });
  await section.getByRole('button', { name: /^Load more resources/ }).click();
  await expect(section.getByRole('status')).toHaveText('100 resources loaded; more on the server');

  // Someone adds a note (in another tab): the resource list changes, and the server says so.
  const other = await context.newPage();
  await other.goto('/servers/default/tools/add_note');
  await other.getByLabel('text', { exact: true }).fill('A note from the other tab');
  await other.getByRole('button', { name: 'Run' }).click();
  await expect(other.getByRole('region', { name: 'Result' })).toContainText(/Added note \d+/);
  await other.close();

  // Each list of the page says so (templates change with resources); this one is loaded again.
  const again = section.getByRole('button', { name: 'Load the list again' });
  await expect(section.getByText('The server’s resources changed since this list was loaded.')).toBeVisible();
  await expect(page.getByRole('region', { name: 'Resource templates' }).getByRole('button', { name: 'Load the list again' })).toBeVisible();
  await again.click();
  await expect(again).toHaveCount(0);
  await expect(section.getByRole('status')).toHaveText('50 resources loaded; more on the server');
  await expect(section.getByRole('status')).toBeFocused();
  await expect(section.getByRole('link', { name: 'A note from the other tab' })).toBeVisible();
});
