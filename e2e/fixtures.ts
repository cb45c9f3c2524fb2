import { test as base, expect, type Page } from '@playwright/test';
import { ports } from '../playwright.config.js';

export const inspectorUrl = `http://127.0.0.1:${ports.inspect}`;
export const asOrigin = `http://127.0.0.1:${ports.as}`;

interface Fixtures {
  /** Goes through the real login and consent pages of the demo AS, from the app's Connect link. */
  signIn: (user?: string) => Promise<void>;
  /** Opens a tool from the home page, fills its arguments by label, runs it. */
  runTool: (name: string, args?: Record<string, string>) => Promise<void>;
}

export async function signIn(page: Page, user = 'alice'): Promise<void> {
  await page.getByRole('link', { name: 'Connect' }).first().click();
  await expect(page).toHaveURL(new RegExp(`^${asOrigin}/`));
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(`${user}-demo-password`);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Allow' }).click();
  await expect(page).toHaveURL(/^http:\/\/localhost:\d+\//);
}

export const test = base.extend<Fixtures>({
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
