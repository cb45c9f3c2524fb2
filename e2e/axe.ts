import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';
import { expect, test } from './fixtures.js';

/** WCAG 2.0–2.2 A and AA, and axe's best practices (landmarks, headings, one main). */
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'];

/**
 * Scans the page as it is now with axe-core and fails on any violation (serious or worse included),
 * listing each rule with the elements it found; the full report is attached to the test.
 */
export async function expectAccessible(page: Page, what: string): Promise<void> {
  const results = await new AxeBuilder({ page }).withTags(TAGS).analyze();
  await test.info().attach(`axe: ${what}`, { body: JSON.stringify(results.violations, null, 2), contentType: 'application/json' });
  const found = results.violations.map(
    (v) => `${v.impact ?? 'unknown'} ${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).slice(0, 5).join(', ')}`,
  );
  expect(found, `axe violations on ${what}`).toEqual([]);
}
