/**
 * The SPA against the reference MCP server, @modelcontextprotocol/server-everything, over Streamable
 * HTTP and with no authorization at all: the BFF forwards without a token (lazy login), and the SPA
 * lists and runs its tools (a task-based one too: completed, cancelled, and asking for input midway),
 * reads its resources and gets its prompts.
 *
 * Its own servers, started here and stopped at the end, on loopback: the reference server through
 * its CLI (`streamableHttp`), and a BFF configured for it through MCP_SERVERS, serving the built SPA.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expectAccessible } from './axe.js';
import { expect, test as base, screenshot } from './fixtures.js';
import { startProcess, stopProcess, waitUntilAnswering } from './processes.js';

const here = dirname(fileURLToPath(import.meta.url));
const everythingPort = Number(process.env.E2E_EVERYTHING_PORT ?? 4910);
const appPort = Number(process.env.E2E_EVERYTHING_APP_PORT ?? 3910);
const appUrl = `http://localhost:${appPort}`;
const everythingCli = createRequire(import.meta.url).resolve('@modelcontextprotocol/server-everything/dist/index.js');

const test = base.extend<object, { everythingApp: string }>({
  everythingApp: [
    // biome-ignore lint/correctness/noEmptyPattern: Playwright reads a fixture's dependencies from this pattern
    async ({}, use) => {
      const everything = startProcess(process.execPath, ['--import', join(here, 'loopback-listen.mjs'), everythingCli, 'streamableHttp'], {
        PORT: String(everythingPort),
      });
      const bff = startProcess(process.execPath, ['--import', 'tsx', join(here, '../bff/src/main.ts')], {
        PUBLIC_URL: appUrl,
        HOST: '127.0.0.1',
        PORT: String(appPort),
        MCP_SERVERS: JSON.stringify([{ id: 'everything', name: 'Everything reference server', url: `http://127.0.0.1:${everythingPort}/mcp` }]),
        // Demo-only secret, public in this repository.
        SESSION_SECRET: 'EWv5oaW9ovxOpRRTQ9YBhLMhnmdap3ilnQR5KomXV6gZ7sMctlPuCEvK0M3vdk/z',
        ALLOW_HTTP_LOOPBACK: '1',
        TOKEN_STORE: 'memory',
        STATIC_DIR: join(here, '../web/dist'),
        LOG_LEVEL: 'warn',
      });
      try {
        await waitUntilAnswering(`http://127.0.0.1:${everythingPort}/mcp`, everything);
        await waitUntilAnswering(`${appUrl}/healthz`, bff);
        await use(appUrl);
      } finally {
        await Promise.all([stopProcess(bff.child), stopProcess(everything.child)]);
      }
    },
    { scope: 'worker' },
  ],
});

test.use({ baseURL: appUrl });

test.beforeEach(async ({ everythingApp: _, noPageProblems: __ }) => {});

test('the reference server needs no login: the SPA lists and runs its tools', async ({ page }) => {
  await page.goto('/');
  const card = page.getByRole('region', { name: 'Everything reference server' });
  await expect(card.getByText('Connected', { exact: true })).toBeVisible();
  await expect(card.getByText('No sign-in needed.')).toBeVisible();
  await expect(card.getByText(/Server: Everything Reference Server/)).toBeVisible();
  await expect(page.getByRole('link', { name: /^Connect/ })).toHaveCount(0);
  await screenshot(page, 'everything-servers');

  await card.getByRole('navigation').getByRole('link', { name: /^Tools/ }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Tools' })).toBeVisible();
  await page.getByRole('searchbox', { name: 'Search tools' }).fill('sum');
  await page.getByRole('link', { name: 'get-sum' }).click();
  await page.getByLabel('a', { exact: true }).fill('7');
  await page.getByLabel('b', { exact: true }).fill('35');
  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByRole('region', { name: 'Result' })).toContainText('42');

  await page.getByRole('navigation', { name: 'Server sections' }).getByRole('link', { name: 'Tools' }).click();
  await page.getByRole('link', { name: 'echo', exact: true }).click();
  await page.getByLabel('message', { exact: true }).fill('hello, everything');
  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByRole('region', { name: 'Result' })).toContainText('hello, everything');

  await page.getByRole('navigation', { name: 'Server sections' }).getByRole('link', { name: 'Tools' }).click();
  await page.getByRole('link', { name: 'get-tiny-image' }).click();
  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByRole('region', { name: 'Result' }).getByRole('img').first()).toBeVisible();

  await page.getByRole('navigation', { name: 'Server sections' }).getByRole('link', { name: 'Tools' }).click();
  await page.getByRole('link', { name: 'get-structured-content' }).click();
  await page.getByLabel('location', { exact: true }).selectOption('Chicago');
  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByRole('region', { name: 'Result' }).getByRole('region', { name: 'Structured content' })).toContainText('temperature');

  await page.getByRole('navigation', { name: 'Server sections' }).getByRole('link', { name: 'Tools' }).click();
  await page.getByRole('link', { name: 'trigger-long-running-operation' }).click();
  await page.getByLabel('duration', { exact: true }).fill('2');
  await page.getByLabel('steps', { exact: true }).fill('4');
  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByRole('progressbar', { name: 'Progress' })).toBeVisible();
  await expect(page.getByRole('region', { name: 'Result' })).toContainText('Long running operation completed. Duration: 2 seconds, Steps: 4.');
});

test('reads its resources and resource templates, text and binary', async ({ page }) => {
  await page.goto('/servers/everything/resources');
  await expect(page.getByRole('heading', { level: 1, name: 'Resources' })).toBeVisible();
  const listed = page.getByRole('region', { name: 'Resources', exact: true });
  await expect(listed.getByRole('link').first()).toBeVisible();
  const first = (await listed.getByRole('link').first().textContent()) ?? '';
  await listed.getByRole('link').first().click();
  await expect(page.getByRole('heading', { level: 1, name: first })).toBeVisible();
  await expect(page.getByRole('region', { name: 'Contents' }).locator('pre').first()).not.toBeEmpty();
  await screenshot(page, 'everything-resource');

  const sections = page.getByRole('navigation', { name: 'Server sections' });
  await sections.getByRole('link', { name: 'Resources' }).click();
  const text = page.getByRole('region', { name: 'Dynamic Text Resource' });
  await text.getByLabel('resourceId', { exact: true }).fill('7');
  await text.getByRole('button', { name: 'Read' }).click();
  await expect(page.getByRole('region', { name: 'Contents' }).locator('pre')).toContainText('7');

  await sections.getByRole('link', { name: 'Resources' }).click();
  const blob = page.getByRole('region', { name: 'Dynamic Blob Resource' });
  await blob.getByLabel('resourceId', { exact: true }).fill('3');
  await blob.getByRole('button', { name: 'Read' }).click();
  const contents = page.getByRole('region', { name: 'Contents' });
  await expect(contents).toContainText(/Binary, \d+ bytes/);
  await expect(contents.getByRole('link', { name: /^Download / })).toBeVisible();
});

test('gets its prompts with arguments', async ({ page }) => {
  await page.goto('/servers/everything/prompts');
  await expect(page.getByRole('heading', { level: 1, name: 'Prompts' })).toBeVisible();
  await expect(page.getByText('Arguments: city, state (optional)')).toBeVisible();
  await page.getByRole('link', { name: 'args-prompt', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'args-prompt' })).toBeVisible();
  await page.getByLabel('city', { exact: true }).fill('Paris');
  await page.getByRole('button', { name: 'Get prompt' }).click();
  const messages = page.getByRole('region', { name: 'Messages' });
  await expect(messages.getByRole('heading', { name: 'User' })).toBeVisible();
  await expect(messages).toContainText("What's weather in Paris?");
  await screenshot(page, 'everything-prompt');
});

test('a tool that requires a task runs as one: its status as it goes, the tray while the person is elsewhere, then its result', async ({ page }) => {
  await page.goto('/servers/everything/tools/simulate-research-query');
  await expect(page.getByRole('heading', { level: 1, name: 'simulate-research-query' })).toBeVisible();
  // Never offered as a plain call: it simply runs as a task, and the page says so.
  await expect(page.getByText('This tool runs as a task')).toBeVisible();
  await expect(page.getByRole('checkbox', { name: 'Run as a task' })).toHaveCount(0);
  await page.getByLabel('topic', { exact: true }).fill('tide pools');
  await page.getByRole('button', { name: 'Run' }).click();
  const status = page.getByRole('status', { name: 'Task status' });
  await expect(status).toContainText('Working');
  const tray = page.getByRole('complementary', { name: 'Tool calls' });
  await expect(tray).toContainText('simulate-research-query on Everything reference server: running as a task');
  await expect(status).toContainText(/Gathering sources|Analyzing content|Synthesizing findings/);

  // The task goes on while the person is elsewhere (four one-second stages); the tray follows it.
  await page.getByRole('navigation', { name: 'Server sections' }).getByRole('link', { name: 'Tools' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Tools' })).toBeVisible();
  await expect(tray).toContainText('simulate-research-query on Everything reference server: finished');
  await tray.getByRole('link', { name: 'simulate-research-query' }).click();

  await expect(page.getByRole('region', { name: 'Result' })).toContainText('Research Report: tide pools');
  await expect(status).toContainText('Completed');
  await expectAccessible(page, 'a task-based tool, completed');
  await screenshot(page, 'everything-task');
});

test('a task the person cancels is cancelled on the server', async ({ page }) => {
  await page.goto('/servers/everything/tools/simulate-research-query');
  await page.getByLabel('topic', { exact: true }).fill('glaciers');
  await page.getByRole('button', { name: 'Run' }).click();
  const status = page.getByRole('status', { name: 'Task status' });
  await expect(status).toContainText('Working');
  await page.getByRole('button', { name: 'Cancel' }).click();
  await expect(page.getByText('Cancelled.', { exact: true })).toBeVisible();
  // What the server answered to tasks/cancel.
  await expect(status).toContainText('Cancelled');
  await expect(page.getByRole('region', { name: 'Result' })).toHaveCount(0);
});

test('a task that needs input asks the person in the middle, and goes on with the answer', async ({ page }) => {
  await page.goto('/servers/everything/tools/simulate-research-query');
  await page.getByLabel('topic', { exact: true }).fill('python');
  await page.getByLabel('ambiguous', { exact: true }).check();
  await page.getByRole('button', { name: 'Run' }).click();
  const dialog = page.getByRole('dialog', { name: 'Everything reference server asks for information' });
  await expect(dialog).toContainText('could have multiple interpretations');
  await expect(page.getByRole('status', { name: 'Task status' })).toContainText('Input required');
  await dialog.getByLabel('interpretation', { exact: true }).selectOption({ label: 'Monty Python comedy group' });
  await dialog.getByRole('button', { name: 'Send' }).click();
  await expect(dialog).toHaveCount(0);
  await expect(page.getByRole('region', { name: 'Result' })).toContainText('Research Report: python (comedy)');
});

test('suggests prompt arguments as the person types, the second narrowed by the first (completion/complete)', async ({ page }) => {
  await page.goto('/servers/everything/prompts/completable-prompt');
  await expect(page.getByRole('heading', { level: 1, name: 'completable-prompt' })).toBeVisible();
  const department = page.getByRole('combobox', { name: 'department', exact: true });
  await department.pressSequentially('S');
  const departments = page.getByRole('listbox', { name: 'Suggestions for department' }).getByRole('option');
  await expect(departments).toHaveText(['Sales', 'Support']);
  await department.press('ArrowDown');
  await department.press('ArrowDown');
  await expect(departments.filter({ hasText: 'Support' })).toHaveAttribute('aria-selected', 'true');
  await department.press('Enter');
  await expect(department).toHaveValue('Support');
  await expect(department).toHaveAttribute('aria-expanded', 'false');

  // The server answers from the department sent as context.arguments: Support's people only.
  const name = page.getByRole('combobox', { name: 'name', exact: true });
  await name.focus();
  await name.press('ArrowDown');
  const names = page.getByRole('listbox', { name: 'Suggestions for name' }).getByRole('option');
  await expect(names).toHaveText(['John', 'Kim', 'Lee']);
  await expect(names.first()).toHaveAttribute('aria-selected', 'true');
  await name.press('ArrowDown');
  await name.press('Enter');
  await expect(name).toHaveValue('Kim');
  await page.getByRole('button', { name: 'Get prompt' }).click();
  await expect(page.getByRole('region', { name: 'Messages' })).toContainText('Please promote Kim to the head of the Support team.');
});
