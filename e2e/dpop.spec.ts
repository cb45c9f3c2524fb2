/**
 * One MCP server with DPoP (RFC 9449) in Chromium: the demo authorization server issues DPoP-bound
 * tokens and asks for its nonce, the demo MCP server takes only DPoP tokens with a valid proof and asks
 * for its nonce too. The person signs in and runs a tool as with any server; the BFF holds the key.
 *
 * Its own stack (e2e/stack-server.ts with E2E_DPOP=nonce), started here and stopped at the end, on
 * the configured ports + 3 (the main stack uses them as they are, the multi-server stack + 1 and + 2).
 */
import { ports } from '../playwright.config.js';
import { expect, openSection, screenshot, signIn, test as base } from './fixtures.js';
import { startProcess, stopProcess, waitUntilAnswering } from './processes.js';

const dpopPorts = { app: ports.app + 3, as: ports.as + 3, mcp: ports.mcp + 3, inspect: ports.inspect + 3 };
const appUrl = `http://localhost:${dpopPorts.app}`;
const inspector = `http://127.0.0.1:${dpopPorts.inspect}`;

const test = base.extend<object, { dpopApp: string }>({
  dpopApp: [
    // biome-ignore lint/correctness/noEmptyPattern: Playwright reads a fixture's dependencies from this pattern
    async ({}, use) => {
      const stack = startProcess('pnpm', ['exec', 'tsx', 'e2e/stack-server.ts'], {
        E2E_APP_PORT: String(dpopPorts.app),
        E2E_AS_PORT: String(dpopPorts.as),
        E2E_MCP_PORT: String(dpopPorts.mcp),
        E2E_INSPECT_PORT: String(dpopPorts.inspect),
        E2E_DPOP: 'nonce',
      });
      try {
        await waitUntilAnswering(`${appUrl}/healthz`, stack, { ok: true, timeoutMs: 60_000 });
        await waitUntilAnswering(`${inspector}/token-requests`, stack, { ok: true });
        await use(appUrl);
      } finally {
        await stopProcess(stack.child);
      }
    },
    { scope: 'worker' },
  ],
});

test.use({ baseURL: appUrl });

test('a DPoP server: sign in and run a tool; every call carries a DPoP proof, nonces included', async ({ page, dpopApp: _, noPageProblems: __ }) => {
  await page.goto('/');
  await signIn(page);
  await openSection(page, 'Tools');
  await page.getByRole('link', { name: 'echo', exact: true }).click();
  await page.getByLabel('message', { exact: true }).fill('hello, DPoP');
  await page.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByRole('region', { name: 'Result' })).toContainText('hello, DPoP');
  await screenshot(page, 'dpop-tool-result');

  // The connection details view says the tokens are DPoP-bound.
  await page.goto('/servers/default/connection');
  await expect(page.getByRole('list', { name: 'Sign-in steps' })).toContainText('bound with DPoP to a key the BFF holds for this connection (ES256)');

  // The token endpoint asked for its nonce once: the code exchange was sent twice.
  const tokens = (await (await fetch(`${inspector}/token-requests`)).json()) as Array<{ grantType: string }>;
  expect(tokens.filter((t) => t.grantType === 'authorization_code')).toHaveLength(2);
  // Every request that carried a token used the DPoP scheme with a proof; the MCP server asked for
  // its nonce (once per request the SPA sent before the BFF had it), and refused nothing else.
  const seen = (await (await fetch(`${inspector}/mcp-requests`)).json()) as {
    auth: Array<{ scheme: string; proof: boolean }>;
    dpopRefused: Record<string, number>;
  };
  const authorized = seen.auth.filter((a) => a.scheme !== '');
  expect(authorized.length).toBeGreaterThan(1);
  for (const a of authorized) expect(a).toEqual({ scheme: 'DPoP', proof: true });
  expect(Object.keys(seen.dpopRefused)).toEqual(['use_dpop_nonce']);
});
