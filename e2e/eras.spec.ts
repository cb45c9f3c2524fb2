/**
 * Both MCP protocol eras in a real browser: the main stack's demo MCP server speaks only 2026-07-28
 * (stateless, input_required, subscriptions/listen), the multi-server stack's only 2025-11-25
 * (sessions, server-to-client requests, the GET stream). The SPA negotiates each on its own ('auto'),
 * and the same pages work on both: the protocol shown on the server's page, forms a server asks the
 * person to fill in, questions in two rounds, a reply the person writes instead of a model, a page
 * to open only after the person says so, live resource updates and the log level.
 */
import type { Page } from '@playwright/test';
import { multiPorts, ports } from '../playwright.config.js';
import { expect, openSection, screenshot, signIn, switchSection, test } from './fixtures.js';

const eras = [
  { era: '2026-07-28', label: '2026-07-28 (stateless)', appPort: ports.app, mcpPort: ports.mcp },
  { era: '2025-11-25', label: '2025-11-25 (session)', appPort: multiPorts.app, mcpPort: multiPorts.mcp },
] as const;

async function openTool(page: Page, name: string): Promise<void> {
  await openSection(page, 'Tools');
  await page.getByRole('link', { name, exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
}

for (const { era, label, appPort, mcpPort } of eras) {
  test.describe(`a server that speaks only ${era}`, () => {
    test.use({ baseURL: `http://localhost:${appPort}` });

    test('the server asks the person: a form, two questions in a row, a reply to write, a page to open', async ({ page, context, noPageProblems }) => {
      void noPageProblems;
      await page.goto('/');
      await signIn(page, 'alice');
      await openTool(page, 'ask_profile');
      await expect(page.getByText(label)).toBeVisible();

      // A form drawn from the server's schema, in a dialog naming the server; nothing is sent until Send.
      await page.getByRole('button', { name: 'Run' }).click();
      const dialog = page.getByRole('dialog', { name: 'Demo MCP server asks for information' });
      await expect(dialog).toBeVisible();
      await expect(dialog).toContainText('Tell the demo server a little about yourself.');
      await dialog.getByRole('button', { name: 'Send' }).click();
      await expect(dialog.getByRole('alert').first()).toBeVisible();
      await dialog.getByLabel('name', { exact: true }).fill('Ada');
      await dialog.getByLabel('age', { exact: true }).fill('36');
      await dialog.getByLabel('colour', { exact: true }).selectOption('green');
      await screenshot(page, era === '2026-07-28' ? 'elicitation-form' : `elicitation-form-${era}`, { docs: era === '2026-07-28' });
      await dialog.getByRole('button', { name: 'Send' }).click();
      await expect(dialog).toHaveCount(0);
      await expect(page.getByRole('region', { name: 'Result' })).toContainText('Ada');

      // Declining is an answer too: the tool hears it.
      await page.getByRole('button', { name: 'Run' }).click();
      await dialog.getByRole('button', { name: 'Decline' }).click();
      await expect(page.getByRole('region', { name: 'Result' })).toContainText('You declined to share a profile.');

      // Two rounds: the second question depends on the first answer.
      await page.getByRole('link', { name: 'Back to servers' }).click();
      await openTool(page, 'plan_trip');
      await page.getByRole('button', { name: 'Run' }).click();
      await dialog.getByLabel('kind', { exact: true }).selectOption('mountains');
      await dialog.getByRole('button', { name: 'Send' }).click();
      await expect(dialog).toContainText('Which mountains?');
      await dialog.getByLabel('range', { exact: true }).selectOption('Tatras');
      await dialog.getByRole('button', { name: 'Send' }).click();
      await expect(page.getByRole('region', { name: 'Result' })).toContainText('Tatras');

      // Sampling: no model, the person writes the reply (or declines).
      await page.getByRole('link', { name: 'Back to servers' }).click();
      await openTool(page, 'ask_model');
      await page.getByLabel('question', { exact: true }).fill('What is the answer?');
      await page.getByRole('button', { name: 'Run' }).click();
      const sampling = page.getByRole('dialog', { name: 'Demo MCP server asks you to write a reply' });
      await expect(sampling.getByRole('list', { name: 'Conversation' })).toContainText('What is the answer?');
      await sampling.getByLabel('Your reply').fill('Forty-two.');
      await sampling.getByRole('button', { name: 'Send reply' }).click();
      await expect(page.getByRole('region', { name: 'Result' })).toContainText('Forty-two.');

      // A page to open: its host and full address are shown; it opens in a new tab only on the person's click.
      await page.getByRole('link', { name: 'Back to servers' }).click();
      await openTool(page, 'confirm_in_browser');
      await page.getByRole('button', { name: 'Run' }).click();
      const urlDialog = page.getByRole('dialog', { name: 'Demo MCP server asks you to open a web page' });
      const host = `127.0.0.1:${mcpPort}`;
      await expect(urlDialog.locator('.url-host')).toHaveText(host);
      await expect(urlDialog.getByText(`http://${host}/elicitation/confirm/`)).toBeVisible();
      expect(context.pages()).toHaveLength(1);
      const opened = context.waitForEvent('page');
      await urlDialog.getByRole('button', { name: `Open ${host} in a new tab` }).click();
      const tab = await opened;
      await tab.waitForLoadState();
      expect(new URL(tab.url()).host).toBe(host);
      // The app itself stayed where it was.
      expect(new URL(page.url()).pathname).toMatch(/\/tools\/confirm_in_browser$/);
      await tab.getByRole('button', { name: 'Confirm' }).click();
      await expect(page.getByRole('region', { name: 'Result' })).toContainText('Confirmed in the browser.');
      await tab.close();

      // Roots: this app shares none.
      await page.getByRole('link', { name: 'Back to servers' }).click();
      await openTool(page, 'list_roots');
      await page.getByRole('button', { name: 'Run' }).click();
      await expect(page.getByRole('region', { name: 'Result' })).toContainText('"roots": []');
    });

    test('live resource updates, the log level, progress and cancel, and prompts work the same', async ({ page, context }) => {
      await page.goto('/');
      await signIn(page, 'alice');
      await openSection(page, 'Resources');
      await page.getByRole('link', { name: 'Counter' }).click();
      const contents = page.getByRole('region', { name: 'Contents' });
      const before = Number(/Counter: (-?\d+)/.exec((await contents.textContent()) ?? '')?.[1]);
      await page.getByRole('button', { name: 'Subscribe to updates' }).click();
      await expect(page.getByRole('status').filter({ hasText: 'Live: waiting for changes.' })).toBeVisible();

      const other = await context.newPage();
      await other.goto('/servers/default/tools/bump_counter');
      await other.getByLabel('by', { exact: true }).fill('2');
      await other.getByRole('button', { name: 'Run' }).click();
      await expect(other.getByRole('region', { name: 'Result' })).toContainText(`The counter is now ${before + 2}.`);
      await other.close();
      await expect(contents).toContainText(`Counter: ${before + 2}`);

      await switchSection(page, 'Log');
      await page.getByLabel('Minimum log level').selectOption('debug');
      await switchSection(page, 'Tools');
      await page.getByRole('link', { name: 'emit_logs', exact: true }).click();
      await page.getByLabel('count', { exact: true }).fill('2');
      await page.getByLabel('level', { exact: true }).selectOption('info');
      await page.getByRole('button', { name: 'Run' }).click();
      await expect(page.getByRole('region', { name: 'Result' })).toContainText('Sent 2 info message(s).');
      await switchSection(page, 'Log');
      await expect(page.getByRole('log', { name: 'Server notifications' })).toContainText('Log message 2 of 2');

      // Progress and cancel.
      await switchSection(page, 'Tools');
      await page.getByRole('link', { name: 'slow_task', exact: true }).click();
      await page.getByLabel('steps', { exact: true }).fill('50');
      await page.getByLabel('delayMs', { exact: true }).fill('500');
      await page.getByRole('button', { name: 'Run' }).click();
      await expect(page.getByText(/^([1-9]|[1-4]\d) \/ 50$/)).toBeVisible();
      await page.getByRole('button', { name: 'Cancel' }).click();
      await expect(page.getByRole('status').filter({ hasText: 'Cancelled.' })).toBeVisible();

      // A prompt with arguments.
      await switchSection(page, 'Prompts');
      await page.getByRole('link', { name: 'code_review' }).click();
      await page.getByLabel('language', { exact: true }).fill('Go');
      await page.getByLabel('code', { exact: true }).fill('x := 1');
      await page.getByRole('button', { name: 'Get prompt' }).click();
      await expect(page.getByRole('region', { name: 'Messages' })).toContainText('Please review this Go code');
    });
  });
}

test.describe('a server that speaks only 2025-11-25', () => {
  test.use({ baseURL: `http://localhost:${multiPorts.app}` });

  test('an expired MCP session is renewed without bothering the person', async ({ page }) => {
    await page.goto('/');
    // The servers page may open the MCP session as soon as the login lands: listen before that.
    const sessionId = page.waitForResponse((r) => r.url().endsWith('/mcp/default') && r.headers()['mcp-session-id'] !== undefined);
    await signIn(page, 'alice');
    const initializes: string[] = [];
    page.on('request', (request) => {
      if (request.method() === 'POST' && request.postData()?.includes('"method":"initialize"')) initializes.push(request.url());
    });
    await openSection(page, 'Tools');
    const mcpSession = (await sessionId).headers()['mcp-session-id'] ?? '';
    await page.getByRole('link', { name: 'echo', exact: true }).click();

    // The MCP session ends behind the page's back (as when a server restarts or times sessions out).
    const ended = await page.evaluate(
      (id) => fetch('/mcp/default', { method: 'DELETE', headers: { 'X-CSRF': '1', 'Mcp-Session-Id': id } }).then((r) => r.status),
      mcpSession,
    );
    expect(ended).toBe(200);
    const before = initializes.length;

    await page.getByLabel('message', { exact: true }).fill('still here');
    await page.getByRole('button', { name: 'Run' }).click();
    await expect(page.getByRole('region', { name: 'Result' })).toContainText('still here');
    expect(initializes.length).toBe(before + 1);
    await expect(page.getByRole('alert')).toHaveCount(0);
  });
});
