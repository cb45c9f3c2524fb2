import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';

/**
 * Raw Streamable HTTP helpers for tests that must see the wire (status codes, headers, SSE timing)
 * rather than what an SDK client makes of it.
 */
export interface SseMessage {
  at: number;
  /** Which read of the response body delivered this message (0 = the first): messages buffered together share one. */
  read: number;
  data: Record<string, unknown>;
}

export function mcpHeaders(token: string | undefined, sessionId?: string): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
  };
  if (token) headers.authorization = `Bearer ${token}`;
  if (sessionId) {
    headers['mcp-session-id'] = sessionId;
    headers['mcp-protocol-version'] = LATEST_PROTOCOL_VERSION;
  }
  return headers;
}

export function mcpPost(url: string, token: string | undefined, body: unknown, sessionId?: string): Promise<Response> {
  return fetch(url, { method: 'POST', headers: mcpHeaders(token, sessionId), body: JSON.stringify(body) });
}

export const initializeRequest = (id: number | string = 1) => ({
  jsonrpc: '2.0',
  id,
  method: 'initialize',
  params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'demo-test', version: '0.0.0' } },
});

/**
 * Reads an SSE response to its end, timestamping each JSON-RPC message as it arrives. onMessage sees each
 * message as soon as it is parsed (with everything read so far), so a test can act in the middle of a stream.
 */
export async function readSse(res: Response, onMessage?: (message: SseMessage, soFar: readonly SseMessage[]) => void): Promise<SseMessage[]> {
  if (!res.body) return [];
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  const out: SseMessage[] = [];
  let buffer = '';
  for (let read = 0; ; read++) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trimStart())
        .join('\n');
      if (!data) continue;
      const message: SseMessage = { at: Date.now(), read, data: JSON.parse(data) as Record<string, unknown> };
      out.push(message);
      onMessage?.(message, out);
    }
  }
  return out;
}

/** initialize + notifications/initialized over raw HTTP; returns the session id. */
export async function openSession(url: string, token: string): Promise<string> {
  const res = await mcpPost(url, token, initializeRequest());
  if (res.status !== 200) throw new Error(`initialize: HTTP ${res.status} ${await res.text()}`);
  const sessionId = res.headers.get('mcp-session-id');
  await readSse(res);
  if (!sessionId) throw new Error('no Mcp-Session-Id');
  const ack = await mcpPost(url, token, { jsonrpc: '2.0', method: 'notifications/initialized' }, sessionId);
  if (ack.status !== 202) throw new Error(`initialized: HTTP ${ack.status}`);
  return sessionId;
}

/** The 2026-07-28 request headers (MCP-Protocol-Version, Mcp-Method, Mcp-Name) and the bearer token. */
export function modernHeaders(token: string | undefined, method: string, name?: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2026-07-28',
    'mcp-method': method,
    ...(name === undefined ? {} : { 'mcp-name': name }),
    ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
  };
}

/** The per-request _meta envelope of 2026-07-28. */
export function modernMeta(capabilities: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientInfo': { name: 'demo-eras-test', version: '0.0.0' },
    'io.modelcontextprotocol/clientCapabilities': capabilities,
  };
}

/**
 * POSTs one 2026-07-28 request the way the spec's client does: Mcp-Method and Mcp-Name mirror the body,
 * and the params carry the _meta envelope (merged under any _meta the params already have).
 */
export function modernPost(
  url: string,
  token: string | undefined,
  request: { id: number | string; method: string; params?: Record<string, unknown> },
  capabilities: Record<string, unknown> = {},
): Promise<Response> {
  const params = request.params ?? {};
  const name = typeof params.name === 'string' ? params.name : typeof params.uri === 'string' ? params.uri : undefined;
  const body = {
    jsonrpc: '2.0',
    ...request,
    params: { ...params, _meta: { ...modernMeta(capabilities), ...(params._meta as Record<string, unknown> | undefined) } },
  };
  return fetch(url, { method: 'POST', headers: modernHeaders(token, request.method, name), body: JSON.stringify(body) });
}
