/**
 * Accessibility: an axe-core scan of every kind of page and state the SPA has, against the real
 * stacks (the main one speaks 2026-07-28, the multi-server one 2025-11-25), in the light and dark
 * colour schemes and on a phone-sized screen. Any violation fails the run.
 */
import { multiPorts } from '../playwright.config.js';
import { expectAccessible } from './axe.js';
import { expect, openSection, signIn, switchSection, test } from './fixtures.js';

for (const colorScheme of ['light', 'dark'] as const) {
  test.describe(`${colorScheme} colour scheme`, () => {
    test.use({ colorScheme });

    test('signed out, signed in, tools, forms, results, calls and the input dialog', async ({ page, noPageProblems }) => {
      void noPageProblems;
      await page.goto('/');
      await expect(page.getByRole('link', { name: 'Connect' }).first()).toBeVisible();
      await expectAccessible(page, 'servers page, signed out');

      await signIn(page, 'alice');
      await expect(page.getByText('Signed in as alice')).toBeVisible();
      await expectAccessible(page, 'servers page, signed in');

      await openSection(page, 'Tools');
      await expectAccessible(page, 'tools list');

      // A form with every problem named next to its field.
      await page.getByRole('link', { name: 'create_event' }).click();
      await page.getByRole('button', { name: 'Run' }).click();
      await expect(page.getByRole('alert').filter({ hasText: 'fields need attention' })).toBeVisible();
      await expectAccessible(page, 'tool form with errors');

      // A result with structured content, and the calls tray.
      await switchSection(page, 'Tools');
      await page.getByRole('link', { name: 'echo', exact: true }).click();
      await page.getByLabel('message', { exact: true }).fill('hello axe');
      await page.getByRole('button', { name: 'Run' }).click();
      await expect(page.getByRole('region', { name: 'Result' })).toContainText('hello axe');
      await expectAccessible(page, 'tool result');

      // The server asks the person: the modal dialog with a form.
      await switchSection(page, 'Tools');
      await page.getByRole('link', { name: 'ask_profile', exact: true }).click();
      await page.getByRole('button', { name: 'Run' }).click();
      const dialog = page.getByRole('dialog', { name: 'Demo MCP server asks for information' });
      await expect(dialog).toBeVisible();
      await dialog.getByRole('button', { name: 'Send' }).click();
      await expect(dialog.getByRole('alert').first()).toBeVisible();
      await expectAccessible(page, 'input dialog with errors');
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await expect(dialog).toHaveCount(0);
    });

    test('resources, a resource, prompts, a prompt, the log and the protocol view', async ({ page, noPageProblems }) => {
      void noPageProblems;
      await page.goto('/');
      await signIn(page, 'alice');
      await openSection(page, 'Resources');
      await expectAccessible(page, 'resources and templates');

      await page.getByRole('link', { name: 'Counter' }).click();
      await expect(page.getByRole('button', { name: 'Subscribe to updates' })).toBeVisible();
      await expectAccessible(page, 'a text resource');
      await switchSection(page, 'Resources');
      await page.getByRole('link', { name: 'Swatch image' }).click();
      await expect(page.getByRole('link', { name: 'Download swatch.png' })).toBeVisible();
      await expectAccessible(page, 'an image resource');

      // A subscription left on: the Live updates tray follows the person.
      await switchSection(page, 'Resources');
      await page.getByRole('link', { name: 'Counter' }).click();
      await page.getByRole('button', { name: 'Subscribe to updates' }).click();
      await expect(page.getByRole('complementary', { name: 'Live updates' })).toBeVisible();

      await switchSection(page, 'Prompts');
      await expectAccessible(page, 'prompts list, with the live updates tray');
      await page.getByRole('link', { name: 'code_review' }).click();
      // Suggestions as the person types: the combobox and its listbox, open.
      const language = page.getByRole('combobox', { name: 'language', exact: true });
      await language.pressSequentially('Ty');
      await expect(page.getByRole('listbox', { name: 'Suggestions for language' })).toBeVisible();
      await expectAccessible(page, 'prompt form with suggestions open');
      await language.fill('TypeScript');
      await page.getByLabel('code', { exact: true }).fill('const answer = 42;');
      await page.getByRole('button', { name: 'Get prompt' }).click();
      await expect(page.getByRole('region', { name: 'Messages' })).toContainText('const answer = 42;');
      await expectAccessible(page, 'prompt messages');

      await switchSection(page, 'Log');
      await expectAccessible(page, 'log');
      await switchSection(page, 'Protocol');
      await expect(page.getByText('prompts/get').first()).toBeVisible();
      await expectAccessible(page, 'protocol view');
    });
  });
}

test.describe('two servers, 2025-11-25, on a phone', () => {
  test.use({ baseURL: `http://localhost:${multiPorts.app}`, viewport: { width: 375, height: 740 } });

  test('servers page, a tool and the log', async ({ page, noPageProblems }) => {
    void noPageProblems;
    await page.goto('/');
    await expectAccessible(page, 'two servers, signed out, phone');
    await signIn(page, 'alice');
    await expectAccessible(page, 'two servers, one signed in, phone');
    await openSection(page, 'Tools');
    await page.getByRole('link', { name: 'echo', exact: true }).click();
    await page.getByLabel('message', { exact: true }).fill('small screen');
    await page.getByRole('button', { name: 'Run' }).click();
    await expect(page.getByRole('region', { name: 'Result' })).toContainText('small screen');
    await expectAccessible(page, 'tool result, phone');
  });
});
