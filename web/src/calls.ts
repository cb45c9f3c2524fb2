/**
 * The MCP requests the pages make, and the reading of their results.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { withClient } from './mcp';

export type { CallToolResult, Tool };

/** tools/list, following nextCursor (bounded, in case a server keeps handing out cursors). */
export async function listAllTools(client: Client, signal?: AbortSignal): Promise<Tool[]> {
  const tools: Tool[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 50; page++) {
    const result = await client.listTools(cursor === undefined ? {} : { cursor }, { signal });
    tools.push(...result.tools);
    cursor = result.nextCursor;
    if (cursor === undefined) break;
  }
  return tools;
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
  tools: Tool[];
  /** Undefined when the server has no `whoami` tool or its answer could not be read. */
  whoami: WhoAmI | undefined;
}

export function loadServerDetails(server: string): Promise<ServerDetails> {
  return withClient(server, async (client) => {
    const tools = await listAllTools(client);
    const whoami = tools.some((tool) => tool.name === 'whoami')
      ? parseWhoAmI((await client.callTool({ name: 'whoami', arguments: {} })) as CallToolResult)
      : undefined;
    return { tools, whoami };
  });
}
