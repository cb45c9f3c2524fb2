/**
 * Connecting to one MCP server through the BFF, in whichever protocol era the server speaks.
 *
 * This module owns the era: it is the only place that knows 2026-07-28 (stateless, `_meta` per
 * request, `input_required` results, `subscriptions/listen`) from 2025-11-25 (initialize, sessions,
 * server-to-client requests). It has no React and no DOM beyond `fetch`, so the conformance adapter
 * (conformance/adapter.ts) drives exactly this code in Node, as the SPA does in the browser.
 *
 * Negotiation follows the 2026-07-28 versioning section: in 'auto' a modern `server/discover` goes
 * first, and a legacy answer falls back to `initialize`; the verdict is remembered per server (in
 * memory, for this page) and reused on the next connect, and dropped when the server stops answering
 * in that era. A pinned revision never falls back.
 */
import type { ProtocolPreference } from '@mcp-bff/shared';
import {
  Client,
  type ClientCapabilities,
  type CreateMessageRequestParams,
  type CreateMessageResult,
  type DiscoverResult,
  type ElicitRequestParams,
  type ElicitResult,
  type FetchLike,
  LOG_LEVEL_META_KEY,
  type LoggingLevel,
  ProtocolError,
  ProtocolErrorCode,
  SdkError,
  SdkErrorCode,
  StreamableHTTPClientTransport,
  UnsupportedProtocolVersionError,
} from '@modelcontextprotocol/client';
// The SDK's default validator on Node (Ajv) compiles schemas with new Function(), which the page's
// CSP (no 'unsafe-eval') forbids; the cfworker validator interprets schemas instead, in both places.
import { CfWorkerJsonSchemaValidator } from '@modelcontextprotocol/client/validators/cf-worker';

export const MODERN_REVISION = '2026-07-28';
export const LEGACY_REVISION = '2025-11-25';

export type Era = 'modern' | 'legacy';

/**
 * What the person is asked when a server needs input in the middle of a request: the same callbacks
 * serve 2025-11-25's server-to-client requests and 2026-07-28's `input_required` rounds. Each gets
 * the request's AbortSignal (the call was cancelled, or the server gave up).
 */
export interface InputHandlers {
  elicit(params: ElicitRequestParams, signal: AbortSignal): Promise<ElicitResult>;
  sample(params: CreateMessageRequestParams, signal: AbortSignal): Promise<CreateMessageResult>;
}

/**
 * Exactly what this client supports: elicitation in form and URL mode, sampling answered by the
 * person (no tool use inside sampling), roots (always an empty list; no list_changed). Logging is a
 * server capability; the client sets its level per request (modern) or with logging/setLevel (legacy).
 */
export const CLIENT_CAPABILITIES: ClientCapabilities = {
  elicitation: { form: {}, url: {} },
  sampling: {},
  roots: {},
};

/** Rounds of `input_required` one call may take before it is given up (a server asking forever). */
export const MAX_INPUT_ROUNDS = 8;

/** The SDK client, plus the log level that rides in every modern request's `_meta`. */
export class McpClient extends Client {
  /** The minimum level of log notifications the person wants; undefined leaves it to the server. */
  logLevel: LoggingLevel | undefined;

  protected override _outboundMetaEnvelope(): Readonly<Record<string, unknown>> | undefined {
    const envelope = super._outboundMetaEnvelope();
    // Legacy connections get no envelope (their level is set with logging/setLevel).
    if (!envelope || !this.logLevel) return envelope;
    return { ...envelope, [LOG_LEVEL_META_KEY]: this.logLevel };
  }

  /** 'modern' or 'legacy' once connected. */
  get era(): Era | undefined {
    return this.getProtocolEra() as Era | undefined;
  }
}

export interface ConnectOptions {
  /** The BFF's /mcp/:server URL. */
  url: URL;
  /** Adds the CSRF header and the cookie, and turns the BFF's own errors into typed errors. */
  fetch: FetchLike;
  protocol: ProtocolPreference;
  input: InputHandlers;
  clientInfo?: { name: string; version: string };
  /** An era verdict remembered from an earlier connect to the same server (skips the probe). */
  prior?: RememberedEra;
  /** Bounds the connect (probe and handshake). */
  timeoutMs?: number;
}

/** A negotiated era worth remembering: the next connect to the same server reuses it. */
export type RememberedEra = { kind: 'modern'; discover: DiscoverResult } | { kind: 'legacy' };

export interface Connected {
  client: McpClient;
  transport: StreamableHTTPClientTransport;
  era: Era;
  /** The negotiated protocol revision, e.g. 2026-07-28. */
  protocolVersion: string;
  /** What to remember for the next connect to this server. */
  remember: RememberedEra;
}

/** The server speaks no protocol revision this client does; `offered` lists what it said it speaks. */
export class NoCommonProtocolError extends Error {
  override readonly name = 'NoCommonProtocolError';
  constructor(
    readonly offered: string[],
    readonly requested: ProtocolPreference,
    options?: ErrorOptions,
  ) {
    const said = offered.length > 0 ? `The server offered MCP ${offered.join(', ')}` : 'The server offered no revision';
    super(
      requested === 'auto'
        ? `${said}; this app speaks ${MODERN_REVISION} and ${LEGACY_REVISION}.`
        : `${said}, but this server is configured for MCP ${requested} (its "protocol" setting).`,
      options,
    );
  }
}

function negotiation(protocol: ProtocolPreference) {
  if (protocol === 'auto') return { mode: 'auto' as const };
  if (protocol === LEGACY_REVISION) return { mode: 'legacy' as const };
  return { mode: { pin: protocol } };
}

export function createClient(options: Pick<ConnectOptions, 'protocol' | 'input' | 'clientInfo'>): McpClient {
  const client = new McpClient(options.clientInfo ?? { name: 'mcp-bff-web', version: '0.2.0' }, {
    capabilities: CLIENT_CAPABILITIES,
    jsonSchemaValidator: new CfWorkerJsonSchemaValidator(),
    versionNegotiation: negotiation(options.protocol),
    inputRequired: { maxRounds: MAX_INPUT_ROUNDS },
  });
  const { input } = options;
  client.setRequestHandler('elicitation/create', (request, ctx) => input.elicit(request.params, ctx.mcpReq.signal));
  client.setRequestHandler('sampling/createMessage', (request, ctx) => input.sample(request.params, ctx.mcpReq.signal));
  // This app exposes no files or folders to servers.
  client.setRequestHandler('roots/list', () => ({ roots: [] }));
  return client;
}

/**
 * Connects in the era the preference and the server allow. A remembered verdict is tried first; if
 * the server no longer speaks that era, negotiation runs once more from scratch.
 */
export async function connectMcp(options: ConnectOptions): Promise<Connected> {
  const prior = options.protocol === 'auto' ? options.prior : undefined;
  try {
    return await connectOnce(options, prior);
  } catch (error) {
    if (prior && isEraMismatch(error, prior.kind)) return connectOnce(options, undefined);
    throw error;
  }
}

async function connectOnce(options: ConnectOptions, prior: RememberedEra | undefined): Promise<Connected> {
  const client = createClient(options);
  const transport = new StreamableHTTPClientTransport(options.url, { fetch: options.fetch });
  try {
    await client.connect(transport, {
      ...(prior ? { prior } : {}),
      ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
    });
  } catch (error) {
    await client.close().catch(() => undefined);
    throw translateConnectError(error, options.protocol);
  }
  const era = client.era ?? 'legacy';
  const discover = client.getDiscoverResult();
  return {
    client,
    transport,
    era,
    protocolVersion: client.getNegotiatedProtocolVersion() ?? (era === 'modern' ? MODERN_REVISION : LEGACY_REVISION),
    remember: era === 'modern' && discover ? { kind: 'modern', discover } : { kind: 'legacy' },
  };
}

/** The failure the cause chain ends in that is not the SDK's wrapping (e.g. the BFF's own error). */
export function rootCause(error: unknown): unknown {
  let current = error;
  for (let depth = 0; depth < 8; depth++) {
    if (!(current instanceof SdkError) || current.cause === undefined) return current;
    current = current.cause;
  }
  return current;
}

/** The JSON-RPC error a failure carries: thrown as such, or the body of an HTTP 400 the SDK wrapped. */
export function jsonRpcErrorOf(error: unknown): { code: number; data?: unknown } | undefined {
  for (let e = error, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof ProtocolError) return { code: e.code, data: e.data };
    if (e instanceof SdkError) {
      const data = e.data as { status?: unknown; text?: unknown } | undefined;
      if (data?.status === 400 && typeof data.text === 'string') {
        try {
          const body = JSON.parse(data.text) as { error?: { code?: unknown; data?: unknown } };
          if (typeof body.error?.code === 'number') return { code: body.error.code, data: body.error.data };
        } catch {
          // Not JSON-RPC: nothing to read.
        }
      }
    }
  }
  return undefined;
}

function offeredVersions(error: unknown): string[] | undefined {
  for (let e = error, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof UnsupportedProtocolVersionError) return e.supported;
  }
  const rpc = jsonRpcErrorOf(error);
  if (rpc?.code === ProtocolErrorCode.UnsupportedProtocolVersion) {
    const supported = (rpc.data as { supported?: unknown } | undefined)?.supported;
    return Array.isArray(supported) ? supported.filter((v): v is string => typeof v === 'string') : [];
  }
  // A pinned revision the server never offered (its discover answer, or its legacy refusal of it).
  if (rootCause(error) instanceof SdkError && (rootCause(error) as SdkError).code === SdkErrorCode.EraNegotiationFailed) return [];
  return undefined;
}

/**
 * A failed connect, as callers can act on it: the BFF's own refusals (login needed, store down)
 * come out as themselves; "no version in common" as NoCommonProtocolError; anything else as it was.
 */
function translateConnectError(error: unknown, protocol: ProtocolPreference): unknown {
  const root = rootCause(error);
  if (!(root instanceof SdkError) && !(root instanceof ProtocolError) && root instanceof Error) return root;
  const offered = offeredVersions(error);
  if (offered !== undefined) return new NoCommonProtocolError(offered, protocol, { cause: error });
  return error;
}

/**
 * Errors a 2026-07-28 server answers with that say nothing about the era (the request itself was
 * wrong); any other JSON-RPC error on an HTTP 400 is a legacy server refusing a modern request.
 */
const MODERN_REQUEST_ERRORS: ReadonlySet<number> = new Set([
  ProtocolErrorCode.InvalidRequest,
  ProtocolErrorCode.MethodNotFound,
  ProtocolErrorCode.InvalidParams,
  ProtocolErrorCode.MissingRequiredClientCapability,
  -32020, // HeaderMismatch
]);

/**
 * The server answered in another era than the one this connection speaks: it no longer knows the
 * negotiated revision (-32022), or, on a modern connection, it refused the request the way a
 * 2025-11-25 server refuses one without a session. Worth one fresh negotiation, never more.
 */
export function isEraMismatch(error: unknown, era?: Era): boolean {
  if (error instanceof NoCommonProtocolError) return true;
  const root = rootCause(error);
  if (root instanceof SdkError && root.code === SdkErrorCode.EraNegotiationFailed) return true;
  const rpc = jsonRpcErrorOf(error);
  if (!rpc) return false;
  if (rpc.code === ProtocolErrorCode.UnsupportedProtocolVersion) return true;
  const httpRefusal = root instanceof SdkError && (root.data as { status?: unknown } | undefined)?.status === 400;
  return era === 'modern' && httpRefusal && !MODERN_REQUEST_ERRORS.has(rpc.code);
}
