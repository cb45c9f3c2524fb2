import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Answer, startFakeLegacyApp } from './fake-legacy-server.js';

/**
 * The pages' list calls (web/src/calls.ts), in Node through the real BFF, against a server whose paging
 * goes wrong in ways the demo server's does not: it hands out the same cursor for ever, its tool pages
 * never end, its cursor is not a string, it refuses a cursor it gave. Each is bounded and says what
 * happened; nothing hangs. A fake MCP server (2025-11-25, no authorization), for faults only.
 */

let app: { origin: string; close(): Promise<void> };
const requests: Record<string, number> = {};

function list(method: string, cursor: string | undefined): Answer {
  if (method === 'resources/list') {
    // Every cursor leads to the same cursor again.
    return { result: { resources: [{ uri: `demo://${cursor ?? 'first'}`, name: 'item' }], nextCursor: 'round' } };
  }
  if (method === 'tools/list') {
    // A new cursor every time, for ever.
    const n = cursor === undefined ? 0 : Number(cursor.slice(1));
    return { result: { tools: [{ name: `tool-${n}`, inputSchema: { type: 'object' } }], nextCursor: `c${n + 1}` } };
  }
  if (method === 'prompts/list') return { result: { prompts: [{ name: 'one' }], nextCursor: 42 } };
  if (method === 'resources/templates/list') {
    return cursor === undefined
      ? { result: { resourceTemplates: [{ uriTemplate: 'demo://t/{id}', name: 't' }], nextCursor: 'gone' } }
      : { error: { code: -32602, message: 'Invalid cursor' } };
  }
  return { error: { code: -32601, message: 'Method not found' } };
}

beforeAll(async () => {
  app = await startFakeLegacyApp({
    name: 'looping',
    capabilities: { resources: {}, tools: {}, prompts: {} },
    answer: (method, params) => {
      requests[method] = (requests[method] ?? 0) + 1;
      return list(method, params?.cursor);
    },
  });
});
afterAll(() => app.close());

describe('paging that goes wrong', () => {
  it('a cursor handed out again stops the list there, with the reason, and the next pages it had', async () => {
    const { getListPages, getNextListPage } = await import('../src/calls.js');
    const first = await getListPages('default', 'resources');
    expect(first.nextCursor).toBe('round');
    const second = await getNextListPage('default', first);
    expect(second.items.map((r) => r.uri)).toEqual(['demo://first', 'demo://round']);
    expect(second.nextCursor).toBeUndefined();
    expect(second.stopped).toMatch(/already given/);
    // What the page comes back to is the list as far as it went, not another round.
    expect(await getListPages('default', 'resources')).toBe(second);
    expect(await getNextListPage('default', second)).toBe(second);
    expect(requests['resources/list']).toBe(2);
  });

  it('a tool looked for on pages that never end is given up on, saying so', async () => {
    const { findTool, getListPages } = await import('../src/calls.js');
    await expect(findTool('default', 'tool-3')).resolves.toMatchObject({ name: 'tool-3' });
    const before = requests['tools/list'] ?? 0;
    await expect(findTool('default', 'no-such-tool')).rejects.toThrow(/Looked through \d+ pages/);
    expect((requests['tools/list'] ?? 0) - before).toBe(200);
    // What was loaded on the way is there for the tools page.
    expect((await getListPages('default', 'tools')).items.length).toBeGreaterThan(200);
  });

  it('a cursor that is not a string fails the page with the reason', async () => {
    const { getListPages } = await import('../src/calls.js');
    await expect(getListPages('default', 'prompts')).rejects.toThrow(/nextCursor/);
  });

  it('a cursor the server refuses fails that page only; what is loaded stays', async () => {
    const { getListPages, getNextListPage } = await import('../src/calls.js');
    const first = await getListPages('default', 'resourceTemplates');
    await expect(getNextListPage('default', first)).rejects.toThrow(/Invalid cursor/);
    expect(await getListPages('default', 'resourceTemplates')).toBe(first);
  });
});
