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

/** @param header reads one request header by lower-case name. */
export function upstreamRequestHeaders(header: (name: string) => string | undefined, accessToken: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of REQUEST_HEADERS) {
    const value = header(name);
    if (value !== undefined && value.length <= MAX_HEADER_LENGTH) out[name] = value;
  }
  if (accessToken) out.authorization = `Bearer ${accessToken}`;
  return out;
}

/** Node's view of response headers: lower-case names, repeated ones as arrays. */
export type NodeHeaders = Record<string, string | string[] | undefined>;

export function headerValue(headers: NodeHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

export function downstreamResponseHeaders(upstream: NodeHeaders, status: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of RESPONSE_HEADERS) {
    const value = headerValue(upstream, name);
    if (value !== undefined) out[name] = value;
  }
  // The body passes through untouched, so its length holds; with it the browser's answer is not
  // chunked, and a JSON answer goes out in one write instead of two.
  // Not on 204 and 304, which have no body whatever the header says.
  const length = upstream['content-length'];
  if (typeof length === 'string' && /^\d{1,15}$/.test(length) && status !== 204 && status !== 304) out['content-length'] = length;
  if (out['content-type']?.startsWith('text/event-stream')) {
    out['cache-control'] = 'no-cache, no-transform';
    // Tells an nginx in front not to buffer the stream.
    out['x-accel-buffering'] = 'no';
  } else {
    out['cache-control'] = 'no-store';
  }
  return out;
}
