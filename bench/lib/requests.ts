/** The request headers of the SPA's MCP calls (the BFF adds X-CSRF and the cookie). */
export const MCP_HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2025-11-25',
};

/** The measured call: `tools/call` of `echo`. */
export const ECHO = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'hello from pnpm bench' } } });
