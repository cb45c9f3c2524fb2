/**
 * One MCP client per server, over the BFF's /mcp/:server proxy, created on first use and shared by
 * every page. The browser never holds a token: the BFF adds it, so the transport gets no
 * authProvider and a 401 never starts an OAuth flow here; it becomes a BffError instead.
 *
 * The client also keeps what outlives one page: the server's notifications (for the Log page), the
 * resources the person subscribed to and the chosen log level (both restored on a new MCP session),
 * and the lists of tools, resources and prompts (dropped when the server says they changed).
 */
import { CSRF_HEADER, CSRF_VALUE } from '@mcp-bff/shared';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  ErrorCode,
  LoggingMessageNotificationSchema,
  McpError,
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
// Ajv, the SDK's default validator, compiles schemas with new Function(), which the page's CSP
// (no 'unsafe-eval') forbids; the cfworker validator interprets schemas instead.
import { CfWorkerJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/cfworker';
import { describeData, type LogLevel, recordActivity } from './activity';
import { BffError, processErrorResponse } from './bff';
import { clearProblem, reportProblem } from './problems';
import { mcpUrl } from './urls';

const clientInfo = { name: 'mcp-bff-web', version: '0.1.0' };

interface Connection {
  readonly client: Client;
  readonly transport: StreamableHTTPClientTransport;
  closed: boolean;
  /** Lists fetched on this connection, by kind; dropped when the server says the list changed. */
  readonly lists: Map<ListKind, Promise<unknown>>;
}

export type ListKind = 'tools' | 'resources' | 'resourceTemplates' | 'prompts';

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
  const connection: Connection = { client, transport, closed: false, lists: new Map() };
  listenForNotifications(server, connection);
  // Sees failures of the background SSE stream, which no request awaits, and also every failed
  // request, before that request's own promise settles: closing the client right here would reject
  // the request with "Connection closed" instead of the real error, hence the deferral.
  client.onerror = (error) => {
    if (!(error instanceof BffError)) return;
    if (error.code === 'mcp_session_expired' || error.code === 'login_required') {
      setTimeout(() => discard(server, connection), 0);
    }
    if (isBannerWorthy(server, error)) reportProblem(server, error);
  };
  await client.connect(transport);
  entry.connection = connection;
  await restoreSessionState(server, client);
  return connection;
}

/** Routes the server's notifications to the activity log, resource watchers and list caches. */
function listenForNotifications(server: string, connection: Connection): void {
  const { client } = connection;
  client.setNotificationHandler(LoggingMessageNotificationSchema, ({ method, params }) => {
    recordActivity(server, { method, level: params.level, logger: params.logger, text: describeData(params.data) });
  });
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, ({ method, params }) => {
    recordActivity(server, { method, text: params.uri });
    for (const listener of resourceListeners.get(server)?.get(params.uri) ?? []) listener();
  });
  const listChanged = (kind: ListKind, also?: ListKind) => (notification: { method: string }) => {
    recordActivity(server, { method: notification.method, text: `The server's ${kind} changed.` });
    connection.lists.delete(kind);
    if (also) connection.lists.delete(also);
    for (const listener of listListeners) listener(server, kind);
  };
  client.setNotificationHandler(ToolListChangedNotificationSchema, listChanged('tools'));
  client.setNotificationHandler(PromptListChangedNotificationSchema, listChanged('prompts'));
  client.setNotificationHandler(ResourceListChangedNotificationSchema, listChanged('resources', 'resourceTemplates'));
  client.fallbackNotificationHandler = async ({ method, params }) => {
    recordActivity(server, { method, text: params === undefined ? '' : describeData(params) });
  };
}

/** A new MCP session starts bare: subscriptions and the log level are asked for again. */
async function restoreSessionState(server: string, client: Client): Promise<void> {
  const capabilities = client.getServerCapabilities();
  const level = logLevels.get(server);
  const uris = subscriptions.get(server) ?? new Set<string>();
  await Promise.allSettled([
    level && capabilities?.logging ? client.setLoggingLevel(level) : undefined,
    ...(capabilities?.resources?.subscribe ? [...uris].map((uri) => client.subscribeResource({ uri })) : []),
  ]);
}

const resourceListeners = new Map<string, Map<string, Set<() => void>>>();
const subscriptions = new Map<string, Set<string>>();
const logLevels = new Map<string, LogLevel>();
const listListeners = new Set<(server: string, kind: ListKind) => void>();

function getOrCreate<K, V>(map: Map<K, V>, key: K, create: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = create();
    map.set(key, value);
  }
  return value;
}

/** Calls `listener` whenever the server says `uri` changed; returns the way to stop. */
export function watchResource(server: string, uri: string, listener: () => void): () => void {
  const byUri = getOrCreate(resourceListeners, server, () => new Map<string, Set<() => void>>());
  const set = getOrCreate(byUri, uri, () => new Set<() => void>());
  set.add(listener);
  return () => set.delete(listener);
}

/** Calls `listener` whenever a server says one of its lists changed. */
export function watchLists(listener: (server: string, kind: ListKind) => void): () => void {
  listListeners.add(listener);
  return () => listListeners.delete(listener);
}

/** resources/subscribe, remembered so that a new MCP session subscribes again. */
export async function subscribeResource(server: string, uri: string): Promise<void> {
  await withClient(server, (client) => client.subscribeResource({ uri }));
  getOrCreate(subscriptions, server, () => new Set<string>()).add(uri);
}

export async function unsubscribeResource(server: string, uri: string): Promise<void> {
  subscriptions.get(server)?.delete(uri);
  await withClient(server, (client) => client.unsubscribeResource({ uri }));
}

/** logging/setLevel, remembered so that a new MCP session gets it too. */
export async function setLogLevel(server: string, level: LogLevel): Promise<void> {
  await withClient(server, (client) => client.setLoggingLevel(level));
  logLevels.set(server, level);
}

export function logLevelOf(server: string): LogLevel | undefined {
  return logLevels.get(server);
}

/** A list (tools, resources, …) fetched once per MCP session, until the server says it changed. */
export function cachedList<T>(server: string, kind: ListKind, load: (client: Client) => Promise<T>): Promise<T> {
  return withClient(server, async (client) => {
    const connection = entries.get(server)?.connection;
    const existing = connection?.client === client ? connection.lists.get(kind) : undefined;
    if (existing) return existing as Promise<T>;
    const loading = load(client);
    if (connection?.client === client) {
      connection.lists.set(kind, loading);
      loading.catch(() => {
        if (connection.lists.get(kind) === loading) connection.lists.delete(kind);
      });
    }
    return loading;
  });
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
    if (error instanceof BffError && isBannerWorthy(server, error)) reportProblem(server, error);
    throw error;
  }
}

/**
 * Servers the BFF holds no token for. Login is lazy: a request to one of them goes out without a
 * token and works when the server needs no authorization; its login_required is then no news (the
 * page offers "Connect"), not a session that ended.
 */
const withoutToken = new Set<string>();

export function noteConnections(connections: ReadonlyArray<{ server: string; status: string }>): void {
  withoutToken.clear();
  for (const c of connections) if (c.status !== 'connected') withoutToken.add(c.server);
}

function isBannerWorthy(server: string, error: BffError): boolean {
  if (error.code === 'login_required' && withoutToken.has(server)) return false;
  return error.isSessionProblem;
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

/** What the server said about itself at initialize. */
export interface ServerFacts {
  capabilities: ReturnType<Client['getServerCapabilities']>;
  implementation: ReturnType<Client['getServerVersion']>;
  instructions: string | undefined;
}

export function serverFacts(server: string): Promise<ServerFacts> {
  return withClient(server, async (client) => ({
    capabilities: client.getServerCapabilities(),
    implementation: client.getServerVersion(),
    instructions: client.getInstructions(),
  }));
}

/** Ends one server's MCP session (DELETE) and forgets what the person asked of it. */
export async function closeClient(server: string): Promise<void> {
  const entry = entries.get(server);
  entries.delete(server);
  subscriptions.delete(server);
  logLevels.delete(server);
  if (!entry) return;
  await endConnection(entry);
}

async function endConnection(entry: Entry): Promise<void> {
  const connection = await entry.ready;
  if (connection.closed) return;
  connection.closed = true;
  try {
    await connection.transport.terminateSession();
  } finally {
    await connection.client.close();
  }
}

/** Ends every MCP session (DELETE) and closes the clients; for logout, before the BFF session goes. */
export async function closeAllClients(): Promise<void> {
  const all = [...entries.values()];
  entries.clear();
  subscriptions.clear();
  logLevels.clear();
  await Promise.allSettled(all.map(endConnection));
}
