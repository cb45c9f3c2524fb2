/**
 * The protocol debugger: every exchange with a server, pretty-printed and copyable, with MCP headers,
 * status and timings; it outlives navigation within the tab and can be cleared; a ping says its round
 * trip. In both eras (the main stack speaks 2026-07-28, the multi-server stack 2025-11-25).
 */
import { multiPorts, ports } from '../playwright.config.js';
import { expect, openSection, signIn, switchSection, test } from './fixtures.js';

for (const { era, appPort } of [
  { era: '2026-07-28', appPort: ports.app },
  { era: '2025-11-25', appPort: multiPorts.app },
] as const) {
  test.describe(`${era}`, () => {
    test.use({ baseURL: `http://localhost:${appPort}` });

    test('every exchange is shown with its messages, headers and timing; it survives navigation, clears, and a ping reports its round trip', async ({
      page,
      context,
    }) => {
      await context.grantPermissions(['clipboard-read', 'clipboard-write']);
      await page.goto('/');
      await signIn(page, 'alice');
      await openSection(page, 'Tools');
      await page.getByRole('link', { name: 'echo', exact: true }).click();
      await page.getByLabel('message', { exact: true }).fill('seen in the debugger');
      await page.getByRole('button', { name: 'Run' }).click();
      await expect(page.getByRole('region', { name: 'Result' })).toContainText('seen in the debugger');

      await switchSection(page, 'Protocol');
      const exchanges = page.getByRole('region', { name: 'Exchanges' });
      // How the era shows: the handshake of each.
      await expect(exchanges.getByText(era === '2026-07-28' ? 'server/discover' : 'initialize', { exact: true }).first()).toBeVisible();
      const call = exchanges.getByRole('listitem').filter({ hasText: 'tools/call' }).last();
      await call.locator('summary').click();
      await expect(call).toContainText('"name": "echo"');
      await expect(call).toContainText('seen in the debugger');
      await expect(call.getByText('mcp-protocol-version', { exact: true }).first()).toBeVisible();
      if (era === '2026-07-28') await expect(call.getByText('mcp-method', { exact: true })).toBeVisible();
      else await expect(call.getByText('mcp-session-id', { exact: true }).first()).toBeVisible();
      await expect(call).toContainText(/\d+ ms/);
      await call.getByRole('button', { name: 'Copy this exchange' }).click();
      expect(await page.evaluate(() => navigator.clipboard.readText())).toContain('seen in the debugger');

      // The server's declared capabilities.
      await page.getByText('What the server declared').click();
      await expect(page.locator('.capabilities pre')).toContainText('"tools"');

      // History survives moving around the app, and clears.
      await switchSection(page, 'Resources');
      await switchSection(page, 'Protocol');
      await expect(exchanges.getByRole('listitem').filter({ hasText: 'tools/call' })).not.toHaveCount(0);
      await page.getByRole('button', { name: 'Clear' }).click();
      await expect(exchanges).toContainText('Nothing yet.');

      await page.getByRole('button', { name: 'Ping' }).click();
      // 2026-07-28 has no ping: the cheapest request stands in.
      const method = era === '2026-07-28' ? 'server/discover' : 'ping';
      await expect(page.getByRole('status').filter({ hasText: `Answered in` })).toHaveText(new RegExp(`^Answered in \\d+ ms \\(${method.replace('/', '\\/')}\\)\\.$`));
      await expect(exchanges.locator('.exchange-label').filter({ hasText: method }).first()).toBeVisible();
    });
  });
}
