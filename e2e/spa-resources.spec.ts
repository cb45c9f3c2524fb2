/**
 * Resources (text, binary, templates, live updates), prompts and the live log, against the real demo
 * MCP server behind the real BFF.
 */
import { readFile } from 'node:fs/promises';
import type { Locator, Page } from '@playwright/test';
import { expect, openSection, screenshot, signIn, switchSection, test } from './fixtures.js';

/** Records the type of every blob: URL the page makes (the page's CSP keeps fetch() away from them). */
async function watchBlobUrls(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const types: Record<string, string> = {};
    (window as unknown as { blobTypes: Record<string, string> }).blobTypes = types;
    const create = URL.createObjectURL.bind(URL);
    URL.createObjectURL = (object: Blob | MediaSource) => {
      const url = create(object);
      if (object instanceof Blob) types[url] = object.type;
      return url;
    };
  });
}

/** The type of the blob a download link points to. */
async function blobType(page: Page, link: Locator): Promise<string | undefined> {
  const href = await link.getAttribute('href');
  expect(href).toMatch(/^blob:/);
  return page.evaluate((url) => (window as unknown as { blobTypes: Record<string, string> }).blobTypes[url as string], href);
}

test.beforeEach(async ({ page, noPageProblems: _ }) => {
  await watchBlobUrls(page);
  await page.goto('/');
  await signIn(page, 'alice');
  await expect(page.getByText('Signed in as alice')).toBeVisible();
});

test('lists resources and templates, reads text and binary ones, fills a template', async ({ page }) => {
  await openSection(page, 'Resources');
  const listed = page.getByRole('region', { name: 'Resources', exact: true });
  for (const name of ['README', 'Counter', 'Swatch image']) await expect(listed.getByRole('link', { name })).toBeVisible();
  await screenshot(page, 'resources');

  // A template's parameters become a form; reading opens the expanded URI.
  const weather = page.getByRole('region', { name: 'Weather' });
  await expect(weather).toContainText('demo://weather/{city}/{day}');
  await weather.getByRole('button', { name: 'Read' }).click();
  await expect(weather.getByLabel('city', { exact: true })).toHaveAccessibleDescription(/required/);
  await weather.getByLabel('city', { exact: true }).fill('Oslo');
  await weather.getByLabel('day', { exact: true }).fill('tomorrow');
  await weather.getByRole('button', { name: 'Read' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'demo://weather/Oslo/tomorrow' })).toBeVisible();
  await expect(page.getByRole('region', { name: 'Contents' })).toContainText('Weather in Oslo tomorrow: sunny, 21 °C.');

  // Binary: a preview for images, its size, and a download.
  await switchSection(page, 'Resources');
  await page.getByRole('link', { name: 'Swatch image' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Swatch image' })).toBeVisible();
  const contents = page.getByRole('region', { name: 'Contents' });
  await expect(contents.getByRole('img', { name: 'swatch.png (image/png)' })).toBeVisible();
  await expect(contents).toContainText(/Binary, \d+ bytes, image\/png\./);
  // A raster image keeps its type; nothing else does (a blob: URL opened as a page runs as the app).
  const pngLink = contents.getByRole('link', { name: 'Download swatch.png' });
  expect(await blobType(page, pngLink)).toBe('image/png');
  const download = page.waitForEvent('download');
  await pngLink.click();
  expect((await download).suggestedFilename()).toBe('swatch.png');
  const file = await (await download).path();
  expect((await readFile(file)).subarray(1, 4).toString('ascii')).toBe('PNG');

  // SVG is previewed (an <img> runs no script) but downloaded as plain bytes, still named .svg.
  await switchSection(page, 'Resources');
  await page.getByRole('link', { name: 'Badge (SVG)' }).click();
  await expect(contents.getByRole('img', { name: 'badge.svg (image/svg+xml)' })).toBeVisible();
  const svgLink = contents.getByRole('link', { name: 'Download badge.svg' });
  expect(await blobType(page, svgLink)).toBe('application/octet-stream');
  const svgDownload = page.waitForEvent('download');
  await svgLink.click();
  expect((await svgDownload).suggestedFilename()).toBe('badge.svg');
  expect((await readFile(await (await svgDownload).path())).toString('utf8')).toMatch(/^<svg /);
});

test('a subscribed resource updates live when it changes elsewhere', async ({ page, context }) => {
  await openSection(page, 'Resources');
  await page.getByRole('link', { name: 'Counter' }).click();
  const contents = page.getByRole('region', { name: 'Contents' });
  const before = Number(/Counter: (-?\d+)/.exec((await contents.textContent()) ?? '')?.[1]);
  await page.getByRole('button', { name: 'Subscribe to updates' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Live: waiting for changes.' })).toBeVisible();

  // Someone else (another tab, its own MCP session) changes it.
  const other = await context.newPage();
  await other.goto('/servers/default/tools/bump_counter');
  await other.getByLabel('by', { exact: true }).fill('3');
  await other.getByRole('button', { name: 'Run' }).click();
  await expect(other.getByRole('region', { name: 'Result' })).toContainText(`The counter is now ${before + 3}.`);
  await other.close();

  await expect(contents).toContainText(`Counter: ${before + 3}`);
  await expect(page.getByRole('status').filter({ hasText: /Live: updated at/ })).toBeVisible();
  await screenshot(page, 'resource-live', { docs: true });

  // The update notification is in the live log too.
  await switchSection(page, 'Log');
  await expect(page.getByRole('log', { name: 'Server notifications' })).toContainText('resources/updated');
  await expect(page.getByRole('log', { name: 'Server notifications' })).toContainText('demo://counter');

  // The subscription outlives the resource's page: the tray lists it, and updates keep coming.
  const tray = page.getByRole('complementary', { name: 'Live updates' });
  await expect(tray.getByRole('link', { name: 'demo://counter' })).toBeVisible();
  const bumper = await context.newPage();
  await bumper.goto('/servers/default/tools/bump_counter');
  await bumper.getByLabel('by', { exact: true }).fill('2');
  await bumper.getByRole('button', { name: 'Run' }).click();
  await expect(bumper.getByRole('region', { name: 'Result' })).toContainText(`The counter is now ${before + 5}.`);
  await bumper.close();
  await expect(tray).toContainText('(2 times)');

  // Back on its page it is still on, with the latest contents; the tray stops it.
  await tray.getByRole('link', { name: 'demo://counter' }).click();
  await expect(page.getByRole('region', { name: 'Contents' })).toContainText(`Counter: ${before + 5}`);
  await expect(page.getByRole('button', { name: 'Stop live updates', exact: true })).toBeVisible();
  await tray.getByRole('button', { name: 'Stop live updates of demo://counter' }).click();
  await expect(tray).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Subscribe to updates' })).toBeVisible();
});

test('prompts: fill in arguments and see the messages', async ({ page }) => {
  await openSection(page, 'Prompts');
  await expect(page.getByRole('link', { name: 'greeting' })).toBeVisible();
  await expect(page.getByText('Arguments: language, code, focus (optional)')).toBeVisible();
  await page.getByRole('link', { name: 'code_review' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'code_review' })).toBeVisible();
  await page.getByRole('button', { name: 'Get prompt' }).click();
  await expect(page.getByRole('alert').filter({ hasText: '2 fields need attention.' })).toBeVisible();
  await expect(page.getByLabel('language', { exact: true })).toBeFocused();
  await page.getByLabel('language', { exact: true }).fill('TypeScript');
  await page.getByLabel('code', { exact: true }).fill('const answer = 42;');
  await page.getByLabel('focus', { exact: true }).fill('naming');
  await page.getByRole('button', { name: 'Get prompt' }).click();
  const messages = page.getByRole('region', { name: 'Messages' });
  await expect(messages.getByRole('heading', { name: 'User' })).toHaveCount(2);
  await expect(messages.getByRole('heading', { name: 'Assistant' })).toHaveCount(1);
  await expect(messages).toContainText('Please review this TypeScript code, looking mostly at naming:');
  await expect(messages).toContainText('const answer = 42;');
  await expect(messages).toContainText('Embedded resource demo://readme');
  await screenshot(page, 'prompt');
});

test('the log shows log messages as they arrive, at the level chosen', async ({ page }) => {
  await openSection(page, 'Log');
  const log = page.getByRole('log', { name: 'Server notifications' });
  await expect(log).toContainText('Nothing yet.');
  await page.getByLabel('Minimum log level').selectOption('warning');
  await expect(page.getByRole('status').filter({ hasText: 'The server now sends warning and above.' })).toBeVisible();

  await switchSection(page, 'Tools');
  await page.getByRole('link', { name: 'emit_logs' }).click();
  await page.getByLabel('count', { exact: true }).fill('2');
  await page.getByLabel('level', { exact: true }).selectOption('info');
  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByRole('region', { name: 'Result' })).toContainText('Sent nothing: info is below the level warning.');
  await page.getByLabel('level', { exact: true }).selectOption('error');
  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByRole('region', { name: 'Result' })).toContainText('Sent 2 error message(s).');

  await switchSection(page, 'Log');
  await expect(log.getByRole('listitem')).toHaveCount(2);
  await expect(log.getByRole('listitem').first()).toContainText('error');
  await expect(log.getByRole('listitem').first()).toContainText('Log message 1 of 2');
  await expect(log.getByRole('listitem').nth(1)).toContainText('Log message 2 of 2');
  await screenshot(page, 'log', { docs: true });
  await page.getByRole('button', { name: 'Clear log' }).click();
  await expect(log).toContainText('Nothing yet.');
});
