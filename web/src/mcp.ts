/**
 * One MCP client per server, over the BFF's /mcp/:server proxy, created on first use and shared by
 * every page. The browser never holds a token: the BFF adds it, so the transport gets no
 * authProvider and a 401 never starts an OAuth flow here; it becomes a BffError instead.
 *
 * Which protocol era a server speaks is settled in mcp-connect.ts; this module keeps what outlives
 * one page in either era: the server's notifications (for the Log page), the resources the person
 * subscribed to and the chosen log level (restored on a new connection), and the lists of tools,
 * resources and prompts (dropped when the server says they changed). Pages never see the era: a
 * subscription is `resources/subscribe` on a 2025-11-25 server and a `subscriptions/listen` stream
 * on a 2026-07-28 one; the log level is `logging/setLevel` or a `_meta` field on every request.
 */
import { CSRF_HEADER, CSRF_VALUE, type ProtocolPreference } from '@mcp-bff/shared';
import {
  type FetchLike,
  type McpSubscription,
  type ServerCapabilities,
  SdkError,
  SdkErrorCode,
  type SubscriptionFilter,
} from '@modelcontextprotocol/client';
import { describeData, type LogLevel, recordActivity } from './activity';
import { BffError, processErrorResponse } from './bff';
import { dropPendingInput, personFor } from './inputRequests';
import { type Connected, connectMcp, type Era, isEraMismatch, jsonRpcErrorOf, type McpClient, type RememberedEra, rootCause } from './mcp-connect';
import { clearProblem, reportProblem } from './problems';
import { addLive, clearLive, liveUris, noteUpdate, removeLive } from './liveUpdates';
import { recordingFetch } from './protocolLog';
import { noteServerName } from './serverNames';
import { noteTaskStatus } from './toolTasks';
import { mcpUrl } from './urls';

export { NoCommonProtocolError } from './mcp-connect';
export type { McpClient };

interface Connection extends Connected {
  closed: boolean;
  /** Requests running on it now: a connection retired meanwhile closes when the last one ends. */
  inFlight: number;
  retired: boolean;
  /** Lists fetched on this connection, whole or page by page; dropped when the server says the list changed. */
  readonly lists: Map<ListKey, Promise<unknown>>;
  /** 2026-07-28: the open subscriptions/listen stream, and the filter it was opened with. */
  listen?: { subscription: McpSubscription; filter: string } | undefined;
  /** The last change to `listen` under way: changes run one at a time, so two never open two streams. */
  listenTurn: Promise<void>;
}

export type ListKind = 'tools' | 'resources' | 'resourceTemplates' | 'prompts';
/** A list kept whole (the SDK's aggregate of every page) or as the pages loaded so far (listPages.ts). */
export type ListKey = ListKind | `${ListKind} pages`;

interface Entry {
  ready: Promise<Connection>;
  connection?: Connection;
}

const entries = new Map<string, Entry>();

/** What each server turned out to speak, for this page's life: the next connect skips the probe. */
const remembered = new Map<string, RememberedEra>();

/** Statuses the BFF answers itself with a JSON `{ "error": code }` body, besides the session-level ones. */
const BFF_REFUSALS = new Set([400, 413, 429, 500, 502, 504]);

/** The operator's protocol choice per server, from /bff/session. */
const preferences = new Map<string, ProtocolPreference>();

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
  // The BFF's own refusal of a request it would not forward (a malformed header, a body too large, too
  // many streams, an MCP server it could not reach) is `{ "error": "<code>" }`; an MCP server's own
  // error answer carries a JSON-RPC error object (or none), left to the SDK.
  if (BFF_REFUSALS.has(response.status)) {
    const body: unknown = await response
      .clone()
      .json()
      .catch(() => undefined);
    if (typeof body === 'object' && body !== null && typeof (body as { error?: unknown }).error === 'string') {
      throw await processErrorResponse(response);
    }
  }
  return response;
}

/**
 * The transport's fetch for one server: same-origin cookie, the CSRF header on every request, every
 * exchange recorded for the Protocol view (as it went over the wire, before any checking), checked
 * answers.
 */
export function fetchFor(server: string): FetchLike {
  const recorded = recordingFetch(server, (url, init) => fetch(url, { ...init, credentials: 'same-origin' }));
  return async (url, init) => {
    const headers = new Headers(init?.headers);
    headers.set(CSRF_HEADER, CSRF_VALUE);
    const response = await recorded(url, { ...init, headers });
    return processMcpResponse(response, headers.has('mcp-session-id'));
  };
}

async function open(server: string, entry: Entry): Promise<Connection> {
  const connected = await connectMcp({
    url: mcpUrl(server),
    fetch: fetchFor(server),
    protocol: preferences.get(server) ?? 'auto',
    input: personFor(server),
    prior: remembered.get(server),
  }).catch((error: unknown) => {
    throw unwrap(error);
  });
  remembered.set(server, connected.remember);
  const connection: Connection = { ...connected, closed: false, inFlight: 0, retired: false, lists: new Map(), listenTurn: Promise.resolve() };
  const { client } = connection;
  listenForNotifications(server, connection);
  // Sees failures no request awaits (the legacy GET stream, a listen stream) and every failed
  // request, before that request's own promise settles. A connection with requests running is left
  // to them (attempt() drops it with the real error in hand); closing it here would reject them with
  // "connection closed" instead. Otherwise it is a background stream's failure: drop it after this turn.
  client.onerror = (error) => {
    const cause = unwrap(error);
    if (!(cause instanceof BffError)) return;
    if (cause.code === 'mcp_session_expired' || cause.code === 'login_required') {
      setTimeout(() => {
        if (connection.inFlight === 0) discard(server, connection);
      }, 0);
    }
    if (isBannerWorthy(server, cause)) reportProblem(server, cause);
  };
  entry.connection = connection;
  await restoreSessionState(server, connection);
  return connection;
}

/** The BFF's error inside the SDK's wrapping, if that is what it is. */
function unwrap(error: unknown): unknown {
  const root = rootCause(error);
  return root instanceof BffError ? root : error;
}

/** Routes the server's notifications to the activity log, resource watchers and list caches. */
function listenForNotifications(server: string, connection: Connection): void {
  const { client } = connection;
  client.setNotificationHandler('notifications/message', ({ method, params }) => {
    recordActivity(server, { method, level: params.level, logger: params.logger, text: describeData(params.data) });
  });
  client.setNotificationHandler('notifications/resources/updated', ({ method, params }) => {
    recordActivity(server, { method, text: params.uri });
    noteUpdate(server, params.uri);
    for (const listener of resourceListeners.get(server)?.get(params.uri) ?? []) listener();
  });
  const listChanged = (kind: ListKind, also?: ListKind) => (notification: { method: string }) => {
    recordActivity(server, { method: notification.method, text: `The server's ${kind} changed.` });
    for (const changed of also ? [kind, also] : [kind]) {
      connection.lists.delete(changed);
      connection.lists.delete(`${changed} pages`);
    }
    for (const listener of listListeners) listener(server, kind);
  };
  client.setNotificationHandler('notifications/tools/list_changed', listChanged('tools'));
  client.setNotificationHandler('notifications/prompts/list_changed', listChanged('prompts'));
  client.setNotificationHandler('notifications/resources/list_changed', listChanged('resources', 'resourceTemplates'));
  client.fallbackNotificationHandler = async ({ method, params }) => {
    recordActivity(server, { method, text: params === undefined ? '' : describeData(params) });
    // 2025-11-25 tasks: a status change saves the running task a poll (toolTasks.ts).
    if (method === 'notifications/tasks/status') noteTaskStatus(server, params);
  };
}

/** A new connection starts bare: subscriptions and the log level are asked for again. */
async function restoreSessionState(server: string, connection: Connection): Promise<void> {
  const { client } = connection;
  const capabilities = client.getServerCapabilities();
  const level = logLevels.get(server);
  if (connection.era === 'modern') {
    client.logLevel = level;
    await listenInBackground(server, connection);
    return;
  }
  const uris = liveUris(server);
  await Promise.allSettled([
    level && capabilities?.logging ? client.setLoggingLevel(level) : undefined,
    ...(capabilities?.resources?.subscribe ? uris.map((uri) => client.subscribeResource({ uri })) : []),
  ]);
}

/** The 2026-07-28 filter for what this page wants to hear: list changes it can use, and subscriptions. */
function listenFilter(server: string, capabilities: ServerCapabilities | undefined): SubscriptionFilter {
  const uris = liveUris(server);
  return {
    ...(capabilities?.tools?.listChanged ? { toolsListChanged: true } : {}),
    ...(capabilities?.prompts?.listChanged ? { promptsListChanged: true } : {}),
    ...(capabilities?.resources?.listChanged ? { resourcesListChanged: true } : {}),
    ...(uris.length > 0 && capabilities?.resources?.subscribe ? { resourceSubscriptions: uris } : {}),
  };
}

/** Remote closes of a listen stream re-opened in a row before giving up (a server that keeps dropping it). */
const MAX_RELISTENS = 5;
/**
 * A stream that stayed open this long was healthy: its close (an instance restarting, a proxy's idle
 * limit) starts the count of re-listens in a row over, so that a long-lived page keeps its updates.
 */
const HEALTHY_LISTEN_MS = 30_000;
/** The pause before the first re-listen after a drop; each further one in a row waits twice as long. */
const RELISTEN_PAUSE_MS = 1_000;

/**
 * The page is being left (navigated away from, closed, or put in the back/forward cache): the browser
 * drops its streams, and a listen stream dropped now must not be opened again on the way out — the BFF
 * would forward a subscriptions/listen that nobody will read. A page restored from the back/forward
 * cache listens again.
 */
let pageLeaving = false;
if (typeof window !== 'undefined' && typeof window.addEventListener === 'function') {
  window.addEventListener('pagehide', () => {
    pageLeaving = true;
  });
  window.addEventListener('pageshow', () => {
    if (!pageLeaving) return;
    pageLeaving = false;
    for (const [server, entry] of entries) {
      void entry.ready.then((connection) => listenInBackground(server, connection)).catch(() => undefined);
    }
  });
}

/**
 * Keeps one subscriptions/listen stream per modern server matching what the page wants; a changed
 * filter opens the new stream before the old one is closed, so no update falls in between. Calls for
 * one connection run in turn (a re-listen and a new subscription at once would otherwise both open one).
 */
function syncListen(server: string, connection: Connection, relistens = 0): Promise<void> {
  const turn = connection.listenTurn.then(() => applyListen(server, connection, relistens));
  connection.listenTurn = turn.catch(() => undefined);
  return turn;
}

async function applyListen(server: string, connection: Connection, relistens: number): Promise<void> {
  if (connection.era !== 'modern' || connection.closed) return;
  const filter = listenFilter(server, connection.client.getServerCapabilities());
  const key = JSON.stringify(filter);
  const previous = connection.listen;
  if (previous?.filter === key) return;
  if (Object.keys(filter).length === 0) connection.listen = undefined;
  else {
    // Failing to open, it leaves the stream there was (if any) as it was.
    const subscription = await connection.client.listen(filter);
    if (connection.closed) {
      await subscription.close();
      return;
    }
    connection.listen = { subscription, filter: key };
    const openedAt = Date.now();
    void subscription.closed.then((how) => {
      if (connection.listen?.subscription !== subscription) return;
      connection.listen = undefined;
      // Unexpected drop: listen again (bounded), so updates keep coming.
      if (how === 'remote') listenAgainLater(server, connection, Date.now() - openedAt >= HEALTHY_LISTEN_MS ? 0 : relistens);
    });
  }
  await previous?.subscription.close();
}

/**
 * Opens the listen stream when no one awaits the outcome (a new connection, a page back from the
 * back/forward cache, a re-listen); if that fails on the way, it is tried again later.
 */
async function listenInBackground(server: string, connection: Connection, relistens = 0): Promise<void> {
  await syncListen(server, connection, relistens).catch((error: unknown) => {
    if (isPassingFault(error)) listenAgainLater(server, connection, relistens);
  });
}

/**
 * Listens again after a pause that doubles with each try in a row, so that a server that keeps dropping
 * the stream is not hammered, and not at once: the browser drops a page's streams as it leaves it,
 * before the page hears of it (pagehide). A page being left by then does not listen; back from the
 * back/forward cache, it listens again on pageshow. A try that fails on the way (the stream dropped
 * before the server acknowledged it, the network, the BFF or the server unavailable) counts as a drop.
 */
function listenAgainLater(server: string, connection: Connection, inARow: number): void {
  if (inARow >= MAX_RELISTENS) return;
  setTimeout(() => {
    if (!pageLeaving) void listenInBackground(server, connection, inARow + 1);
  }, RELISTEN_PAUSE_MS * 2 ** inARow);
}

/**
 * A failure that may pass: not the session ended or short of scope (the BFF's 401/403), nor the
 * server's JSON-RPC refusal of the listen, which another try would only repeat.
 */
function isPassingFault(error: unknown): boolean {
  const cause = unwrap(error);
  if (cause instanceof BffError) return cause.status >= 500 || cause.status === 429;
  return jsonRpcErrorOf(error) === undefined;
}

const resourceListeners = new Map<string, Map<string, Set<() => void>>>();
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

/**
 * Live updates of one resource until the person stops them (leaving the resource's page does not),
 * remembered so that a new connection subscribes again.
 */
export async function subscribeResource(server: string, uri: string): Promise<void> {
  const added = addLive(server, uri);
  try {
    await withConnection(server, async (connection) => {
      if (connection.era === 'modern') await syncListen(server, connection);
      else await connection.client.subscribeResource({ uri });
    });
  } catch (error) {
    if (added) removeLive(server, uri);
    throw error;
  }
}

export async function unsubscribeResource(server: string, uri: string): Promise<void> {
  removeLive(server, uri);
  await withConnection(server, async (connection) => {
    if (connection.era === 'modern') await syncListen(server, connection);
    else await connection.client.unsubscribeResource({ uri });
  });
}

/** The minimum log level, remembered so that a new connection gets it too. */
export async function setLogLevel(server: string, level: LogLevel): Promise<void> {
  await withConnection(server, async (connection) => {
    if (connection.era === 'modern') connection.client.logLevel = level;
    else await connection.client.setLoggingLevel(level);
  });
  logLevels.set(server, level);
}

export function logLevelOf(server: string): LogLevel | undefined {
  return logLevels.get(server);
}

/** A list (tools, resources, …) fetched once per connection, until the server says it changed. */
export function cachedList<T>(server: string, kind: ListKey, load: (client: McpClient) => Promise<T>): Promise<T> {
  return withConnection(server, async (connection) => {
    const existing = connection.lists.get(kind);
    if (existing) return existing as Promise<T>;
    const loading = load(connection.client);
    connection.lists.set(kind, loading);
    loading.catch(() => {
      if (connection.lists.get(kind) === loading) connection.lists.delete(kind);
    });
    return loading;
  });
}

/**
 * Replaces the cached `from` with what `load` makes of it (the next page added), unless the list changed
 * meanwhile (the server said so, or someone else extended it first); either way the caller gets it.
 */
export function extendCachedList<T>(server: string, key: ListKey, from: T, load: (client: McpClient) => Promise<T>): Promise<T> {
  return withConnection(server, async (connection) => {
    const current = connection.lists.get(key);
    const next = await load(connection.client);
    if (current !== undefined && connection.lists.get(key) === current && (await current.catch(() => undefined)) === from) {
      connection.lists.set(key, Promise.resolve(next));
    }
    return next;
  });
}

/** The cached list, if this page's connection to the server has one; never a request. */
export function peekCachedList<T>(server: string, key: ListKey): Promise<T> | undefined {
  const connection = entries.get(server)?.connection;
  return connection && !connection.closed ? (connection.lists.get(key) as Promise<T> | undefined) : undefined;
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
  dropPendingInput(server);
  void connection.listen?.subscription.close().catch(() => undefined);
  void connection.client.close().catch(() => undefined);
}

/**
 * Runs `use` with the server's client. When the connection cannot go on (the upstream MCP session
 * expired, or the server now answers in another protocol era) it connects again and runs `use` once
 * more. Session-level problems go to the banner.
 */
export function withClient<T>(server: string, use: (client: McpClient) => Promise<T>): Promise<T> {
  return withConnection(server, (connection) => use(connection.client));
}

async function withConnection<T>(server: string, use: (connection: Connection) => Promise<T>): Promise<T> {
  try {
    const result = await attempt(server, use);
    clearProblem(server);
    return result;
  } catch (error) {
    const cause = unwrap(error);
    if (cause instanceof BffError && isBannerWorthy(server, cause)) reportProblem(server, cause);
    throw cause;
  }
}

/**
 * Servers the BFF holds no token for. Login is lazy: a request to one of them goes out without a
 * token and works when the server needs no authorization; its login_required is then no news (the
 * page offers "Connect"), not a session that ended.
 */
const withoutToken = new Set<string>();

export function noteConnections(
  connections: ReadonlyArray<{ server: string; name?: string; status: string; protocol?: ProtocolPreference | undefined }>,
): void {
  withoutToken.clear();
  for (const c of connections) {
    if (c.name) noteServerName(c.server, c.name);
    if (c.status !== 'connected') withoutToken.add(c.server);
    const protocol = c.protocol ?? 'auto';
    if (preferences.has(c.server) && preferences.get(c.server) !== protocol) {
      // The operator changed the server's protocol: the next request connects afresh.
      remembered.delete(c.server);
      forgetClient(c.server);
    }
    preferences.set(c.server, protocol);
  }
}

function isBannerWorthy(server: string, error: BffError): boolean {
  if (error.code === 'login_required' && withoutToken.has(server)) return false;
  return error.isSessionProblem;
}

/** Runs `use` on `connection`, counting it as in flight. */
async function using<T>(server: string, connection: Connection, use: (connection: Connection) => Promise<T>): Promise<T> {
  connection.inFlight++;
  try {
    return await use(connection);
  } finally {
    connection.inFlight--;
    if (connection.retired && connection.inFlight === 0) discard(server, connection);
  }
}

async function attempt<T>(server: string, use: (connection: Connection) => Promise<T>): Promise<T> {
  const connection = await connect(server);
  try {
    return await using(server, connection, use);
  } catch (thrown) {
    const error = unwrap(thrown);
    if (error instanceof BffError && error.code === 'login_required') discard(server, connection);
    // A request still in flight on a client that was dropped meanwhile fails as "connection closed".
    const dropped = connection.closed && error instanceof SdkError && error.code === SdkErrorCode.ConnectionClosed;
    const expired = error instanceof BffError && error.code === 'mcp_session_expired';
    // The server answered in the other era than it did at connect (it was upgraded or rolled back).
    const eraChanged = isEraMismatch(error, connection.era);
    if (!expired && !dropped && !eraChanged) throw error;
    if (eraChanged) remembered.delete(server);
    discard(server, connection);
    const fresh = await connect(server);
    return using(server, fresh, use);
  }
}

/**
 * Forgets the client of a server that is no longer connected: the next request connects afresh.
 * Requests already running on the old one finish first (another page's loader may be using it).
 */
export function forgetClient(server: string): void {
  const connection = entries.get(server)?.connection;
  entries.delete(server);
  if (!connection) return;
  connection.retired = true;
  if (connection.inFlight === 0) discard(server, connection);
}

/** What the server said about itself when the connection was made. */
export interface ServerFacts {
  capabilities: ServerCapabilities | undefined;
  implementation: ReturnType<McpClient['getServerVersion']>;
  instructions: string | undefined;
  /** 'modern' (2026-07-28, stateless) or 'legacy' (2025-11-25, sessions). */
  era: Era;
  /** The protocol revision in use, e.g. 2026-07-28. */
  protocolVersion: string;
}

export function serverFacts(server: string): Promise<ServerFacts> {
  return withConnection(server, async (connection) => ({
    capabilities: connection.client.getServerCapabilities(),
    implementation: connection.client.getServerVersion(),
    instructions: connection.client.getInstructions(),
    era: connection.era,
    protocolVersion: connection.protocolVersion,
  }));
}

/**
 * The capabilities of the server's connection if one is open now, without a request (undefined when
 * there is none yet): lets a page draw the right controls at once, before serverFacts answers.
 */
export function currentCapabilities(server: string): ServerCapabilities | undefined {
  const connection = entries.get(server)?.connection;
  return connection && !connection.closed ? connection.client.getServerCapabilities() : undefined;
}

/**
 * The milliseconds a round trip takes the whole way (page, BFF, MCP server and back): `ping` on a
 * 2025-11-25 connection; 2026-07-28 has no ping, so there the cheapest request, `server/discover`.
 */
export async function ping(server: string): Promise<{ ms: number; method: string }> {
  return withConnection(server, async ({ client, era }) => {
    const started = performance.now();
    if (era === 'modern') await client.discover();
    else await client.ping();
    return { ms: Math.round(performance.now() - started), method: era === 'modern' ? 'server/discover' : 'ping' };
  });
}

/** Ends one server's connection (DELETE of a legacy MCP session) and forgets what the person asked of it. */
export async function closeClient(server: string): Promise<void> {
  const entry = entries.get(server);
  entries.delete(server);
  clearLive(server);
  logLevels.delete(server);
  dropPendingInput(server);
  if (!entry) return;
  await endConnection(entry);
}

async function endConnection(entry: Entry): Promise<void> {
  const connection = await entry.ready;
  if (connection.closed) return;
  connection.closed = true;
  try {
    await connection.listen?.subscription.close();
    // A 2026-07-28 connection has no session to end.
    if (connection.era === 'legacy') await connection.transport.terminateSession();
  } finally {
    await connection.client.close();
  }
}

/** Ends every connection and closes the clients; for logout, before the BFF session goes. */
export async function closeAllClients(): Promise<void> {
  const all = [...entries.values()];
  entries.clear();
  clearLive();
  logLevels.clear();
  dropPendingInput();
  await Promise.allSettled(all.map(endConnection));
}
