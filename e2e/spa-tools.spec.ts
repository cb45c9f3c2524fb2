import { readFile } from 'node:fs/promises';
/**
 * The SPA as an MCP client for tools, against the real demo MCP server behind the real BFF: finding
 * a tool, a form generated from a nested schema with checks before sending, and every kind of result.
 */
import { expect, openSection, screenshot, switchSection, test } from './fixtures.js';

// noPageProblems: a CSP violation or an uncaught error anywhere fails the test.
test.beforeEach(async ({ page, signIn, noPageProblems: _ }) => {
  await page.goto('/');
  await signIn('alice');
  await expect(page.getByText('Signed in as alice')).toBeVisible();
});

test('finds tools by search and reads their descriptions and annotations', async ({ page }) => {
  await screenshot(page, 'servers', { docs: true });
  await openSection(page, 'Tools');
  const search = page.getByRole('searchbox', { name: 'Search tools' });
  await expect(page.getByRole('status').filter({ hasText: /^17 tools$/ })).toBeVisible();
  await search.fill('colour');
  await expect(page.getByRole('status').filter({ hasText: '1 of 17 tools' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'color_swatch' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'echo', exact: true })).toHaveCount(0);
  await expect(page.getByRole('list', { name: 'Annotations of color_swatch' })).toContainText('Read-only');
  await search.fill('no such tool');
  await expect(page.getByText('No tool matches “no such tool”.')).toBeVisible();
  await search.fill('');
  await page.getByRole('link', { name: 'bump_counter' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'bump_counter' })).toBeVisible();
  await expect(page.getByText('Bump counter', { exact: true })).toBeVisible();
  await expect(page.getByRole('list', { name: 'Annotations of bump_counter' })).toContainText('Not destructive');
});

test('a nested form is checked before sending, then returns structured content', async ({ page }) => {
  await openSection(page, 'Tools');
  await page.getByRole('link', { name: 'create_event' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'create_event' })).toBeVisible();

  // Defaults are filled in from the schema.
  await expect(page.getByLabel('priority', { exact: true })).toHaveValue('1'); // "normal", the second option
  await expect(page.getByLabel('durationMinutes', { exact: true })).toHaveValue('30');
  await expect(page.getByLabel('remind', { exact: true })).toBeChecked();

  // Nothing sent with required fields empty: every problem is named next to its field.
  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByRole('alert').filter({ hasText: '3 fields need attention.' })).toBeVisible();
  await expect(page.getByLabel('title', { exact: true })).toBeFocused();
  await expect(page.getByLabel('title', { exact: true })).toHaveAccessibleDescription(/This field is required/);
  const location = page.getByRole('group', { name: 'location' });
  await expect(location.getByLabel('city', { exact: true })).toHaveAccessibleDescription(/This field is required/);
  const attendees = page.getByRole('group', { name: 'attendees' });
  await expect(attendees).toHaveAccessibleDescription(/This field is required/);
  await expect(page.getByRole('region', { name: 'Result' })).toHaveCount(0);

  await page.getByLabel('title', { exact: true }).fill('Team lunch');
  await location.getByLabel('city', { exact: true }).fill('Lisbon');
  await attendees.getByRole('button', { name: 'Add to attendees' }).click();
  await attendees.getByRole('button', { name: 'Add to attendees' }).click();
  const first = page.getByRole('group', { name: 'attendees item 1' });
  await first.getByLabel('name', { exact: true }).fill('Ada');
  await first.getByLabel('email', { exact: true }).fill('not-an-email');
  await page.getByRole('group', { name: 'attendees item 2' }).getByLabel('name', { exact: true }).fill('Grace');
  await page.getByLabel('durationMinutes', { exact: true }).fill('2');
  const tags = page.getByRole('group', { name: 'tags' });
  await tags.getByRole('button', { name: 'Add to tags' }).click();
  // Focus moves into the new item, so the keyboard user types there next.
  await expect(page.getByLabel('tags item 1', { exact: true })).toBeFocused();
  await tags.getByRole('button', { name: 'Add to tags' }).click();
  await expect(page.getByLabel('tags item 2', { exact: true })).toBeFocused();
  await page.getByLabel('tags item 1', { exact: true }).fill('food');
  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByRole('alert').filter({ hasText: '3 fields need attention.' })).toBeVisible();
  await expect(first.getByLabel('email', { exact: true })).toHaveAccessibleDescription(/Enter an email address/);
  await expect(page.getByLabel('durationMinutes', { exact: true })).toHaveAccessibleDescription(/Enter 5 or more/);
  await expect(page.getByLabel('tags item 2', { exact: true })).toHaveAccessibleDescription(/Fill in this item or remove it/);

  await first.getByLabel('email', { exact: true }).fill('ada@example.com');
  await page.getByLabel('durationMinutes', { exact: true }).fill('45');
  await page.getByRole('button', { name: 'Remove tags item 2' }).click();
  // ... and after a removal, to the neighbour that is left.
  await expect(page.getByLabel('tags item 1', { exact: true })).toBeFocused();
  await page.getByLabel('priority', { exact: true }).selectOption('high');
  await page.getByRole('button', { name: 'Run' }).click();

  const result = page.getByRole('region', { name: 'Result' });
  await expect(result).toContainText('Planned "Team lunch" in Lisbon for 2 attendee(s), 45 min, high priority.');
  const structured = result.getByRole('region', { name: 'Structured content' });
  await expect(structured).toContainText('"attendees": [');
  await expect(structured).toContainText('"Ada <ada@example.com>"');
  await expect(structured).toContainText('"tags": [\n    "food"\n  ]');
  await expect(structured).toContainText("Checked against the tool's output schema.");
  await screenshot(page, 'tool-structured-result', { docs: true });
  await page.getByText('Output schema', { exact: true }).click();
  await expect(page.getByText('"durationMinutes"').first()).toBeVisible();
});

test('shows images, embedded resources and resource links from tool results', async ({ page }) => {
  await openSection(page, 'Tools');
  await page.getByRole('link', { name: 'color_swatch' }).click();
  await page.getByLabel('color', { exact: true }).selectOption('orange');
  await page.getByLabel('size', { exact: true }).fill('48');
  await page.getByRole('button', { name: 'Run' }).click();
  const image = page.getByRole('img', { name: 'Image 1 (image/png)' });
  await expect(image).toBeVisible();
  expect(await image.evaluate((img: HTMLImageElement) => [img.complete, img.naturalWidth])).toEqual([true, 48]);
  await expect(page.getByRole('region', { name: 'Result' })).toContainText('A 48×48 orange square.');
  await screenshot(page, 'tool-image-result');

  await page.getByRole('navigation', { name: 'Server sections' }).getByRole('link', { name: 'Tools' }).click();
  await page.getByRole('link', { name: 'get_report' }).click();
  await page.getByLabel('topic', { exact: true }).selectOption('support');
  await page.getByRole('button', { name: 'Run' }).click();
  const result = page.getByRole('region', { name: 'Result' });
  await expect(result).toContainText('Embedded resource demo://reports/support (text/markdown)');
  await expect(result).toContainText('# Support report');
  await result.getByRole('link', { name: 'README' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'README' })).toBeVisible();
  await expect(page.getByRole('region', { name: 'Contents' })).toContainText('This server exists to exercise');
});

test('a result the tool marks isError is shown as an error', async ({ page }) => {
  await openSection(page, 'Tools');
  await page.getByRole('link', { name: 'divide' }).click();
  await page.getByLabel('dividend', { exact: true }).fill('1');
  await page.getByLabel('divisor', { exact: true }).fill('0');
  await page.getByRole('button', { name: 'Run' }).click();
  const error = page.getByRole('region', { name: 'Result' }).getByRole('alert');
  await expect(error).toContainText('The tool reported an error.');
  await expect(error).toContainText('Cannot divide by zero.');
  // Screen readers hear how each call ended, not only that an error appeared.
  await expect(page.getByRole('status').filter({ hasText: 'The call finished with an error.' })).toBeAttached();
  await page.getByLabel('divisor', { exact: true }).fill('4');
  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByRole('region', { name: 'Result' })).toContainText('0.25');
  await expect(page.getByRole('status').filter({ hasText: /^The call finished\.$/ })).toBeAttached();
  await expect(page.getByRole('region', { name: 'Result' }).getByRole('alert')).toHaveCount(0);
});

test('a long call shows its progress and can be cancelled', async ({ page }) => {
  await openSection(page, 'Tools');
  await page.getByRole('link', { name: 'slow_task' }).click();
  await page.getByLabel('steps', { exact: true }).fill('50');
  // 50 steps of 500 ms: the call runs for 25 s, so it is still in progress whenever the page gets to it.
  await page.getByLabel('delayMs', { exact: true }).fill('500');
  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByRole('button', { name: 'Run' })).toBeDisabled();
  await expect(page.getByText(/^([1-9]|[1-4]\d) \/ 50$/)).toBeVisible();
  await expect(page.getByText(/Step \d+ of 50/)).toBeVisible();
  await screenshot(page, 'tool-progress');
  await page.getByRole('button', { name: 'Cancel' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Cancelled.' })).toBeVisible();
  await expect(page.getByRole('progressbar', { name: 'Progress' })).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Run' })).toBeEnabled();
  // The connection is still good after a cancellation.
  await page.getByLabel('steps', { exact: true }).fill('2');
  await page.getByLabel('delayMs', { exact: true }).fill('20');
  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByRole('region', { name: 'Result' })).toContainText('Completed 2 steps');
});

test('a large text result is folded with "Show all" and a download; who it is for is shown', async ({ page }) => {
  await openSection(page, 'Tools');
  await page.getByRole('link', { name: 'echo', exact: true }).click();
  const long = `${'0123456789'.repeat(2_500)}THE-END`;
  await page.getByLabel('message', { exact: true }).fill(long);
  await page.getByRole('button', { name: 'Run' }).click();
  const result = page.getByRole('region', { name: 'Result' });
  await expect(result.getByRole('list', { name: 'Annotations' })).toContainText('For user');
  await expect(result.getByRole('list', { name: 'Annotations' })).toContainText('Priority 0.5');
  await expect(result).toContainText('Showing the first 20,000 of 25,007 characters.');
  await expect(result.locator('pre.output')).not.toContainText('THE-END');
  await result.getByRole('button', { name: 'Show all' }).click();
  await expect(result.locator('pre.output')).toContainText('THE-END');
  const download = page.waitForEvent('download');
  await result.getByRole('link', { name: 'Download result-1.txt' }).click();
  const file = await download;
  expect(file.suggestedFilename()).toBe('result-1.txt');
  expect((await readFile(await file.path())).toString()).toBe(long);
});

test('a call keeps running when the person goes elsewhere; its result waits for them, and the tray says so', async ({ page }) => {
  await openSection(page, 'Tools');
  await page.getByRole('link', { name: 'slow_task', exact: true }).click();
  await page.getByLabel('steps', { exact: true }).fill('4');
  await page.getByLabel('delayMs', { exact: true }).fill('700');
  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByRole('progressbar', { name: 'Progress' })).toBeVisible();

  await switchSection(page, 'Resources');
  const tray = page.getByRole('complementary', { name: 'Tool calls' });
  await expect(tray).toContainText('slow_task on Demo MCP server: running');
  await expect(tray).toContainText('slow_task on Demo MCP server: finished');
  await tray.getByRole('link', { name: 'slow_task' }).click();
  await expect(page.getByRole('region', { name: 'Result' })).toContainText('Completed 4 steps');
  // Seen: the tray lets go of it.
  await expect(tray).toHaveCount(0);
});

test('the time limit counts only silence: progress starts it over, silence stops the call', async ({ page }) => {
  await openSection(page, 'Tools');
  await page.getByRole('link', { name: 'slow_task', exact: true }).click();
  const limit = page.getByLabel('Time limit (seconds without progress)');
  await expect(limit).toHaveValue('60');
  // Progress every 0.4 s against a 3 s limit: the call runs for 6 s, twice the limit, and completes.
  await limit.fill('3');
  await page.getByLabel('steps', { exact: true }).fill('15');
  await page.getByLabel('delayMs', { exact: true }).fill('400');
  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByRole('region', { name: 'Result' })).toContainText('Completed 15 steps');
  // 4 s of silence before the first progress against a 1 s limit: stopped.
  await limit.fill('1');
  await page.getByLabel('steps', { exact: true }).fill('1');
  await page.getByLabel('delayMs', { exact: true }).fill('4000');
  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'nothing happened for 1 seconds' })).toBeVisible();
  await limit.fill('0');
  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'Enter a whole number of seconds from 1 to 3600.' })).toBeVisible();
});

test('the time limit waits while the server is asking the person something', async ({ page }) => {
  await openSection(page, 'Tools');
  await page.getByRole('link', { name: 'ask_profile', exact: true }).click();
  await page.getByLabel('Time limit (seconds without progress)').fill('1');
  await page.getByRole('button', { name: 'Run' }).click();
  const dialog = page.getByRole('dialog', { name: 'Demo MCP server asks for information' });
  await dialog.getByLabel('name', { exact: true }).fill('Ada');
  await dialog.getByLabel('colour', { exact: true }).selectOption('blue');
  // Longer than the limit, on purpose: answering slowly is not the call going silent.
  await page.waitForTimeout(2500);
  await dialog.getByRole('button', { name: 'Send' }).click();
  await expect(page.getByRole('region', { name: 'Result' })).toContainText('Ada');
});
