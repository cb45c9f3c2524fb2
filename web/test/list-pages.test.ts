import type { FetchLike, Tool } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestBrowser } from '../../bff/test/support.js';
import type { ListOptions } from '../../demo/src/mcp-lists.js';
import { type Stack, startStack } from '../../demo/src/stack.js';
import {
  appendPage,
  emptyList,
  findInList,
  type ListKind,
  ListSearchError,
  type LoadedList,
  loadFirstPage,
  loadNextPage,
  requestListPage,
} from '../src/listPages.js';
import { type Connected, connectMcp, type InputHandlers } from '../src/mcp-connect.js';

/**
 * Long lists page by page (web/src/listPages.ts), through the real BFF, against the real demo MCP server
 * serving its lists in pages (demo/src/mcp-lists.ts), in both protocol eras: every one of 600 resources
 * is reached and none is dropped or repeated; a tool found on a later page is called and its structured
 * result checked against its own definition; a cursor the server did not give is refused, and a server
 * that hands out a cursor again is stopped.
 */

const BULK = 600;
const setups = { bulk: { pageSize: 50, bulkResources: BULK }, smallPages: { pageSize: 1 }, onePage: undefined } satisfies Record<
  string,
  ListOptions | undefined
>;
type Setup = keyof typeof setups;
const stacks = new Map<Setup, { stack: Stack; browser: TestBrowser }>();

const nobody: InputHandlers = {
  elicit: async () => ({ action: 'decline' }),
  sample: async () => {
    throw new Error('no sampling here');
  },
};

beforeAll(async () => {
  for (const [setup, lists] of Object.entries(setups) as Array<[Setup, ListOptions | undefined]>) {
    const stack = await startStack(lists ? { mcpLists: lists } : {});
    const browser = new TestBrowser(stack.appUrl);
    await browser.login({ user: 'alice' });
    stacks.set(setup, { stack, browser });
  }
}, 60_000);
afterAll(async () => {
  await Promise.all([...stacks.values()].map(({ stack }) => stack.close()));
});

async function connect(setup: Setup, protocol: '2026-07-28' | '2025-11-25'): Promise<Connected> {
  const { stack, browser } = stacks.get(setup) ?? {};
  if (!stack || !browser) throw new Error(`no stack for ${setup}`);
  const fetch: FetchLike = (url, init) => browser.request(new URL(url).pathname, { ...init, csrf: true });
  return connectMcp({ url: new URL('/mcp/default', stack.appUrl), fetch, protocol, input: nobody });
}

async function loadAll<K extends ListKind>(connected: Connected, kind: K): Promise<LoadedList<K>> {
  let list = await loadFirstPage(connected.client, kind);
  while (list.nextCursor !== undefined) list = await loadNextPage(connected.client, list);
  return list;
}

describe.each(['2026-07-28', '2025-11-25'] as const)('MCP %s', (protocol) => {
  it('reaches every one of 600 resources, 50 a page, none dropped or repeated', async () => {
    const connected = await connect('bulk', protocol);
    try {
      const first = await loadFirstPage(connected.client, 'resources');
      expect(first.items).toHaveLength(50);
      expect(first.nextCursor).toEqual(expect.any(String));

      const list = await loadAll(connected, 'resources');
      const uris = list.items.map((r) => r.uri);
      expect(new Set(uris).size).toBe(uris.length);
      for (let n = 1; n <= BULK; n++) expect(uris).toContain(`demo://bulk/${n}`);
      expect(uris).toEqual(expect.arrayContaining(['demo://readme', 'demo://counter', 'demo://swatch.png', 'demo://badge.svg']));
      expect(list.pages).toBe(Math.ceil(uris.length / 50));
      expect(list.stopped).toBeUndefined();

      // The same as the SDK's own walk through every page (13 pages: under its cap of 64).
      const { resources } = await connected.client.listResources();
      expect(resources.map((r) => r.uri)).toEqual(uris);

      // Each is there to be read.
      const read = await connected.client.readResource({ uri: `demo://bulk/${BULK}` });
      expect(read.contents[0]).toMatchObject({ text: `Bulk resource ${BULK} of ${BULK}.` });
    } finally {
      await connected.client.close();
    }
  });

  it('pages hold exactly what the server lists in one page', async () => {
    const paged = await connect('smallPages', protocol);
    const whole = await connect('onePage', protocol);
    try {
      for (const kind of ['tools', 'prompts', 'resources', 'resourceTemplates'] as const) {
        const pages = await loadAll(paged, kind);
        const one = await loadFirstPage(whole.client, kind);
        expect(one.nextCursor, kind).toBeUndefined();
        expect(pages.items, kind).toEqual(one.items);
      }
      expect((await loadFirstPage(paged.client, 'tools')).items).toHaveLength(1);
    } finally {
      await Promise.all([paged.client.close(), whole.client.close()]);
    }
  });

  it('a tool found on a later page is called, and its result checked against its own output schema', async () => {
    const connected = await connect('smallPages', protocol);
    try {
      const { item: divide, list } = await findInList(connected.client, emptyList('tools'), (tool) => tool.name === 'divide');
      expect(divide?.outputSchema).toBeDefined();
      expect(list.pages).toBeGreaterThan(1);
      const definition = divide as Tool;

      const result = await connected.client.callTool({ name: 'divide', arguments: { dividend: 1, divisor: 4 } }, { toolDefinition: definition });
      expect(result.structuredContent).toEqual({ quotient: 0.25 });

      // The definition passed is the one the result is checked against (not some cached list).
      const otherSchema: Tool = {
        ...definition,
        outputSchema: { type: 'object', properties: { ratio: { type: 'number' } }, required: ['ratio'] },
      };
      await expect(
        connected.client.callTool({ name: 'divide', arguments: { dividend: 1, divisor: 4 } }, { toolDefinition: otherSchema }),
      ).rejects.toThrow(/output schema/);
    } finally {
      await connected.client.close();
    }
  });

  it('a prompt found on a later page is the one the server lists last', async () => {
    const connected = await connect('smallPages', protocol);
    try {
      const all = await loadAll(connected, 'prompts');
      const last = all.items.at(-1);
      expect(all.pages).toBeGreaterThan(1);
      const { item, list } = await findInList(connected.client, emptyList('prompts'), (prompt) => prompt.name === last?.name);
      expect(item).toEqual(last);
      expect(list.pages).toBe(all.pages);
    } finally {
      await connected.client.close();
    }
  });

  it('a search through the pages is bounded, and says so', async () => {
    const connected = await connect('bulk', protocol);
    try {
      const search = findInList(connected.client, emptyList('resources'), (r) => r.uri === 'demo://nowhere', { maxPages: 3 });
      await expect(search).rejects.toBeInstanceOf(ListSearchError);
      await expect(search).rejects.toThrow(/Looked through 3 pages/);
      // Without a bound it reaches the end and finds nothing, which is no error.
      const { item, list } = await findInList(connected.client, emptyList('resources'), (r) => r.uri === 'demo://nowhere');
      expect(item).toBeUndefined();
      expect(list.nextCursor).toBeUndefined();
    } finally {
      await connected.client.close();
    }
  });

  it('a cursor the server never gave is refused with invalid params', async () => {
    const connected = await connect('bulk', protocol);
    try {
      const made = Buffer.from('offset:999999').toString('base64url');
      for (const cursor of ['not a cursor', made, '']) {
        await expect(requestListPage(connected.client, 'resources', cursor)).rejects.toThrow(/Invalid cursor/);
      }
    } finally {
      await connected.client.close();
    }
  });
});

describe('a server that hands out a cursor again', () => {
  const page = (uris: string[], nextCursor?: string) => ({ items: uris.map((uri) => ({ uri, name: uri })), nextCursor });

  it('is stopped at once, with the reason; what it repeats is shown once', () => {
    let list = appendPage(emptyList('resources'), page(['a', 'b'], 'c1'), undefined);
    list = appendPage(list, page(['c', 'd'], 'c2'), 'c1');
    expect(list.nextCursor).toBe('c2');
    // The third page names the second page's cursor again: the list would go round for ever.
    list = appendPage(list, page(['c', 'd', 'e'], 'c1'), 'c2');
    expect(list.items.map((r) => r.uri)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(list.nextCursor).toBeUndefined();
    expect(list.stopped).toMatch(/already given.*stopped after 3 pages/);
  });

  it('also when it answers a cursor with that same cursor', () => {
    const first = appendPage(emptyList('tools'), { items: [], nextCursor: 'same' }, undefined);
    const second = appendPage(first, { items: [], nextCursor: 'same' }, 'same');
    expect(second.nextCursor).toBeUndefined();
    expect(second.stopped).toMatch(/already given/);
  });
});
