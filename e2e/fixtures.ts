import { test as base, expect, type Page } from '@playwright/test';
import { ports } from '../playwright.config.js';

export const inspectorUrl = `http://127.0.0.1:${ports.inspect}`;
export const asOrigin = `http://127.0.0.1:${ports.as}`;

interface Fixtures {
  /** Goes through the real login and consent pages of the demo AS, from the app's Connect link. */
  signIn: (user?: string) => Promise<void>;
  /** Opens a tool from the home page, fills its arguments by label, runs it. */
  runTool: (name: string, args?: Record<string, string>) => Promise<void>;
  /** Fails the test if the page broke its Content-Security-Policy or threw an uncaught error. */
  noPageProblems: undefined;
}

export async function signIn(page: Page, user = 'alice'): Promise<void> {
  await page.getByRole('link', { name: 'Connect' }).first().click();
  // The demo authorization server of whichever stack the page is on (each is on 127.0.0.1).
  await expect(page).toHaveURL(/^http:\/\/127\.0\.0\.1:\d+\//);
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(`${user}-demo-password`);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Allow' }).click();
  // Back in the app: past the callback and its same-site bounce page (/bff/…), which navigates on by
  // itself; a navigation started before that would be interrupted by it.
  await expect(page).toHaveURL(/^http:\/\/localhost:\d+\/(?!bff\/)/);
  await page.waitForLoadState();
}

export const test = base.extend<Fixtures>({
  noPageProblems: async ({ page }, use) => {
    const problems = watchForPageProblems(page);
    await use(undefined);
    expect(problems, 'CSP violations or uncaught errors in the page').toEqual([]);
  },
  signIn: async ({ page }, use) => {
    await use((user) => signIn(page, user));
  },
  runTool: async ({ page }, use) => {
    await use(async (name, args = {}) => {
      await page.getByRole('link', { name, exact: true }).click();
      await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
      for (const [label, value] of Object.entries(args)) await page.getByLabel(label, { exact: true }).fill(value);
      await page.getByRole('button', { name: 'Run' }).click();
    });
  },
});

export { expect };

export async function tokenRequests(): Promise<Array<{ grantType: string }>> {
  return (await fetch(`${inspectorUrl}/token-requests`)).json();
}

export async function issuedSecrets(): Promise<string[]> {
  return (await fetch(`${inspectorUrl}/secrets`)).json();
}

export type ServerSection = 'Tools' | 'Resources' | 'Prompts' | 'Log' | 'Protocol';

/** From the servers page: one of a server's sections, through the links in that server's card. */
export async function openSection(page: Page, section: ServerSection, serverName = 'Demo MCP server'): Promise<void> {
  const card = page.getByRole('region', { name: serverName });
  await card
    .getByRole('navigation')
    .getByRole('link', { name: new RegExp(`^${section}`) })
    .click();
  await expect(page.getByRole('heading', { level: 1, name: section })).toBeVisible();
}

/** Within a server's pages: another section, through the section tabs. */
export async function switchSection(page: Page, section: ServerSection): Promise<void> {
  await page.getByRole('navigation', { name: 'Server sections' }).getByRole('link', { name: section }).click();
  await expect(page.getByRole('heading', { level: 1, name: section })).toBeVisible();
}

/** Collects what the browser reports about the page breaking its Content-Security-Policy, and uncaught errors. */
export function watchForPageProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  return problems;
}

/**
 * A full-page screenshot kept with the test's results; the ones marked `docs` are also written to
 * docs/screenshots (shown in the README) when UPDATE_DOCS_SCREENSHOTS=1.
 */
export async function screenshot(page: Page, name: string, options: { docs?: boolean } = {}): Promise<void> {
  const info = test.info();
  const path = info.outputPath(`${name}.png`);
  await page.screenshot({ path, fullPage: true, animations: 'disabled', caret: 'hide' });
  await info.attach(name, { path, contentType: 'image/png' });
  if (options.docs && process.env.UPDATE_DOCS_SCREENSHOTS === '1') {
    await page.screenshot({ path: `docs/screenshots/${name}.png`, fullPage: true, animations: 'disabled', caret: 'hide' });
  }
}
