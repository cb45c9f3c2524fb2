/**
 * Suggestions as the person types (`completion/complete`) for resource template variables and prompt
 * arguments, against the real demo MCP server in both eras (the main stack speaks 2026-07-28, the
 * multi-server stack 2025-11-25): an ARIA combobox driven from the keyboard, "N more" when the server
 * has more than is shown, the arguments already filled in sent as context. The multi-server stack's
 * second server declares no completions: its fields are plain text boxes and it is never asked.
 */
import type { Locator, Page } from '@playwright/test';
import { multiPorts } from '../playwright.config.js';
import { expect, openSection, screenshot, signIn, switchSection, test } from './fixtures.js';

test.beforeEach(async ({ noPageProblems: _ }) => {});

/** The highlighted option's text: the one the combobox's aria-activedescendant names. */
async function activeOption(page: Page, combobox: Locator): Promise<string | null> {
  const id = await combobox.getAttribute('aria-activedescendant');
  return id === null ? null : page.locator(`[id="${id}"]`).textContent();
}

/** Waits until `text` (or nothing, for null) is the highlighted option. */
async function expectActive(page: Page, combobox: Locator, text: string | null): Promise<void> {
  await expect.poll(() => activeOption(page, combobox)).toBe(text);
}

/** The options of the combobox's own listbox, found as assistive technology does: through aria-controls. */
async function optionsOf(page: Page, combobox: Locator): Promise<Locator> {
  const id = await combobox.getAttribute('aria-controls');
  expect(id).toBeTruthy();
  return page.locator(`[id="${id}"]`).getByRole('option');
}

test.describe('2026-07-28', () => {
  test.beforeEach(async ({ page }) => {
    await page.goto('/');
    await signIn(page, 'alice');
    await expect(page.getByText('Signed in as alice')).toBeVisible();
  });

  test('a template variable: type, see suggestions, pick with the keyboard; "N more"; Escape closes', async ({ page }) => {
    await openSection(page, 'Resources');
    const weather = page.getByRole('region', { name: 'Weather' });
    const city = weather.getByRole('combobox', { name: 'city', exact: true });
    await expect(city).toHaveAttribute('aria-expanded', 'false');
    await expect(city).toHaveAttribute('aria-autocomplete', 'list');

    await city.pressSequentially('o');
    const options = await optionsOf(page, city);
    await expect(options).toHaveText(['Osaka', 'Oslo', 'Ottawa']);
    await expect(city).toHaveAttribute('aria-expanded', 'true');
    await expect(weather.getByRole('listbox', { name: 'Suggestions for city' })).toBeVisible();
    await expect(weather.getByRole('status').filter({ hasText: '3 suggestions.' })).toHaveCount(1);
    // Nothing is highlighted until the person moves: Enter would still submit the form.
    await expectActive(page, city, null);
    await city.press('ArrowDown');
    await expectActive(page, city, 'Osaka');
    await expect(options.filter({ hasText: 'Osaka' })).toHaveAttribute('aria-selected', 'true');
    await city.press('ArrowDown');
    await expectActive(page, city, 'Oslo');
    await expect(city).toBeFocused();
    await screenshot(page, 'completions-template');
    await city.press('Enter');
    await expect(city).toHaveValue('Oslo');
    await expect(city).toHaveAttribute('aria-expanded', 'false');
    await expect(weather.getByRole('listbox')).toBeHidden();
    // Choosing is not submitting.
    await expect(page.getByRole('heading', { level: 1, name: 'Resources' })).toBeVisible();

    // Up from nothing highlighted wraps to the last one.
    const day = weather.getByRole('combobox', { name: 'day', exact: true });
    await day.pressSequentially('t');
    await expect(await optionsOf(page, day)).toHaveText(['today', 'tomorrow']);
    await day.press('ArrowUp');
    await expectActive(page, day, 'tomorrow');
    await day.press('Enter');
    await expect(day).toHaveValue('tomorrow');

    // Escape closes the list and leaves what was typed; Down Arrow opens it again.
    await city.fill('');
    await city.pressSequentially('S');
    await expect(await optionsOf(page, city)).toHaveText(['Santiago', 'Seoul', 'Singapore', 'Stockholm', 'Sydney']);
    await city.press('Escape');
    await expect(city).toHaveAttribute('aria-expanded', 'false');
    await expect(city).toHaveValue('S');
    await city.press('ArrowDown');
    await expect(city).toHaveAttribute('aria-expanded', 'true');
    await expectActive(page, city, 'Santiago');

    // An empty field asks at once on Down Arrow: 40 cities, 10 shown, the rest counted.
    await city.fill('');
    await city.press('Escape');
    await city.press('ArrowDown');
    await expect(await optionsOf(page, city)).toHaveCount(10);
    await expect(weather.getByText('30 more: keep typing to narrow them down.')).toBeVisible();
    await expect(weather.getByRole('status').filter({ hasText: '10 suggestions, 30 more.' })).toHaveCount(1);
    // The mouse works too.
    await (await optionsOf(page, city)).filter({ hasText: 'Berlin' }).click();
    await expect(city).toHaveValue('Berlin');
    await expect(city).toBeFocused();

    await weather.getByRole('button', { name: 'Read' }).click();
    await expect(page.getByRole('heading', { level: 1, name: 'demo://weather/Berlin/tomorrow' })).toBeVisible();

    // Each keystroke pause was one completion/complete, visible in the protocol debugger.
    await switchSection(page, 'Protocol');
    const exchanges = page.getByRole('region', { name: 'Exchanges' });
    await expect(exchanges.locator('.exchange-label').filter({ hasText: 'completion/complete' }).first()).toBeVisible();
  });

  test('a prompt argument narrowed by the one filled in before it (context.arguments)', async ({ page }) => {
    await openSection(page, 'Prompts');
    await page.getByRole('link', { name: 'code_review' }).click();
    const language = page.getByRole('combobox', { name: 'language', exact: true });
    await language.pressSequentially('ty');
    await expect(await optionsOf(page, language)).toHaveText(['TypeScript']);
    await language.press('ArrowDown');
    await language.press('Enter');
    await expect(language).toHaveValue('TypeScript');
    // A long text field has no suggestions: a plain text area.
    await page.getByRole('textbox', { name: 'code', exact: true }).fill('let answer: any = 42;');

    // Down Arrow on the empty focus asks at once, with the language as context: TypeScript's list.
    const focus = page.getByRole('combobox', { name: 'focus', exact: true });
    await focus.focus();
    await focus.press('ArrowDown');
    await expect(await optionsOf(page, focus)).toHaveText(['async code', 'naming', 'null handling', 'type safety']);
    await focus.press('ArrowUp');
    await focus.press('Enter');
    await expect(focus).toHaveValue('type safety');
    await page.getByRole('button', { name: 'Get prompt' }).click();
    await expect(page.getByRole('region', { name: 'Messages' })).toContainText('Please review this TypeScript code, looking mostly at type safety:');

    await switchSection(page, 'Protocol');
    // The last suggestion asked for was the focus's, with the language as context.
    const sent = page.getByRole('region', { name: 'Exchanges' }).getByRole('listitem').filter({ hasText: 'completion/complete' }).last();
    await sent.locator('summary').click();
    await expect(sent).toContainText('"name": "focus"');
    await expect(sent).toContainText('"language": "TypeScript"');
  });
});

test.describe('2026-07-28, a failing server', () => {
  test('a failed completion is a quiet note under the field, and the form still works', async ({ page }) => {
    await page.goto('/');
    await signIn(page, 'alice');
    await openSection(page, 'Prompts');
    await page.getByRole('link', { name: 'code_review' }).click();
    // A fault the demo server cannot show: its completion requests answered with a JSON-RPC error.
    let refused = 0;
    await page.route('**/mcp/default', async (route) => {
      const body = route.request().postDataJSON() as { id?: number; method?: string } | null;
      if (body?.method !== 'completion/complete') return route.fallback();
      refused++;
      await route.fulfill({
        contentType: 'application/json',
        body: JSON.stringify({ jsonrpc: '2.0', id: body.id, error: { code: -32603, message: 'The completion index is rebuilding' } }),
      });
    });
    const language = page.getByRole('combobox', { name: 'language', exact: true });
    await language.pressSequentially('Go');
    await expect(page.getByText(/^No suggestions: .*The completion index is rebuilding/)).toBeVisible();
    expect(refused).toBeGreaterThan(0);
    await expect(language).toHaveAttribute('aria-expanded', 'false');
    // Not an alert, and nothing blocks: the prompt is got as usual.
    await expect(page.getByRole('alert')).toHaveCount(0);
    await page.getByRole('textbox', { name: 'code', exact: true }).fill('x := 1');
    await page.getByRole('button', { name: 'Get prompt' }).click();
    await expect(page.getByRole('region', { name: 'Messages' })).toContainText('Please review this Go code');
  });
});

test.describe('2025-11-25', () => {
  test.use({ baseURL: `http://localhost:${multiPorts.app}` });

  test('suggestions from a server that declares completions; none asked of one that does not', async ({ page }) => {
    await page.goto('/');
    const first = page.getByRole('region', { name: 'Demo MCP server', exact: true });
    const second = page.getByRole('region', { name: 'Second demo MCP server', exact: true });
    for (const [region, asPort] of [
      [first, multiPorts.as],
      [second, multiPorts.secondAs],
    ] as const) {
      await region.getByRole('link', { name: 'Connect' }).click();
      await expect(page).toHaveURL(new RegExp(`^http://127\\.0\\.0\\.1:${asPort}/`));
      await page.getByLabel('Username').fill('alice');
      await page.getByLabel('Password').fill('alice-demo-password');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('button', { name: 'Allow' }).click();
      await expect(region.getByText('Connected', { exact: true })).toBeVisible();
    }

    // The first server, in the old era: the same combobox.
    await page.goto('/servers/default/prompts/code_review');
    const language = page.getByRole('combobox', { name: 'language', exact: true });
    await language.pressSequentially('j');
    await expect(await optionsOf(page, language)).toHaveText(['Java', 'JavaScript']);
    await language.press('ArrowDown');
    await language.press('ArrowDown');
    await language.press('Enter');
    await expect(language).toHaveValue('JavaScript');

    // The second declares no completions: plain text boxes, and not one completion/complete.
    await page.goto('/servers/notes/prompts/code_review');
    await expect(page.getByRole('heading', { level: 1, name: 'code_review' })).toBeVisible();
    await expect(page.getByRole('combobox')).toHaveCount(0);
    await page.getByRole('textbox', { name: 'language', exact: true }).pressSequentially('Ty');
    await page.getByRole('textbox', { name: 'code', exact: true }).fill('let x = 1;');
    await page.getByRole('textbox', { name: 'focus', exact: true }).pressSequentially('nam');
    await page.getByRole('button', { name: 'Get prompt' }).click();
    await expect(page.getByRole('region', { name: 'Messages' })).toContainText('Please review this Ty code, looking mostly at nam:');
    await switchSection(page, 'Resources');
    const weather = page.getByRole('region', { name: 'Weather' });
    await expect(weather.getByRole('textbox', { name: 'city', exact: true })).toBeVisible();
    await expect(weather.getByRole('combobox')).toHaveCount(0);
    await weather.getByRole('textbox', { name: 'city', exact: true }).pressSequentially('Os');

    await switchSection(page, 'Protocol');
    const labels = page.getByRole('region', { name: 'Exchanges' }).locator('.exchange-label');
    await expect(labels.filter({ hasText: 'prompts/get' })).not.toHaveCount(0);
    await page.getByText('What the server declared').click();
    await expect(page.locator('.capabilities pre')).toContainText('"resources"');
    await expect(page.locator('.capabilities pre')).not.toContainText('completions');
    await expect(labels.filter({ hasText: 'completion/complete' })).toHaveCount(0);
  });
});
