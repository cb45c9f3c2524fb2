/**
 * The MCP requests the pages make, and the reading of their results.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type {
  CallToolResult,
  GetPromptResult,
  Prompt,
  ReadResourceResult,
  Resource,
  ResourceTemplate,
  Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { cachedList, type ServerFacts, serverFacts, withClient } from './mcp';

export type { CallToolResult, GetPromptResult, Prompt, ReadResourceResult, Resource, ResourceTemplate, ServerFacts, Tool };

/** Follows nextCursor, bounded in case a server keeps handing out cursors. */
async function allPages<T>(fetchPage: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor?: string | undefined }>): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 50; page++) {
    const result = await fetchPage(cursor);
    items.push(...result.items);
    cursor = result.nextCursor;
    if (cursor === undefined) break;
  }
  return items;
}

const params = (cursor: string | undefined) => (cursor === undefined ? {} : { cursor });

/** tools/list, every page. */
export async function listAllTools(client: Client, signal?: AbortSignal): Promise<Tool[]> {
  return allPages(async (cursor) => {
    const result = await client.listTools(params(cursor), { signal });
    return { items: result.tools, nextCursor: result.nextCursor };
  });
}

export function getTools(server: string): Promise<Tool[]> {
  return cachedList(server, 'tools', async (client) => (client.getServerCapabilities()?.tools ? listAllTools(client) : []));
}

export function getResources(server: string): Promise<Resource[]> {
  return cachedList(server, 'resources', async (client) =>
    client.getServerCapabilities()?.resources
      ? allPages(async (cursor) => {
          const result = await client.listResources(params(cursor));
          return { items: result.resources, nextCursor: result.nextCursor };
        })
      : [],
  );
}

export function getResourceTemplates(server: string): Promise<ResourceTemplate[]> {
  return cachedList(server, 'resourceTemplates', async (client) =>
    client.getServerCapabilities()?.resources
      ? allPages(async (cursor) => {
          const result = await client.listResourceTemplates(params(cursor));
          return { items: result.resourceTemplates, nextCursor: result.nextCursor };
        })
      : [],
  );
}

export function getPrompts(server: string): Promise<Prompt[]> {
  return cachedList(server, 'prompts', async (client) =>
    client.getServerCapabilities()?.prompts
      ? allPages(async (cursor) => {
          const result = await client.listPrompts(params(cursor));
          return { items: result.prompts, nextCursor: result.nextCursor };
        })
      : [],
  );
}

export function readResource(server: string, uri: string, signal?: AbortSignal): Promise<ReadResourceResult> {
  return withClient(server, (client) => client.readResource({ uri }, { signal }));
}

export function getPrompt(server: string, name: string, args: Record<string, string>): Promise<GetPromptResult> {
  return withClient(server, (client) => client.getPrompt({ name, arguments: args }));
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
