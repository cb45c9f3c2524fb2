import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener, type HttpBindings } from '@hono/node-server';
import {
  type AuthInfo,
  createMcpHandler,
  isInitializeRequest,
  isLegacyRequest,
  type McpHttpHandler,
  type McpServer,
  readRequestBody,
  WebStandardStreamableHTTPServerTransport,
} from '@modelcontextprotocol/server';
import {
  createAccessTokenVerifier,
  createIntrospectionVerifier,
  InvalidAccessTokenError,
  KeysUnavailableError,
  type VerifiedAccessToken,
} from './access-token.js';
import { createDpopChecker, DPOP_PROOF_ALGORITHMS, DpopProofError } from './dpop-proof.js';
import { checkListOptions, type ListOptions } from './mcp-lists.js';
import { ADMIN_SCOPE, ADMIN_TOOL, buildMcpServer, createDemoState, type ProtocolEra } from './mcp-tools.js';
import { confirmationPage } from './url-confirmations.js';

/**
 * Which MCP protocol eras the server speaks on its one URL: both (the default, chosen per request as the
 * 2026-07-28 versioning section says: a request carrying the per-request `_meta` envelope is modern, an
 * `initialize` opens a 2025-11-25 session), or only one of them, to test how clients fall back or fail.
 */
export type McpProtocols = 'both' | '2026-07-28' | '2025-11-25';
export const MCP_PROTOCOLS: readonly McpProtocols[] = ['both', '2026-07-28', '2025-11-25'];

export interface McpServerOptions {
  /** Its own exact URL, e.g. http://127.0.0.1:4100/mcp: served path and required token audience. */
  resource: string;
  /** The authorization server's issuer, e.g. http://127.0.0.1:4000. */
  issuer: string;
  /** Scope every request needs; default 'mcp:tools'. */
  requiredScope?: string;
  /**
   * 2025-11-25 era: answer POSTs with a single JSON body instead of an SSE stream (default false: SSE).
   * The 2026-07-28 era always answers JSON unless the call streams notifications before its result.
   */
  enableJsonResponse?: boolean;
  /**
   * 2025-11-25 era without sessions: a fresh server and transport per POST, no Mcp-Session-Id. Used by
   * the benchmark, which sends the same tools/call from many connections without an MCP session.
   */
  stateless?: boolean;
  /**
   * Which eras to speak (default 'both'). '2026-07-28' alone answers a 2025-11-25 request (initialize
   * included) with 400 and the unsupported-protocol-version error naming 2026-07-28, GET and DELETE
   * with 405; '2025-11-25' alone answers a 2026-07-28 request as a 2025-11-25 server does (400, the
   * session is missing), so a dual-era client falls back to initialize.
   */
  protocols?: McpProtocols;
  /**
   * Suggest prompt arguments and template variables (`completion/complete`) and declare the
   * `completions` capability (default true); false makes a server that declares neither.
   */
  completions?: boolean;
  /**
   * Every list in pages of this many items, and that many made-up resources (demo://bulk/…) besides the
   * demo's own (mcp-lists.ts): what a client must page through. Default: one page each, no extras.
   */
  lists?: ListOptions;
  /**
   * Validate tokens by RFC 7662 introspection at this endpoint instead of as JWTs signed by the
   * issuer's keys: for an authorization server that issues opaque access tokens.
   */
  introspectionEndpoint?: string;
  /**
   * Take only DPoP-bound access tokens (RFC 9449), each with a valid proof (dpop-proof.ts): a token
   * presented as a bearer token, or with a proof made with another key, is refused with 401.
   * `requireNonce` makes every proof carry this server's nonce (401 use_dpop_nonce + DPoP-Nonce first).
   * `optional` also takes bearer tokens that are not DPoP-bound (a bound one presented as a bearer
   * token is still refused, RFC 9449 §7.2): both kinds of client against one server (the bench).
   * `iatWindowSeconds`: how far a proof's iat may be from now (default 60).
   */
  dpop?: { requireNonce?: boolean; optional?: boolean; iatWindowSeconds?: number };
}

export interface McpDemo {
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** Method and headers (lower-cased names) of every request that reached the MCP path, for tests asserting what a proxy forwarded. */
  received: Array<{ method: string; headers: Record<string, string | string[] | undefined>; closed: boolean }>;
  /** Closes every MCP session and its transport, and every 2026-07-28 exchange and listen stream. */
  close(): Promise<void>;
  /**
   * Changes the eras it speaks from the next request on, as a server being upgraded or rolled back
   * would (tests of clients that must notice). Sessions already open are kept but refused while
   * 2025-11-25 is off.
   */
  setProtocols(protocols: McpProtocols): void;
  /** With `dpop`: proofs refused so far, by the error they got (tests). */
  dpopRefused: Record<string, number>;
}

export const SCOPES_SUPPORTED = ['mcp:tools', ADMIN_SCOPE];
const BODY_LIMIT = 1024 * 1024;

interface Session {
  transport: WebStandardStreamableHTTPServerTransport;
  server: McpServer;
  /** The token subject that created the session; only that subject may use it. */
  sub: string;
}

export function createMcpServer(options: McpServerOptions): McpDemo {
  const protocols = options.protocols ?? 'both';
  if (!MCP_PROTOCOLS.includes(protocols)) throw new Error(`"protocols" must be one of ${MCP_PROTOCOLS.join(', ')}`);
  if (options.lists) checkListOptions(options.lists);
  const speaks = { modern: protocols !== '2025-11-25', legacy: protocols !== '2026-07-28' };
  const setProtocols = (next: McpProtocols) => {
    if (!MCP_PROTOCOLS.includes(next)) throw new Error(`"protocols" must be one of ${MCP_PROTOCOLS.join(', ')}`);
    speaks.modern = next !== '2025-11-25';
    speaks.legacy = next !== '2026-07-28';
  };
  const resourceUrl = new URL(options.resource);
  const mcpPath = resourceUrl.pathname;
  const requiredScope = options.requiredScope ?? 'mcp:tools';
  // RFC 9728 §3.1: the well-known suffix is inserted before the resource's path.
  const metadataUrl = `${resourceUrl.origin}/.well-known/oauth-protected-resource${mcpPath === '/' ? '' : mcpPath}`;
  const metadataPaths = new Set([new URL(metadataUrl).pathname, '/.well-known/oauth-protected-resource']);
  const metadata = {
    resource: options.resource,
    authorization_servers: [options.issuer],
    scopes_supported: SCOPES_SUPPORTED,
    bearer_methods_supported: ['header'],
    resource_name: 'Demo MCP server',
    ...(options.dpop
      ? { dpop_signing_alg_values_supported: DPOP_PROOF_ALGORITHMS, dpop_bound_access_tokens_required: options.dpop.optional !== true }
      : {}),
  };
  const dpop = options.dpop
    ? createDpopChecker({
        ...(options.dpop.requireNonce !== undefined ? { requireNonce: options.dpop.requireNonce } : {}),
        ...(options.dpop.iatWindowSeconds !== undefined ? { iatWindowSeconds: options.dpop.iatWindowSeconds } : {}),
      })
    : undefined;
  /** The URL proofs must name (htu): this server's, without query or fragment. */
  const htu = `${resourceUrl.origin}${resourceUrl.pathname}`;
  const verify = options.introspectionEndpoint
    ? createIntrospectionVerifier({ endpoint: options.introspectionEndpoint, resource: options.resource })
    : createAccessTokenVerifier({ issuer: options.issuer, resource: options.resource });
  const sessions = new Map<string, Session>();
  const received: McpDemo['received'] = [];
  const state = createDemoState();
  const completions = options.completions ?? true;
  const build = (era: ProtocolEra) =>
    buildMcpServer({
      era,
      origin: resourceUrl.origin,
      sessionCount: () => sessions.size,
      state,
      completions,
      ...(options.lists ? { lists: options.lists } : {}),
    });

  // 2026-07-28: a fresh server per request, subscriptions/listen fed by the shared state's bus. Its own
  // legacy leg is off: 2025-11-25 traffic goes to the sessions below (or, modern only, is refused there).
  // Made whatever the eras, so that setProtocols can turn 2026-07-28 on later.
  const modern: McpHttpHandler = createMcpHandler(() => build('modern'), {
    legacy: 'reject',
    bus: state.bus,
    maxRequestBodySize: BODY_LIMIT,
    onerror: (err) => {
      // Refused requests (wrong era, bad headers) are answered on the wire; only surprises are logged.
      if (!/^(Rejected |Unsupported protocol version)/.test(err.message)) console.error('[demo-mcp]', err.message);
    },
  });

  const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers } });
  const jsonRpcError = (status: number, code: number, message: string, headers: Record<string, string> = {}) =>
    json(status, { jsonrpc: '2.0', error: { code, message }, id: null }, headers);

  /**
   * RFC 6750 §3 challenge, with RFC 9728's resource_metadata so clients can discover the AS; with DPoP
   * on, the DPoP scheme's (RFC 9449 §7.1), naming the proof algorithms it takes.
   */
  function challenge(params: { error?: string; description?: string; scope: string }): string {
    const parts: string[] = [];
    if (params.error) parts.push(`error="${params.error}"`);
    if (params.description) parts.push(`error_description="${params.description}"`);
    parts.push(`resource_metadata="${metadataUrl}"`, `scope="${params.scope}"`);
    if (!dpop) return `Bearer ${parts.join(', ')}`;
    const dpopChallenge = `DPoP ${[...parts, `algs="${DPOP_PROOF_ALGORITHMS.join(' ')}"`].join(', ')}`;
    return options.dpop?.optional ? `Bearer ${parts.join(', ')}, ${dpopChallenge}` : dpopChallenge;
  }

  /** The verified token, or the response refusing the request. */
  async function authenticate(request: Request): Promise<VerifiedAccessToken | Response> {
    const header = request.headers.get('authorization');
    // With `optional`, a bearer token that is not DPoP-bound is taken too (checked below).
    const asBearer = dpop !== undefined && options.dpop?.optional === true && header !== null && /^bearer\b/i.test(header);
    const scheme = dpop && !asBearer ? 'DPoP' : 'Bearer';
    const match = header === null ? null : new RegExp(`^${scheme} +([A-Za-z0-9\\-._~+/]+=*) *$`, 'i').exec(header);
    if (dpop && !asBearer && header && /^bearer\b/i.test(header)) {
      // A DPoP-bound token (or any token) presented without proof of possession: refused.
      return json(401, { error: 'invalid_token', error_description: 'This server takes only DPoP-bound access tokens' }, {
        'WWW-Authenticate': challenge({ error: 'invalid_token', description: 'This server takes only DPoP-bound access tokens', scope: requiredScope }),
      });
    }
    if (!header || !new RegExp(`^${scheme}\\b`, 'i').test(header)) {
      // No credentials at all: RFC 6750 says no error code, just the challenge.
      return json(401, { error: 'unauthorized', error_description: 'A bearer access token is required' }, {
        'WWW-Authenticate': challenge({ scope: requiredScope }),
      });
    }
    const invalid = (description: string) =>
      json(401, { error: 'invalid_token', error_description: description }, {
        'WWW-Authenticate': challenge({ error: 'invalid_token', description, scope: requiredScope }),
      });
    if (!match?.[1]) return invalid('The access token is invalid');
    try {
      const verified = await verify(match[1]);
      if (asBearer && verified.payload.cnf !== undefined) return invalid('A DPoP-bound access token needs a DPoP proof');
      if (dpop && !asBearer) {
        try {
          await dpop.check(request.headers.get('dpop'), { htm: request.method, htu, accessToken: verified.token, claims: verified.payload });
        } catch (err) {
          if (!(err instanceof DpopProofError)) throw err;
          const description = err.code === 'use_dpop_nonce' ? 'A DPoP nonce is required' : err.message;
          const nonce = dpop.nonce;
          return json(401, { error: err.code, error_description: description }, {
            'WWW-Authenticate': challenge({ error: err.code, description, scope: requiredScope }),
            ...(nonce ? { 'DPoP-Nonce': nonce } : {}),
          });
        }
      }
      return verified;
    } catch (err) {
      if (err instanceof InvalidAccessTokenError) return invalid(err.publicDescription);
      if (err instanceof KeysUnavailableError) {
        console.error('[demo-mcp]', err.message);
        return json(503, { error: 'temporarily_unavailable', error_description: 'Cannot validate tokens right now' }, { 'Retry-After': '5' });
      }
      throw err;
    }
  }

  function insufficientScope(scope: string): Response {
    return json(403, { error: 'insufficient_scope', error_description: `This request needs the scope: ${scope}`, scope }, {
      'WWW-Authenticate': challenge({ error: 'insufficient_scope', scope }),
    });
  }

  /** Does any JSON-RPC message in the body call the admin-only tool? */
  function callsAdminTool(body: unknown): boolean {
    const messages = Array.isArray(body) ? body : [body];
    return messages.some((m) => {
      if (!m || typeof m !== 'object') return false;
      const { method, params } = m as { method?: unknown; params?: { name?: unknown } };
      return method === 'tools/call' && params?.name === ADMIN_TOOL;
    });
  }

  /** Request ids named by notifications/cancelled messages in a POST body. */
  function cancelledRequestIds(body: unknown): Array<string | number> {
    const messages = Array.isArray(body) ? body : [body];
    return messages.flatMap((m) => {
      const { method, params } = (m ?? {}) as { method?: unknown; params?: { requestId?: unknown } };
      const id = params?.requestId;
      return method === 'notifications/cancelled' && (typeof id === 'string' || typeof id === 'number') ? [id] : [];
    });
  }

  async function handleMcp(request: Request, url: URL, res: ServerResponse): Promise<Response> {
    const method = request.method;
    if (method !== 'GET' && method !== 'POST' && method !== 'DELETE') {
      return jsonRpcError(405, -32000, 'Method not allowed', { Allow: speaks.legacy ? 'GET, POST, DELETE' : 'POST' });
    }
    // RFC 6750 §2.3 query tokens end up in logs and histories: refuse them outright, even valid ones.
    if (url.searchParams.has('access_token')) {
      return json(400, { error: 'invalid_request', error_description: 'Send the access token in the Authorization header only' }, {
        'WWW-Authenticate': challenge({ error: 'invalid_request', scope: requiredScope }),
      });
    }

    // The same checks in both eras, before either SDK path sees the request.
    const token = await authenticate(request);
    if (token instanceof Response) return token;
    if (!token.scopes.includes(requiredScope)) return insufficientScope(requiredScope);

    let body: unknown;
    if (method === 'POST') {
      const type = (request.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
      if (type !== 'application/json') return jsonRpcError(415, -32000, 'Content-Type must be application/json');
      const read = await readRequestBody(request, BODY_LIMIT);
      if (read.tooLarge) return jsonRpcError(413, -32000, 'Request body too large');
      try {
        body = JSON.parse(read.text);
      } catch {
        return jsonRpcError(400, -32700, 'Parse error: Invalid JSON');
      }
      // Decided here, before the transport, so the client gets an HTTP 403 it can act on (step-up).
      if (callsAdminTool(body) && !token.scopes.includes(ADMIN_SCOPE)) {
        return insufficientScope([requiredScope, ADMIN_SCOPE].join(' '));
      }
    }

    const authInfo: AuthInfo = {
      token: token.token,
      clientId: token.clientId,
      scopes: token.scopes,
      expiresAt: token.expiresAt,
      resource: resourceUrl,
      extra: { sub: token.sub },
    };
    // The SDK's own classification (the envelope claim in _meta and the MCP-Protocol-Version header)
    // decides the era, so that this routing and its modern path can never disagree.
    if (speaks.modern && (!speaks.legacy || !(await isLegacyRequest(request, body, { maxRequestBodySize: BODY_LIMIT })))) {
      return modern.fetch(request, { authInfo, parsedBody: body });
    }
    return serveLegacy(request, body, token.sub, authInfo, res);
  }

  /** 2025-11-25: Mcp-Session-Id sessions, each bound to the subject that opened it (or, stateless, none). */
  async function serveLegacy(request: Request, body: unknown, sub: string, authInfo: AuthInfo, res: ServerResponse): Promise<Response> {
    const enableJsonResponse = options.enableJsonResponse ?? false;
    if (options.stateless) {
      if (request.method !== 'POST') return jsonRpcError(405, -32000, 'Only POST in stateless mode', { Allow: 'POST' });
      const server = build('legacy');
      const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse });
      res.on('close', () => {
        void transport.close();
        void server.close();
      });
      await server.connect(transport);
      return transport.handleRequest(request, { parsedBody: body, authInfo });
    }

    const sessionId = request.headers.get('mcp-session-id');
    if (sessionId !== null) {
      const session = sessions.get(sessionId);
      // Someone else's session id is as good as an unknown one: 404, nothing revealed.
      if (!session || session.sub !== sub) return jsonRpcError(404, -32001, 'Session not found');
      const response = await session.transport.handleRequest(request, { parsedBody: body, authInfo });
      // MCP sends no response to a cancelled request, so the SSE stream of the POST that carried it
      // would stay open until the client hangs up (through a proxy, one busy browser connection per
      // cancelled call). The tool has already been aborted by now; end its stream too.
      for (const requestId of cancelledRequestIds(body)) session.transport.closeSSEStream(requestId);
      return response;
    }
    // What a 2025-11-25 server answers anything but initialize without a session, 2026-07-28 requests
    // included: a dual-era client reads this as "legacy server" and falls back to initialize.
    if (request.method !== 'POST' || !isInitializeRequest(body)) {
      return jsonRpcError(400, -32000, 'Bad Request: Mcp-Session-Id header is required');
    }

    const server = build('legacy');
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      enableJsonResponse,
      onsessioninitialized: (id) => {
        sessions.set(id, { transport, server, sub });
      },
      onsessionclosed: (id) => {
        sessions.delete(id);
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    return transport.handleRequest(request, { parsedBody: body, authInfo });
  }

  async function route(request: Request, res: ServerResponse): Promise<Response> {
    const url = new URL(request.url);
    if (metadataPaths.has(url.pathname)) {
      if (request.method !== 'GET' && request.method !== 'HEAD') return json(405, { error: 'method_not_allowed' }, { Allow: 'GET, HEAD' });
      return json(200, metadata, { 'Cache-Control': 'public, max-age=60' });
    }
    if (url.pathname === mcpPath) return handleMcp(request, url, res);
    return confirmationPage(request, url.pathname, state.confirmations) ?? json(404, { error: 'not_found' });
  }

  // The SDK's HTTP face is web-standard (Request in, Response out); Hono's adapter bridges it to
  // node:http, streaming both ways and aborting the Request's signal when the client goes away (which is
  // how a 2026-07-28 client cancels: it closes the response stream).
  const listener = getRequestListener(
    async (request, env) => {
      try {
        return await route(request, (env as HttpBindings).outgoing);
      } catch (err) {
        console.error('[demo-mcp] unhandled error:', err);
        return jsonRpcError(500, -32603, 'Internal server error');
      }
    },
    { overrideGlobalObjects: false },
  );

  return {
    handler(req, res) {
      const entry = { method: req.method ?? '', headers: { ...req.headers }, closed: false };
      if (new URL(req.url ?? '/', resourceUrl.origin).pathname === mcpPath) received.push(entry);
      // Tests watch whether a proxy closed a stream it no longer needed.
      res.on('close', () => {
        entry.closed = true;
      });
      void listener(req, res);
    },
    received,
    dpopRefused: dpop?.refused ?? {},
    setProtocols,
    async close() {
      const all = [...sessions.values()];
      sessions.clear();
      await Promise.allSettled([...all.map((s) => s.server.close()), modern.close()]);
    },
  };
}
