/**
 * The MCP requests the pages make, and the reading of their results.
 */
import type {
  CallToolResult,
  GetPromptResult,
  Prompt,
  ReadResourceResult,
  Resource,
  ResourceTemplateType as ResourceTemplate,
  Tool,
} from '@modelcontextprotocol/client';
import { z } from 'zod';
import { findInList, type ListItems, ListSearchError, type LoadedList, loadFirstPage, loadNextPage } from './listPages';
import { cachedList, extendCachedList, type ListKind, type McpClient, peekCachedList, type ServerFacts, serverFacts, withClient } from './mcp';

export type { CallToolResult, GetPromptResult, ListKind, LoadedList, Prompt, ReadResourceResult, Resource, ResourceTemplate, ServerFacts, Tool };

/**
 * The list pages (tools, resources, templates, prompts) show a list page by page, as loaded so far
 * (listPages.ts), kept with the connection until the server says the list changed. The functions below
 * that give a whole list are the SDK's aggregate of all pages, which stops at its page cap (64) with an
 * error: the servers page and the resource page (for a title) use them. A server that declares no such
 * capability gets an empty list without a request either way.
 */

/** The pages of a list loaded so far on this page's connection; the first page when none is. */
export function getListPages<K extends ListKind>(server: string, kind: K): Promise<LoadedList<K>> {
  return cachedList(server, `${kind} pages`, (client) => loadFirstPage(client, kind));
}

/** The list with its next page added (and kept, unless the server changed the list meanwhile). */
export function getNextListPage<K extends ListKind>(server: string, list: LoadedList<K>): Promise<LoadedList<K>> {
  return extendCachedList(server, `${list.kind} pages`, list, (client) => loadNextPage(client, list));
}

/**
 * One tool, for its page. Tools are special: the SDK validates a call's structured result against the
 * tool's `outputSchema`, and mirrors its `x-mcp-header` parameters into headers (2026-07-28, outside
 * browsers), taking the definition from its own aggregate tools list — which a server with more pages
 * than the SDK's cap never completes. So the definition comes from the pages instead: those already
 * loaded (the tool the person clicked on is there), else page after page until it turns up (bounded),
 * and every call passes it along (`toolDefinition`, runCall.ts), so that a tool found on the 70th page
 * is validated and mirrored from its own definition like any other.
 */
export function findTool(server: string, name: string): Promise<Tool | undefined> {
  return findListed(server, 'tools', (tool) => tool.name === name);
}

/** One prompt, for its page: from the pages loaded so far, else page after page (bounded), like a tool. */
export function findPrompt(server: string, name: string): Promise<Prompt | undefined> {
  return findListed(server, 'prompts', (prompt) => prompt.name === name);
}

async function findListed<K extends 'tools' | 'prompts'>(server: string, kind: K, matches: (item: ListItems[K]) => boolean): Promise<ListItems[K] | undefined> {
  const loaded = await getListPages(server, kind);
  const clicked = loaded.items.find(matches);
  if (clicked) return clicked;
  // What was loaded on the way is kept for the list's page too.
  const keep = (list: LoadedList<K>) => (list === loaded ? undefined : extendCachedList(server, `${kind} pages`, loaded, async () => list));
  try {
    const { item, list } = await withClient(server, (client) => findInList(client, loaded, matches));
    await keep(list);
    return item;
  } catch (error) {
    if (error instanceof ListSearchError) await keep(error.list as LoadedList<K>);
    throw error;
  }
}

/** How a resource is listed, for its title: from the pages loaded so far, else the SDK's whole list. */
export async function findListedResource(server: string, uri: string): Promise<Resource | undefined> {
  const loaded = await peekCachedList<LoadedList<'resources'>>(server, 'resources pages')?.catch(() => undefined);
  const listed = loaded?.items.find((resource) => resource.uri === uri);
  if (listed) return listed;
  return (await getResources(server).catch((): Resource[] => [])).find((resource) => resource.uri === uri);
}

export type ListItem<K extends ListKind> = ListItems[K];

/** tools/list, every page; tools with invalid `x-mcp-header` annotations are left out (2026-07-28). */
export async function listAllTools(client: McpClient, signal?: AbortSignal): Promise<Tool[]> {
  return (await client.listTools(undefined, signal ? { signal } : undefined)).tools;
}

export function getTools(server: string): Promise<Tool[]> {
  return cachedList(server, 'tools', (client) => listAllTools(client));
}

export function getResources(server: string): Promise<Resource[]> {
  return cachedList(server, 'resources', async (client) => (await client.listResources()).resources);
}

export function getPrompts(server: string): Promise<Prompt[]> {
  return cachedList(server, 'prompts', async (client) => (await client.listPrompts()).prompts);
}

/**
 * Requests that may wait on the person (a form, a URL to confirm, a reply to write, in either
 * protocol era) get this long before the client gives up; the person can cancel sooner.
 */
export const PERSON_TIMEOUT_MS = 10 * 60_000;

export function readResource(server: string, uri: string, signal?: AbortSignal): Promise<ReadResourceResult> {
  return withClient(server, (client) => client.readResource({ uri }, { signal, timeout: PERSON_TIMEOUT_MS }));
}

export function getPrompt(server: string, name: string, args: Record<string, string>): Promise<GetPromptResult> {
  // A prompt may ask the person for input on the way (elicitation): no short timeout while they answer.
  return withClient(server, (client) => client.getPrompt({ name, arguments: args }, { timeout: PERSON_TIMEOUT_MS }));
}

const WhoAmISchema = z.looseObject({
  sub: z.string(),
  scopes: z.union([z.array(z.string()), z.string()]).optional(),
  clientId: z.string().optional(),
});
export type WhoAmI = z.infer<typeof WhoAmISchema>;

/** Reads the `whoami` tool's answer: structuredContent, else JSON in its first text content. */
export function parseWhoAmI(result: CallToolResult): WhoAmI | undefined {
  if (result.isError) return undefined;
  const structured = WhoAmISchema.safeParse(result.structuredContent);
  if (structured.success) return structured.data;
  for (const item of result.content) {
    if (item.type !== 'text') continue;
    try {
      const parsed = WhoAmISchema.safeParse(JSON.parse(item.text));
      if (parsed.success) return parsed.data;
    } catch {
      // Not JSON; try the next item.
    }
  }
  return undefined;
}

export interface ServerDetails {
  facts: ServerFacts;
  tools: Tool[];
  /** Undefined when the server has no `whoami` tool or its answer could not be read. */
  whoami: WhoAmI | undefined;
}

/** For the servers page: what the server is, its tools, and who the person is there. */
export async function loadServerDetails(server: string): Promise<ServerDetails> {
  const [facts, tools] = await Promise.all([serverFacts(server), getTools(server)]);
  const whoami = tools.some((tool) => tool.name === 'whoami' && !hasRequiredArguments(tool))
    ? await withClient(server, (client) => client.callTool({ name: 'whoami', arguments: {} }))
        .then((result) => parseWhoAmI(result as CallToolResult))
        .catch(() => undefined)
    : undefined;
  return { facts, tools, whoami };
}

function hasRequiredArguments(tool: Tool): boolean {
  return Array.isArray(tool.inputSchema.required) && tool.inputSchema.required.length > 0;
}
