import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLegacyApp } from './fake-legacy-server.js';

/**
 * The Resources page's loader, in Node through the real BFF, against a server that declares resources
 * but answers `resources/templates/list` with "method not found" (as some do): the resources are
 * still listed and the missing list says so, instead of the whole page failing. A fake MCP server, for
 * a fault the demo server cannot show; no authorization (the BFF forwards without a token).
 */

let app: { origin: string; close(): Promise<void> };

beforeAll(async () => {
  app = await startFakeLegacyApp({
    name: 'partial',
    capabilities: { resources: {} },
    answer: (method) =>
      method === 'resources/list'
        ? { result: { resources: [{ uri: 'demo://one', name: 'One' }] } }
        : { error: { code: -32601, message: 'Method not found' } },
  });
});
afterAll(() => app.close());

describe('a server without resources/templates/list', () => {
  it('still shows its resources; the missing list says why', async () => {
    const { loader } = await import('../src/routes/resources.js');
    const data = (await loader({
      params: { server: 'default' },
      request: new Request(`${app.origin}/servers/default/resources`),
      context: {},
    } as unknown as Parameters<typeof loader>[0])) as Awaited<ReturnType<typeof loader>>;
    expect(data.resources.items.map((r) => r.uri)).toEqual(['demo://one']);
    expect(data.resources.nextCursor).toBeUndefined();
    expect(data.resourcesError).toBeUndefined();
    expect(data.templates.items).toEqual([]);
    expect(data.templatesError).toMatch(/Method not found/);
  });
});
