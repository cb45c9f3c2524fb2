import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import {
  createAccessTokenVerifier,
  InvalidAccessTokenError,
  KeysUnavailableError,
  type VerifiedAccessToken,
} from './access-token.js';
import { BodyTooLargeError, readBody } from './http-body.js';
import { ADMIN_SCOPE, ADMIN_TOOL, buildMcpServer } from './mcp-tools.js';

export interface McpServerOptions {
  /** Its own exact URL, e.g. http://127.0.0.1:4100/mcp: served path and required token audience. */
  resource: string;
  /** The authorization server's issuer, e.g. http://127.0.0.1:4000. */
  issuer: string;
  /** Scope every request needs; default 'mcp:tools'. */
  requiredScope?: string;
  /** Answer POSTs with a single JSON body instead of an SSE stream (default false: SSE). */
  enableJsonResponse?: boolean;
  /**
   * The SDK's stateless mode: a fresh server and transport per POST, no Mcp-Session-Id. Used by the
   * benchmark, which sends the same tools/call from many connections without an MCP session.
   */
  stateless?: boolean;
}

export interface McpDemo {
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** Method and headers (lower-cased names) of every request that reached the MCP path, for tests asserting what a proxy forwarded. */
  received: Array<{ method: string; headers: Record<string, string | string[] | undefined>; closed: boolean }>;
  /** Closes every MCP session and its transport. */
  close(): Promise<void>;
}

export const SCOPES_SUPPORTED = ['mcp:tools', ADMIN_SCOPE];
const BODY_LIMIT = 1024 * 1024;

interface Session {
  transport: StreamableHTTPServerTransport;
  server: McpServer;
  /** The token subject that created the session; only that subject may use it. */
  sub: string;
}

export function createMcpServer(options: McpServerOptions): McpDemo {
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
  };
  const verify = createAccessTokenVerifier({ issuer: options.issuer, resource: options.resource });
  const sessions = new Map<string, Session>();
  const received: McpDemo['received'] = [];

  /** RFC 6750 §3 challenge, with RFC 9728's resource_metadata so clients can discover the AS. */
  function challenge(params: { error?: string; description?: string; scope: string }): string {
    const parts: string[] = [];
    if (params.error) parts.push(`error="${params.error}"`);
    if (params.description) parts.push(`error_description="${params.description}"`);
    parts.push(`resource_metadata="${metadataUrl}"`, `scope="${params.scope}"`);
    return `Bearer ${parts.join(', ')}`;
  }

  function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.statusCode = status;
    res.setHeader('Content-Type', 'application/json');
    res.setHeader('Cache-Control', 'no-store');
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    res.end(JSON.stringify(body));
  }

  const jsonRpcError = (code: number, message: string) => ({ jsonrpc: '2.0', error: { code, message }, id: null });

  async function authenticate(req: IncomingMessage, res: ServerResponse): Promise<VerifiedAccessToken | undefined> {
    const header = req.headers.authorization;
    const match = header === undefined ? null : /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
    if (!header || !/^bearer\b/i.test(header)) {
      // No credentials at all: RFC 6750 says no error code, just the challenge.
      sendJson(res, 401, { error: 'unauthorized', error_description: 'A bearer access token is required' }, {
        'WWW-Authenticate': challenge({ scope: requiredScope }),
      });
      return undefined;
    }
    const invalid = (description: string) =>
      sendJson(res, 401, { error: 'invalid_token', error_description: description }, {
        'WWW-Authenticate': challenge({ error: 'invalid_token', description, scope: requiredScope }),
      });
    if (!match?.[1]) {
      invalid('The access token is invalid');
      return undefined;
    }
    try {
      return await verify(match[1]);
    } catch (err) {
      if (err instanceof InvalidAccessTokenError) {
        invalid(err.publicDescription);
        return undefined;
      }
      if (err instanceof KeysUnavailableError) {
        console.error('[demo-mcp]', err.message);
        sendJson(res, 503, { error: 'temporarily_unavailable', error_description: 'Cannot validate tokens right now' }, { 'Retry-After': '5' });
        return undefined;
      }
      throw err;
    }
  }

  function insufficientScope(res: ServerResponse, scope: string): void {
    sendJson(res, 403, { error: 'insufficient_scope', error_description: `This request needs the scope: ${scope}`, scope }, {
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

  async function handleMcp(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const entry = { method: req.method ?? '', headers: { ...req.headers }, closed: false };
    received.push(entry);
    // Tests watch whether a proxy closed a stream it no longer needed.
    res.on('close', () => {
      entry.closed = true;
    });
    const method = req.method ?? '';
    if (method !== 'GET' && method !== 'POST' && method !== 'DELETE') {
      res.setHeader('Allow', 'GET, POST, DELETE');
      return sendJson(res, 405, jsonRpcError(-32000, 'Method not allowed'));
    }
    // RFC 6750 §2.3 query tokens end up in logs and histories: refuse them outright, even valid ones.
    if (url.searchParams.has('access_token')) {
      return sendJson(res, 400, { error: 'invalid_request', error_description: 'Send the access token in the Authorization header only' }, {
        'WWW-Authenticate': challenge({ error: 'invalid_request', scope: requiredScope }),
      });
    }

    const token = await authenticate(req, res);
    if (!token) return;
    if (!token.scopes.includes(requiredScope)) return insufficientScope(res, requiredScope);

    let body: unknown;
    if (method === 'POST') {
      const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
      if (type !== 'application/json') return sendJson(res, 415, jsonRpcError(-32000, 'Content-Type must be application/json'));
      try {
        body = JSON.parse(await readBody(req, BODY_LIMIT));
      } catch (err) {
        if (err instanceof BodyTooLargeError) return sendJson(res, 413, jsonRpcError(-32000, 'Request body too large'));
        return sendJson(res, 400, jsonRpcError(-32700, 'Parse error: Invalid JSON'));
      }
      // Decided here, before the transport, so the client gets an HTTP 403 it can act on (step-up).
      if (callsAdminTool(body) && !token.scopes.includes(ADMIN_SCOPE)) {
        return insufficientScope(res, [requiredScope, ADMIN_SCOPE].join(' '));
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
    (req as IncomingMessage & { auth?: AuthInfo }).auth = authInfo;

    if (options.stateless) {
      if (method !== 'POST') return sendJson(res, 405, jsonRpcError(-32000, 'Only POST in stateless mode'), { Allow: 'POST' });
      const server = buildMcpServer({ sessionCount: () => 0 });
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
        enableJsonResponse: options.enableJsonResponse ?? false,
      });
      res.on('close', () => {
        void transport.close();
        void server.close();
      });
      await server.connect(transport);
      await transport.handleRequest(req, res, body);
      return;
    }

    const sessionId = req.headers['mcp-session-id'];
    if (typeof sessionId === 'string') {
      const session = sessions.get(sessionId);
      // Someone else's session id is as good as an unknown one: 404, nothing revealed.
      if (!session || session.sub !== token.sub) return sendJson(res, 404, jsonRpcError(-32001, 'Session not found'));
      await session.transport.handleRequest(req, res, body);
      // MCP sends no response to a cancelled request, so the SSE stream of the POST that carried it
      // would stay open until the client hangs up (through a proxy, one busy browser connection per
      // cancelled call). The tool has already been aborted by now; end its stream too.
      for (const requestId of cancelledRequestIds(body)) session.transport.closeSSEStream(requestId);
      return;
    }
    if (method !== 'POST' || !isInitializeRequest(body)) {
      return sendJson(res, 400, jsonRpcError(-32000, 'Bad Request: Mcp-Session-Id header is required'));
    }

    const server = buildMcpServer({ sessionCount: () => sessions.size });
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      enableJsonResponse: options.enableJsonResponse ?? false,
      onsessioninitialized: (id) => {
        sessions.set(id, { transport, server, sub: token.sub });
      },
      onsessionclosed: (id) => {
        sessions.delete(id);
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', resourceUrl.origin);
    if (metadataPaths.has(url.pathname)) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('Allow', 'GET, HEAD');
        return sendJson(res, 405, { error: 'method_not_allowed' });
      }
      return sendJson(res, 200, metadata, { 'Cache-Control': 'public, max-age=60' });
    }
    if (url.pathname === mcpPath) return handleMcp(req, res, url);
    return sendJson(res, 404, { error: 'not_found' });
  }

  return {
    handler(req, res) {
      route(req, res).catch((err: unknown) => {
        console.error('[demo-mcp] unhandled error:', err);
        if (!res.headersSent) sendJson(res, 500, jsonRpcError(-32603, 'Internal server error'));
        else res.destroy();
      });
    },
    received,
    async close() {
      const all = [...sessions.values()];
      sessions.clear();
      await Promise.allSettled(all.map((s) => s.server.close()));
    },
  };
}
