import { bffRoutes } from '@mcp-bff/shared';
import type { Context } from 'hono';
import { ApiFailure, authServerUnavailable, loginRequired } from '../http/errors.js';
import type { Logger } from '../log.js';
import { MAX_STEP_UP_ATTEMPTS, normaliseScopes, splitScopes } from '../oauth/client.js';
import type { ChallengeHintsCache } from '../oauth/hints.js';
import type { AccessOutcome, TokenManager } from '../oauth/tokens.js';
import type { SessionRecord, TokenRecord, TokenStore } from '../store/types.js';
import { bearerChallenge } from '../oauth/www-authenticate.js';
import { downstreamResponseHeaders, isValidMcpSessionId, upstreamRequestHeaders } from './headers.js';

export interface ProxyOptions {
  store: TokenStore;
  tokens: TokenManager;
  log: Logger;
  maxBodyBytes: number;
  upstreamTimeoutMs: number;
  hints: ChallengeHintsCache;
  /** Creates a browser session (and its cookie) for an anonymous browser. */
  startSession: (c: Context) => Promise<SessionRecord>;
  fetch?: typeof fetch;
}

export interface ProxyTarget {
  id: string;
  url: string;
}

const METHODS = new Set(['GET', 'POST', 'DELETE']);

/**
 * Forwards one MCP Streamable HTTP request to the configured server with the session's bearer token.
 * Request bodies are read (bounded) because an upstream 401 is retried once after a refresh; response
 * bodies, SSE included, are streamed through untouched and cancelled when the browser goes away.
 */
export class McpProxy {
  private readonly fetch: typeof fetch;

  constructor(private readonly options: ProxyOptions) {
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  /**
   * Login is lazy: without a connection the request goes upstream without a token, so servers that
   * need no authorization just work; the first 401 is the challenge that says how to log in.
   */
  async forward(c: Context, target: ProxyTarget, initialSession: SessionRecord | undefined): Promise<Response> {
    const { store, tokens, hints } = this.options;
    let session = initialSession;
    const method = c.req.method;
    if (!METHODS.has(method)) {
      throw new ApiFailure('method_not_allowed', 'Only GET, POST and DELETE are allowed here.', {}, { Allow: 'GET, POST, DELETE' });
    }
    const url = new URL(c.req.url);
    if (url.searchParams.has('access_token')) {
      this.options.log.warn({ event: 'security', kind: 'token_in_query', reqId: c.get('requestId') });
      throw new ApiFailure('bad_request', 'Tokens are never accepted in the URL.');
    }
    const loginUrl = bffRoutes.login(target.id, '/');

    const mcpSessionId = c.req.header('mcp-session-id');
    if (mcpSessionId !== undefined) {
      if (!isValidMcpSessionId(mcpSessionId)) throw new ApiFailure('bad_request', 'Malformed Mcp-Session-Id.');
      const owner = await store.getMcpSessionOwner(mcpSessionId);
      if (!session || !owner || owner.sessionId !== session.id || owner.server !== target.id) {
        // Indistinguishable from an expired MCP session: the client re-initializes.
        throw new ApiFailure('not_found', 'Unknown MCP session.');
      }
    }

    const body = method === 'POST' ? await this.readBody(c) : undefined;

    let access: AccessOutcome = session ? await tokens.getAccess(session.id, target.id) : { kind: 'login_required' };
    for (let attempt = 0; ; attempt++) {
      if (access.kind === 'unavailable') throw authServerUnavailable(access.cause);
      const token = access.kind === 'ok' ? access.record.accessToken : undefined;
      const upstream = await this.send(c, target.url, method, body, token);

      if (upstream.status === 401) {
        await upstream.body?.cancel();
        hints.remember(target.id, bearerChallenge(upstream.headers.get('www-authenticate')));
        if (token && session && attempt === 0) {
          // The token may have been revoked or expired early: one refresh, one retry.
          access = await tokens.getAccess(session.id, target.id, token);
          if (access.kind === 'ok') continue;
          if (access.kind === 'unavailable') throw authServerUnavailable(access.cause);
        }
        // Only the tokens that were just refused: another instance may have stored newer ones meanwhile.
        if (session && access.kind === 'ok') await store.deleteConnection(session.id, target.id, access.record.generation);
        throw loginRequired(loginUrl);
      }
      if (upstream.status === 403) {
        const challenge = bearerChallenge(upstream.headers.get('www-authenticate'));
        if (challenge.error === 'insufficient_scope') {
          await upstream.body?.cancel();
          throw this.stepUp(target, access.kind === 'ok' ? access.record : undefined, challenge.scope ?? '');
        }
      }

      const headers = downstreamResponseHeaders(upstream.headers);
      const newMcpSession = upstream.headers.get('mcp-session-id');
      if (newMcpSession && upstream.ok && isValidMcpSessionId(newMcpSession) && newMcpSession !== mcpSessionId) {
        // MCP sessions are bound to the browser session that created them; an anonymous browser gets
        // a session now, so that its MCP session is its own.
        session ??= await this.options.startSession(c);
        await store.bindMcpSession(newMcpSession, { sessionId: session.id, server: target.id });
      }
      if (method === 'DELETE' && mcpSessionId && (upstream.ok || upstream.status === 404)) {
        await store.unbindMcpSession(mcpSessionId);
      }
      // A session started above set its cookie on the context, which a raw Response would drop.
      for (const cookie of c.res.headers.getSetCookie()) headers.append('set-cookie', cookie);
      return new Response(upstream.body, { status: upstream.status, headers });
    }
  }

  /**
   * A 403 insufficient_scope: offers a login for the granted and the required scopes, at most
   * MAX_STEP_UP_ATTEMPTS times for the same need; then a plain refusal, never a loop.
   */
  private stepUp(target: ProxyTarget, record: TokenRecord | undefined, scope: string): ApiFailure {
    const required = normaliseScopes(splitScopes(scope) ?? []).join(' ');
    const attempts = record?.stepUp?.scope === required ? record.stepUp.attempts : 0;
    if (attempts >= MAX_STEP_UP_ATTEMPTS || !required) {
      return new ApiFailure('insufficient_scope', 'The MCP server needs permissions that were not granted.', { scope: required });
    }
    return new ApiFailure('insufficient_scope', 'The MCP server needs more permissions for this.', {
      scope: required,
      loginUrl: `${bffRoutes.login(target.id, '/')}&scope=${encodeURIComponent(required)}`,
    });
  }

  private async send(c: Context, url: string, method: string, body: Uint8Array | undefined, token: string | undefined): Promise<Response> {
    const controller = new AbortController();
    let timedOut = false;
    const browserGone = () => controller.abort(new Error('client disconnected'));
    const signal = c.req.raw.signal;
    if (signal.aborted) browserGone();
    else signal.addEventListener('abort', browserGone, { once: true });
    // The timeout covers the wait for response headers only: an SSE body may legitimately stay open.
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error('upstream timeout'));
    }, this.options.upstreamTimeoutMs);
    try {
      return await this.fetch(url, {
        method,
        headers: upstreamRequestHeaders(c.req.raw.headers, token),
        body: body as BodyInit | undefined,
        redirect: 'manual',
        signal: controller.signal,
      });
    } catch (error) {
      const reqId = c.get('requestId');
      if (timedOut) {
        this.options.log.warn({ event: 'upstream_timeout', reqId });
        throw new ApiFailure('upstream_timeout', 'The MCP server did not answer in time.', {}, {}, { cause: error });
      }
      if (signal.aborted) {
        // The browser went away before the MCP server answered: nobody is left to tell.
        this.options.log.debug({ event: 'client_gone', reqId });
      } else {
        this.options.log.warn({ event: 'upstream_failed', reason: (error as Error).name, reqId });
      }
      throw new ApiFailure('upstream_unavailable', 'The MCP server could not be reached.', {}, {}, { cause: error });
    } finally {
      clearTimeout(timer);
      // Once headers are in, the server adapter cancels the body stream (and so the upstream
      // connection) when the browser goes away.
      signal.removeEventListener('abort', browserGone);
    }
  }

  /** Reads at most maxBodyBytes: refuses early on Content-Length, and stops reading past the limit. */
  private async readBody(c: Context): Promise<Uint8Array> {
    const limit = this.options.maxBodyBytes;
    const tooLarge = () => new ApiFailure('payload_too_large', `Request bodies are limited to ${limit} bytes.`);
    // A client that goes away (or is cut off for sending too slowly) mid-body is not a server error.
    const bodyLost = (error: unknown): never => {
      throw new ApiFailure('bad_request', 'The request body did not arrive.', {}, {}, { cause: error });
    };
    const declared = Number(c.req.header('content-length') ?? 'NaN');
    if (Number.isFinite(declared) && declared > limit) throw tooLarge();
    // With a Content-Length (what browsers send) Node's HTTP parser delivers exactly that many bytes:
    // read them in one go, through the server adapter's fast path that skips building a web stream.
    if (Number.isFinite(declared) && c.req.header('transfer-encoding') === undefined) {
      return new Uint8Array(await c.req.raw.arrayBuffer().catch(bodyLost));
    }
    const stream = c.req.raw.body;
    if (!stream) return new Uint8Array();
    const reader = stream.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read().catch(bodyLost);
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel();
        throw tooLarge();
      }
      chunks.push(value);
    }
    const out = new Uint8Array(size);
    let offset = 0;
    for (const chunk of chunks) {
      out.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return out;
  }
}
