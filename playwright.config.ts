import { existsSync } from 'node:fs';
import { defineConfig } from '@playwright/test';

/**
 * Playwright cannot download its own browsers on every machine; Debian's Chromium works. CHROMIUM_PATH
 * points at another binary; set it to an empty string to use Playwright's bundled browser.
 */
const chromiumPath = process.env.CHROMIUM_PATH ?? (existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : undefined);

export const ports = {
  app: Number(process.env.E2E_APP_PORT ?? 3310),
  as: Number(process.env.E2E_AS_PORT ?? 4310),
  mcp: Number(process.env.E2E_MCP_PORT ?? 4410),
  inspect: Number(process.env.E2E_INSPECT_PORT ?? 4510),
};

/** A second stack with two MCP servers behind two authorization servers (multi-server specs). */
export const multiPorts = {
  app: ports.app + 1,
  as: ports.as + 1,
  mcp: ports.mcp + 1,
  inspect: ports.inspect + 1,
  secondAs: ports.as + 2,
  secondMcp: ports.mcp + 2,
};

/** A stack whose MCP server is enterprise-managed, started by e2e/enterprise.spec.ts itself. */
export const enterprisePorts = {
  app: ports.app + 3,
  as: ports.as + 3,
  mcp: ports.mcp + 3,
  inspect: ports.inspect + 3,
  idp: ports.as + 4,
};

export default defineConfig({
  testDir: './e2e',
  fullyParallel: false,
  workers: 1,
  forbidOnly: true,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [['list'], ['html', { open: 'never', outputFolder: 'playwright-report' }]],
  outputDir: 'test-results',
  use: {
    baseURL: `http://localhost:${ports.app}`,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    browserName: 'chromium',
    launchOptions: {
      ...(chromiumPath ? { executablePath: chromiumPath } : {}),
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
  webServer: [
    {
      command: 'pnpm exec tsx e2e/stack-server.ts',
      url: `http://localhost:${ports.app}/healthz`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: 'pipe',
      stderr: 'pipe',
      env: {
        E2E_APP_PORT: String(ports.app),
        E2E_AS_PORT: String(ports.as),
        E2E_MCP_PORT: String(ports.mcp),
        E2E_INSPECT_PORT: String(ports.inspect),
        // The main stack's MCP server speaks only the 2026-07-28 revision ...
        E2E_MCP_PROTOCOLS: '2026-07-28',
      },
    },
    {
      command: 'pnpm exec tsx e2e/stack-server.ts',
      url: `http://localhost:${multiPorts.app}/healthz`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: 'pipe',
      stderr: 'pipe',
      env: {
        E2E_APP_PORT: String(multiPorts.app),
        E2E_AS_PORT: String(multiPorts.as),
        E2E_MCP_PORT: String(multiPorts.mcp),
        E2E_INSPECT_PORT: String(multiPorts.inspect),
        E2E_SECOND_AS_PORT: String(multiPorts.secondAs),
        E2E_SECOND_MCP_PORT: String(multiPorts.secondMcp),
        // ... and the multi-server stack's only 2025-11-25, so every spec meets one era or the other.
        E2E_MCP_PROTOCOLS: '2025-11-25',
      },
    },
  ],
});
