/** The protocol revisions the bench measures: the session era's and the stateless one's. */
export type Era = '2025-11-25' | '2026-07-28';
export const LEGACY: Era = '2025-11-25';
export const MODERN: Era = '2026-07-28';
export const ERAS: readonly Era[] = [LEGACY, MODERN];

/** The request headers of the SPA's MCP calls (the BFF adds X-CSRF and the cookie). */
export const MCP_HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': LEGACY,
};

/** The measured call: `tools/call` of `echo`. */
export const ECHO = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { message: 'hello from pnpm bench' } } });

/**
 * The same call as a 2026-07-28 client sends it: no MCP session, the method and tool name mirrored in
 * headers (Streamable HTTP, "Standard Headers"), which the BFF checks before forwarding.
 */
export const MCP_HEADERS_MODERN = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': MODERN,
  'mcp-method': 'tools/call',
  'mcp-name': 'echo',
};

/**
 * The same echo (same message, same answer) with the per-request `_meta` envelope that replaces
 * initialize; the envelope makes the body ~180 bytes longer, still one small JSON object.
 */
export const ECHO_MODERN = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: {
    name: 'echo',
    arguments: { message: 'hello from pnpm bench' },
    _meta: {
      'io.modelcontextprotocol/protocolVersion': MODERN,
      'io.modelcontextprotocol/clientInfo': { name: 'pnpm-bench', version: '1' },
      'io.modelcontextprotocol/clientCapabilities': {},
    },
  },
});

/** The measured call's headers and body in each era. */
export const MEASURED: Record<Era, { headers: Record<string, string>; body: string }> = {
  [LEGACY]: { headers: MCP_HEADERS, body: ECHO },
  [MODERN]: { headers: MCP_HEADERS_MODERN, body: ECHO_MODERN },
};
