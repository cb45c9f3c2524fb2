/**
 * The configured name of each server, as /bff/session last said, for what the page shows about a
 * server outside its own pages (the input dialog). Kept apart from mcp.ts so that the layout does not
 * pull the MCP SDK into the entry chunk.
 */
const names = new Map<string, string>();

export function noteServerName(server: string, name: string): void {
  names.set(server, name);
}

/** The server's configured name (its id until the session has been read). */
export function serverName(server: string): string {
  return names.get(server) ?? server;
}
