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
import { cachedList, type McpClient, type ServerFacts, serverFacts, withClient } from './mcp';

export type { CallToolResult, GetPromptResult, Prompt, ReadResourceResult, Resource, ResourceTemplate, ServerFacts, Tool };

/**
 * Every list is the SDK's aggregate of all pages (bounded by its page cap): the aggregate is also what
 * the client validates tool results against and mirrors `x-mcp-header` parameters from (2026-07-28),
 * and a server that declares no such capability gets an empty list without a request.
 */

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

export function getResourceTemplates(server: string): Promise<ResourceTemplate[]> {
  return cachedList(server, 'resourceTemplates', async (client) => (await client.listResourceTemplates()).resourceTemplates);
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
