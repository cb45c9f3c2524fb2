/**
 * Which headers cross the proxy. Allowlists both ways: the browser's Cookie and Authorization never go
 * upstream, the MCP server's Set-Cookie and hop-by-hop headers never come back.
 */
export const REQUEST_HEADERS = [
  'content-type',
  'accept',
  'mcp-session-id',
  'mcp-protocol-version',
  'last-event-id',
  // 2026-07-28 revision request headers.
  'mcp-method',
  'mcp-name',
] as const;

export const RESPONSE_HEADERS = ['content-type', 'mcp-session-id', 'mcp-protocol-version', 'cache-control'] as const;

const MAX_HEADER_LENGTH = 1024;

/** Mcp-Session-Id: visible ASCII (0x21–0x7E), bounded (MCP transport spec). */
export function isValidMcpSessionId(value: string): boolean {
  return value.length > 0 && value.length <= 256 && /^[\x21-\x7E]+$/.test(value);
}

export function upstreamRequestHeaders(incoming: Headers, accessToken: string | undefined): Headers {
  const out = new Headers();
  for (const name of REQUEST_HEADERS) {
    const value = incoming.get(name);
    if (value !== null && value.length <= MAX_HEADER_LENGTH) out.set(name, value);
  }
  if (accessToken) out.set('authorization', `Bearer ${accessToken}`);
  return out;
}

export function downstreamResponseHeaders(upstream: Headers): Headers {
  const out = new Headers();
  for (const name of RESPONSE_HEADERS) {
    const value = upstream.get(name);
    if (value !== null) out.set(name, value);
  }
  if (out.get('content-type')?.startsWith('text/event-stream')) {
    out.set('cache-control', 'no-cache, no-transform');
    // Tells an nginx in front not to buffer the stream.
    out.set('x-accel-buffering', 'no');
  } else {
    out.set('cache-control', 'no-store');
  }
  return out;
}
