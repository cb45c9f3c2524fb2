import { McpServer, ProtocolError, ProtocolErrorCode, ResourceNotFoundError, ResourceTemplate } from '@modelcontextprotocol/server';

/**
 * Long lists, for clients that must show every item of one: the demo's tools, prompts, resources and
 * resource templates served in pages (MCP pagination: `cursor` in, `nextCursor` out), and any number of
 * made-up resources to page through.
 *
 * The SDK's McpServer answers each list in one page. It installs its list handlers through the
 * low-level server's public `setRequestHandler`, in its constructor for the capabilities declared there
 * and otherwise when the first tool, resource or prompt is registered. `createMcpServerInPages` holds
 * the list capabilities back from the constructor, wraps `setRequestHandler`, then declares them: each
 * handler is wrapped as it is installed, so the pages hold exactly what McpServer would list.
 */

export interface ListOptions {
  /** Items per page of every list (default: everything in one page, as McpServer answers). */
  pageSize?: number;
  /** How many made-up resources (demo://bulk/1 …) to add to the resource list (default none). */
  bulkResources?: number;
}

/** Checks the options at the edge, naming the bad one. */
export function checkListOptions(options: ListOptions): void {
  const { pageSize, bulkResources } = options;
  if (pageSize !== undefined && (!Number.isSafeInteger(pageSize) || pageSize < 1)) {
    throw new Error(`"pageSize" must be a whole number of at least 1, got ${pageSize}`);
  }
  if (bulkResources !== undefined && (!Number.isSafeInteger(bulkResources) || bulkResources < 0 || bulkResources > 100_000)) {
    throw new Error(`"bulkResources" must be a whole number from 0 to 100000, got ${bulkResources}`);
  }
}

const LIST_FIELDS: Record<string, string> = {
  'tools/list': 'tools',
  'prompts/list': 'prompts',
  'resources/list': 'resources',
  'resources/templates/list': 'resourceTemplates',
};

type ListHandler = (request: { params?: { cursor?: string } }, ctx: unknown) => unknown;
type SetRequestHandler = (method: string, ...rest: unknown[]) => void;

/** Cursors are opaque to clients; here they are the offset of the page, so a made-up one is noticed. */
function encodeCursor(offset: number): string {
  return Buffer.from(`offset:${offset}`).toString('base64url');
}

function decodeCursor(cursor: string, length: number): number {
  const match = /^offset:(\d{1,9})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  const offset = match ? Number(match[1]) : Number.NaN;
  // An offset past the end is as invalid as garbage: no page of this list starts there.
  if (!(offset > 0 && offset < length)) {
    throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'Invalid cursor: it is not one this server gave out for this list');
  }
  return offset;
}

/** One page of `result[field]`, with the cursor of the next page when there is one. */
export function pageOf(result: Record<string, unknown>, field: string, cursor: string | undefined, pageSize: number): Record<string, unknown> {
  const items = result[field];
  if (!Array.isArray(items)) return result;
  const start = cursor === undefined ? 0 : decodeCursor(cursor, items.length);
  const end = start + pageSize;
  return { ...result, [field]: items.slice(start, end), ...(end < items.length ? { nextCursor: encodeCursor(end) } : {}) };
}

type McpServerArgs = ConstructorParameters<typeof McpServer>;

/** `new McpServer(info, options)`, answering its four lists in pages of `pageSize` when that is given. */
export function createMcpServerInPages(pageSize: number | undefined, info: McpServerArgs[0], options: NonNullable<McpServerArgs[1]>): McpServer {
  if (pageSize === undefined) return new McpServer(info, options);
  checkListOptions({ pageSize });
  const { tools, prompts, resources, ...others } = options.capabilities ?? {};
  const server = new McpServer(info, { ...options, capabilities: others });
  serveListsInPages(server, pageSize);
  server.server.registerCapabilities({ ...(tools && { tools }), ...(prompts && { prompts }), ...(resources && { resources }) });
  return server;
}

function serveListsInPages(server: McpServer, pageSize: number): void {
  const lowLevel = server.server;
  const install = lowLevel.setRequestHandler.bind(lowLevel) as SetRequestHandler;
  const paged: SetRequestHandler = (method, ...rest) => {
    const field = LIST_FIELDS[method];
    const [handler] = rest;
    if (field === undefined || rest.length !== 1 || typeof handler !== 'function') return install(method, ...rest);
    const list = handler as ListHandler;
    install(method, async (request: { params?: { cursor?: string } }, ctx: unknown) => {
      const result = (await list(request, ctx)) as Record<string, unknown>;
      return pageOf(result, field, request.params?.cursor, pageSize);
    });
  };
  lowLevel.setRequestHandler = paged as typeof lowLevel.setRequestHandler;
}

export const BULK_TEMPLATE = 'demo://bulk/{n}';

/** `count` made-up resources, demo://bulk/1 to demo://bulk/<count>, each readable. */
export function registerBulkResources(server: McpServer, count: number): void {
  checkListOptions({ bulkResources: count });
  if (count === 0) return;
  const resources = Array.from({ length: count }, (_, i) => ({
    uri: `demo://bulk/${i + 1}`,
    name: `bulk-${i + 1}`,
    title: `Bulk resource ${i + 1}`,
    mimeType: 'text/plain',
  }));
  server.registerResource(
    'bulk',
    new ResourceTemplate(BULK_TEMPLATE, { list: async () => ({ resources }) }),
    { title: 'Bulk resources', description: `${count} made-up resources, to page through.`, mimeType: 'text/plain' },
    async (uri, { n }) => {
      const index = Number(n);
      if (!(Number.isSafeInteger(index) && index >= 1 && index <= count && String(index) === String(n))) throw new ResourceNotFoundError(uri.href);
      return { contents: [{ uri: uri.href, mimeType: 'text/plain', text: `Bulk resource ${index} of ${count}.` }] };
    },
  );
}
