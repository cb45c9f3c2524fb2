/**
 * One MCP client per server, over the BFF's /mcp/:server proxy, created on first use and shared by
 * every page. The browser never holds a token: the BFF adds it, so the transport gets no
 * authProvider and a 401 never starts an OAuth flow here; it becomes a BffError instead.
 */
import { CSRF_HEADER, CSRF_VALUE } from '@mcp-bff/shared';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
// Ajv, the SDK's default validator, compiles schemas with new Function(), which the page's CSP
// (no 'unsafe-eval') forbids; the cfworker validator interprets schemas instead.
import { CfWorkerJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/cfworker';
import { BffError, processErrorResponse } from './bff';
import { clearProblem, reportProblem } from './problems';
import { mcpUrl } from './urls';

const clientInfo = { name: 'mcp-bff-web', version: '0.1.0' };

interface Connection {
  readonly client: Client;
  readonly transport: StreamableHTTPClientTransport;
  closed: boolean;
}

interface Entry {
  ready: Promise<Connection>;
  connection?: Connection;
}

const entries = new Map<string, Entry>();

/**
 * Checks a response from the /mcp proxy. The BFF's session-level answers (401 login_required,
 * 403 insufficient_scope, 503) become BffErrors; a 404 for a request that named an MCP session
 * means the upstream session is gone. Everything else is left to the SDK.
 */
export async function processMcpResponse(response: Response, hadMcpSession: boolean): Promise<Response> {
  if (response.status === 404 && hadMcpSession) {
    await response.body?.cancel();
    throw new BffError('mcp_session_expired', 404);
  }
  if (response.status === 401 || response.status === 403 || response.status === 503) {
    throw await processErrorResponse(response);
  }
  return response;
}

/** The transport's fetch: same-origin cookie, the CSRF header on every request, checked answers. */
export const bffFetch: FetchLike = async (url, init) => {
  const headers = new Headers(init?.headers);
  headers.set(CSRF_HEADER, CSRF_VALUE);
  const response = await fetch(url, { ...init, headers, credentials: 'same-origin' });
  return processMcpResponse(response, headers.has('mcp-session-id'));
};

async function open(server: string, entry: Entry): Promise<Connection> {
  const transport = new StreamableHTTPClientTransport(mcpUrl(server), { fetch: bffFetch });
  const client = new Client(clientInfo, {
    capabilities: {},
    jsonSchemaValidator: new CfWorkerJsonSchemaValidator(),
  });
  const connection: Connection = { client, transport, closed: false };
  // Sees failures of the background SSE stream, which no request awaits, and also every failed
  // request, before that request's own promise settles: closing the client right here would reject
  // the request with "Connection closed" instead of the real error, hence the deferral.
  client.onerror = (error) => {
    if (!(error instanceof BffError)) return;
    if (error.code === 'mcp_session_expired' || error.code === 'login_required') {
      setTimeout(() => discard(server, connection), 0);
    }
    if (error.isSessionProblem) reportProblem(server, error);
  };
  await client.connect(transport);
  entry.connection = connection;
  return connection;
}

function connect(server: string): Promise<Connection> {
  const existing = entries.get(server);
  if (existing) return existing.ready;
  // `open` records the connection on the entry, so the entry exists before its promise does.
  const entry = {} as Entry;
  entry.ready = open(server, entry);
  entries.set(server, entry);
  entry.ready.catch(() => {
    if (entries.get(server) === entry) entries.delete(server);
  });
  return entry.ready;
}

/** Drops a connection without ending its MCP session (it is gone, or can no longer be reached). */
function discard(server: string, connection: Connection): void {
  const entry = entries.get(server);
  if (entry?.connection === connection) entries.delete(server);
  if (connection.closed) return;
  connection.closed = true;
  void connection.client.close().catch(() => undefined);
}

/**
 * Runs `use` with the server's client. When the upstream MCP session has expired it starts a new
 * one (new Client, initialize) and runs `use` once more. Session-level problems go to the banner.
 */
export async function withClient<T>(server: string, use: (client: Client) => Promise<T>): Promise<T> {
  try {
    const result = await attempt(server, use);
    clearProblem(server);
    return result;
  } catch (error) {
    if (error instanceof BffError && error.isSessionProblem) reportProblem(server, error);
    throw error;
  }
}

async function attempt<T>(server: string, use: (client: Client) => Promise<T>): Promise<T> {
  const connection = await connect(server);
  try {
    return await use(connection.client);
  } catch (error) {
    if (error instanceof BffError && error.code === 'login_required') discard(server, connection);
    // A request still in flight on a client that was dropped meanwhile fails as "connection closed".
    const dropped = connection.closed && error instanceof McpError && error.code === ErrorCode.ConnectionClosed;
    const expired = error instanceof BffError && error.code === 'mcp_session_expired';
    if (!expired && !dropped) throw error;
    discard(server, connection);
    const fresh = await connect(server);
    return use(fresh.client);
  }
}

/** Forgets the client of a server that is no longer connected. */
export function forgetClient(server: string): void {
  const connection = entries.get(server)?.connection;
  if (connection) discard(server, connection);
  else entries.delete(server);
}

/** Ends every MCP session (DELETE) and closes the clients; for logout, before the BFF session goes. */
export async function closeAllClients(): Promise<void> {
  const all = [...entries.values()];
  entries.clear();
  await Promise.allSettled(
    all.map(async (entry) => {
      const connection = await entry.ready;
      if (connection.closed) return;
      connection.closed = true;
      try {
        await connection.transport.terminateSession();
      } finally {
        await connection.client.close();
      }
    }),
  );
}
