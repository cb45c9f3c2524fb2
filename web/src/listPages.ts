/**
 * Long lists, one page at a time (MCP pagination: the server's `nextCursor` goes back as `cursor`).
 * The pages show what is loaded and offer the next page; nothing is capped or dropped without a word.
 *
 * The SDK's list methods, called without a cursor, walk every page themselves and give up past a page
 * cap (64): fine for a handful of pages, a failed page for a server with hundreds. So the first page is
 * asked for with a plain request, and the next ones through the SDK's per-page path (`listX({ cursor })`),
 * which for tools also leaves out definitions with invalid `x-mcp-header` declarations (2026-07-28). The
 * SDK has no per-page path for the first page, so such a tool there is listed; calling it sends its
 * definition (runCall.ts), which the SDK checks again, so it goes without mirrored headers.
 *
 * A server that hands out a cursor it has already given (it would list the same pages again, for ever)
 * is stopped at once, with the reason kept on the list; an item a page repeats is shown once.
 */
import type { Prompt, Resource, ResourceTemplateType as ResourceTemplate, Tool } from '@modelcontextprotocol/client';
import type { ListKind } from './mcp';

export type { ListKind };
import type { McpClient } from './mcp-connect';

export interface ListItems {
  tools: Tool;
  resources: Resource;
  resourceTemplates: ResourceTemplate;
  prompts: Prompt;
}

/** What is loaded of one list. */
export interface LoadedList<K extends ListKind> {
  readonly kind: K;
  readonly items: readonly ListItems[K][];
  /** Where the next page starts; undefined once the server has said there is no more, or paging stopped. */
  readonly nextCursor: string | undefined;
  /** Cursors sent so far, to notice a server that would go round in circles. */
  readonly cursorsSent: readonly string[];
  /** Pages received. */
  readonly pages: number;
  /** Why paging stopped before the server said the list was complete. */
  readonly stopped?: string | undefined;
}

export interface ListPage<K extends ListKind> {
  items: ListItems[K][];
  nextCursor?: string | undefined;
}

/** What identifies an item within its list: an item a page repeats is shown once. */
export const itemKey: { [K in ListKind]: (item: ListItems[K]) => string } = {
  tools: (tool) => tool.name,
  prompts: (prompt) => prompt.name,
  resources: (resource) => resource.uri,
  resourceTemplates: (template) => template.uriTemplate,
};

interface PageOptions {
  signal?: AbortSignal | undefined;
}

/** The server's lists it declared no capability for are empty, without a request (as the SDK does). */
function declares(client: McpClient, kind: ListKind): boolean {
  const capabilities = client.getServerCapabilities();
  if (kind === 'tools') return capabilities?.tools !== undefined;
  if (kind === 'prompts') return capabilities?.prompts !== undefined;
  return capabilities?.resources !== undefined;
}

const requestPage: { [K in ListKind]: (client: McpClient, cursor: string | undefined, options: PageOptions) => Promise<ListPage<K>> } = {
  async tools(client, cursor, options) {
    const page = cursor === undefined ? await client.request({ method: 'tools/list', params: {} }, options) : await client.listTools({ cursor }, options);
    return { items: page.tools, nextCursor: page.nextCursor };
  },
  async prompts(client, cursor, options) {
    const page =
      cursor === undefined ? await client.request({ method: 'prompts/list', params: {} }, options) : await client.listPrompts({ cursor }, options);
    return { items: page.prompts, nextCursor: page.nextCursor };
  },
  async resources(client, cursor, options) {
    const page =
      cursor === undefined ? await client.request({ method: 'resources/list', params: {} }, options) : await client.listResources({ cursor }, options);
    return { items: page.resources, nextCursor: page.nextCursor };
  },
  async resourceTemplates(client, cursor, options) {
    const page =
      cursor === undefined
        ? await client.request({ method: 'resources/templates/list', params: {} }, options)
        : await client.listResourceTemplates({ cursor }, options);
    return { items: page.resourceTemplates, nextCursor: page.nextCursor };
  },
};

/** One page of a list: the first without a cursor, the next ones with the cursor the server gave. */
export async function requestListPage<K extends ListKind>(
  client: McpClient,
  kind: K,
  cursor: string | undefined,
  options: PageOptions = {},
): Promise<ListPage<K>> {
  if (!declares(client, kind)) return { items: [] };
  return (requestPage[kind] as (client: McpClient, cursor: string | undefined, options: PageOptions) => Promise<ListPage<K>>)(client, cursor, options);
}

export function emptyList<K extends ListKind>(kind: K): LoadedList<K> {
  return { kind, items: [], nextCursor: undefined, cursorsSent: [], pages: 0 };
}

/** `list` with one more page, received for `sent` (undefined for the first page). */
export function appendPage<K extends ListKind>(list: LoadedList<K>, page: ListPage<K>, sent: string | undefined): LoadedList<K> {
  const keyOf = itemKey[list.kind] as (item: ListItems[K]) => string;
  const seen = new Set(list.items.map(keyOf));
  const added = page.items.filter((item) => {
    const key = keyOf(item);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const cursorsSent = sent === undefined ? list.cursorsSent : [...list.cursorsSent, sent];
  const pages = list.pages + 1;
  const next = page.nextCursor;
  const loops = next !== undefined && cursorsSent.includes(next);
  return {
    kind: list.kind,
    items: added.length === 0 ? list.items : [...list.items, ...added],
    nextCursor: loops ? undefined : next,
    cursorsSent,
    pages,
    stopped: loops
      ? `The server gave a cursor for page ${pages + 1} that it had already given, so the list would repeat from there; stopped after ${pages} pages.`
      : list.stopped,
  };
}

export async function loadFirstPage<K extends ListKind>(client: McpClient, kind: K, options: PageOptions = {}): Promise<LoadedList<K>> {
  return appendPage(emptyList(kind), await requestListPage(client, kind, undefined, options), undefined);
}

/** `list` with its next page; `list` itself when the server has no more. */
export async function loadNextPage<K extends ListKind>(client: McpClient, list: LoadedList<K>, options: PageOptions = {}): Promise<LoadedList<K>> {
  const cursor = list.nextCursor;
  if (cursor === undefined) return list;
  return appendPage(list, await requestListPage(client, list.kind, cursor, options), cursor);
}

/** How many pages a search through a list may ask for before it gives up (each Load more is one page). */
export const MAX_SEARCH_PAGES = 200;

export class ListSearchError<K extends ListKind = ListKind> extends Error {
  constructor(
    readonly code: 'too_many_pages',
    message: string,
    /** The list as far as the search loaded it. */
    readonly list: LoadedList<K>,
  ) {
    super(message);
    this.name = 'ListSearchError';
  }
}

/**
 * The first item of the list that `wanted` picks, loading further pages until one has it or the list
 * ends; the list as far as it was loaded comes back too. Bounded: a server whose pages never end
 * fails it after `maxPages` pages, saying so.
 */
export async function findInList<K extends ListKind>(
  client: McpClient,
  start: LoadedList<K>,
  wanted: (item: ListItems[K]) => boolean,
  options: PageOptions & { maxPages?: number } = {},
): Promise<{ item: ListItems[K] | undefined; list: LoadedList<K> }> {
  const maxPages = options.maxPages ?? MAX_SEARCH_PAGES;
  let list = start.pages === 0 ? await loadFirstPage(client, start.kind, options) : start;
  let checked = 0;
  for (let asked = start.pages === 0 ? 1 : 0; ; asked++) {
    const item = list.items.slice(checked).find(wanted);
    if (item !== undefined || list.nextCursor === undefined) return { item, list };
    if (asked >= maxPages) {
      throw new ListSearchError(
        'too_many_pages',
        `Looked through ${list.pages} pages of the list without finding it; the server has more, stopped there.`,
        list,
      );
    }
    checked = list.items.length;
    list = await loadNextPage(client, list, options);
  }
}
