import { Client, type ClientCapabilities, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

/** The official v2 client as the demo tests use it, over Streamable HTTP with a bearer token. */

export type Negotiation = 'auto' | 'pin' | 'legacy';

/** `negotiation` picks the versionNegotiation mode: auto (discover, fall back to initialize), pinned to 2026-07-28, or plain 2025-11-25. */
export function v2Client(capabilities: ClientCapabilities = {}, negotiation: Negotiation = 'auto'): Client {
  const mode = negotiation === 'pin' ? { pin: '2026-07-28' } : negotiation;
  return new Client({ name: 'demo-eras-test', version: '0.0.0' }, { capabilities, versionNegotiation: { mode } });
}

export function httpTransport(url: string, token: string): StreamableHTTPClientTransport {
  return new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } });
}
