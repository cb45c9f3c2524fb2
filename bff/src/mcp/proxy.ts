import type { IncomingMessage } from 'node:http';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { bffRoutes } from '@mcp-bff/shared';
import type { Context } from 'hono';
import type { ClientAddress } from '../http/client-address.js';
import { type Drain, SHUTDOWN_TRAILER, type StreamKind } from '../http/drain.js';
import { ApiFailure, authServerUnavailable, loginRequired } from '../http/errors.js';
import { nodeRequest, nodeResponse, requestHeader, requestHeaderLines, requestQuery, watchClient } from '../http/node.js';
import type { Logger } from '../log.js';
import { type Metrics, noMetrics, upstreamOutcome } from '../metrics.js';
import { MAX_STEP_UP_ATTEMPTS, normaliseScopes, splitScopes } from '../oauth/client.js';
import { asksForDpopNonce, dpopNonces, dpopSigner, namesDpop } from '../oauth/dpop.js';
import { type ChallengeHintsCache, loginUrlAfter } from '../oauth/hints.js';
import type { ServiceTokens } from '../oauth/service-credentials.js';
import type { AccessOutcome, TokenManager } from '../oauth/tokens.js';
import type { SessionRecord, SessionWithConnection, TokenRecord, TokenStore } from '../store/types.js';
import { bearerChallenge } from '../oauth/www-authenticate.js';
import { pendingSetCookies } from '../session/cookies.js';
import { checkRequestHeaders, downstreamResponseHeaders, headerValue, isValidMcpSessionId, type UpstreamRequestHeaders } from './headers.js';
import { StreamSlots } from './stream-slots.js';
import { type UpstreamAnswer, UpstreamClient, UpstreamTimeout } from './upstream.js';

export interface ProxyOptions {
  store: TokenStore;
  tokens: TokenManager;
  log: Logger;
  maxBodyBytes: number;
  upstreamTimeoutMs: number;
  hints: ChallengeHintsCache;
  /** Creates a browser session (and its cookie) for an anonymous browser. */
  startSession: (c: Context) => Promise<SessionRecord>;
  /** Headers every answer carries (security headers), written by the proxy on the answers it streams. */
  responseHeaders: Array<[string, string]>;
  /** Who a request without a session is, for its open streams. */
  clientAddress: ClientAddress;
  /** Open SSE answers allowed per browser session. */
  maxStreamsPerSession: number;
  /** Open SSE answers allowed per client address, for requests without a session. */
  maxAnonymousStreamsPerAddress: number;
  /** The process's shutdown: open streams are closed with a retry hint when it drains. */
  drain?: Drain;
  /** Upstream latency and open streams are counted here (default: not at all). */
  metrics?: Metrics;
  /**
   * Tokens of the servers used with the deployment's own identity (client credentials): for those,
   * never a person's token, and never a login.
   */
  service?: Pick<ServiceTokens, 'handles' | 'access' | 'refusedByServer'>;
}

export interface ProxyTarget {
  id: string;
  url: string;
}

const METHODS = new Set(['GET', 'POST', 'DELETE']);
/** Sends of one request with one token retried for a DPoP nonce (or scheme) before it is answered 503. */
const MAX_DPOP_RETRIES = 2;

/**
 * Forwards one MCP Streamable HTTP request to the configured server with the session's bearer token.
 * Request bodies are read (bounded) because an upstream 401 is retried once after a refresh; response
 * bodies, SSE included, are streamed through untouched and cancelled when the browser goes away.
 */
export class McpProxy {
  private readonly upstream = new UpstreamClient();
  /** Parsed once per configured server URL: its keys come from configuration only, never from a request. */
  private readonly targets = new Map<string, URL>();
  /** Open streams per session (or address): each holds a browser and an upstream connection. */
  readonly streams = new StreamSlots();
  /**
   * Servers (by id) that refused a DPoP-bound token presented with the DPoP scheme, with a challenge
   * that does not name DPoP, and then took it as a bearer token: they do not know DPoP (only their
   * authorization server does). Forgotten when one of them challenges with DPoP.
   */
  private readonly bearerOnly = new Set<string>();

  /** The security headers with lower-case names, as header lines: [name, value, name, value, …]. */
  private readonly responseHeaderLines: string[];
  private readonly metrics: Metrics;

  constructor(private readonly options: ProxyOptions) {
    this.responseHeaderLines = options.responseHeaders.flatMap(([name, value]) => [name.toLowerCase(), value]);
    this.metrics = options.metrics ?? noMetrics;
  }

  /**
   * Login is lazy: without a connection the request goes upstream without a token, so servers that
   * need no authorization just work; the first 401 is the challenge that says how to log in.
   *
   * @param lookup reads the browser's session and its connection to the target (without waiting when
   *   it can); called once the body has arrived, so that a logout made during a slow upload is seen.
   */
  async forward(
    c: Context,
    target: ProxyTarget,
    lookup: () => SessionWithConnection | undefined | Promise<SessionWithConnection | undefined>,
  ): Promise<Response> {
    const { store } = this.options;
    const method = c.req.method;
    if (!METHODS.has(method)) {
      throw new ApiFailure('method_not_allowed', 'Only GET, POST and DELETE are allowed here.', {}, { Allow: 'GET, POST, DELETE' });
    }
    const query = requestQuery(c);
    if (query !== undefined && new URLSearchParams(query).has('access_token')) {
      this.options.log.warn({ event: 'security', kind: 'token_in_query', reqId: c.get('requestId') });
      throw new ApiFailure('bad_request', 'Tokens are never accepted in the URL.');
    }

    // Before the body is read and before anything goes upstream. The 2026-07-28 revision has no MCP
    // session: such a request carries no Mcp-Session-Id and is authorized on its own below, like every
    // request; a 2025-11-25 one's Mcp-Session-Id must also belong to this browser session.
    const requestHeaders = checkRequestHeaders(requestHeaderLines(c));
    const mcpSessionId = requestHeaders['mcp-session-id'];

    const body = method === 'POST' ? await this.readBody(c) : undefined;
    const found = lookup();
    const current = found instanceof Promise ? await found : found;
    const session = current?.session;
    if (mcpSessionId !== undefined) {
      const owner = await store.getMcpSessionOwner(mcpSessionId);
      if (!session || !owner || owner.sessionId !== session.id || owner.server !== target.id) {
        // Indistinguishable from an expired MCP session: the client re-initializes.
        throw new ApiFailure('not_found', 'Unknown MCP session.');
      }
    }

    // Whoever already has the most streams allowed open gets no more, before anything goes upstream. A
    // POST is refused too: its answer may be a stream (2026-07-28 subscriptions are), and once it has
    // run upstream its result could not be refused any more. DELETE only ever ends something.
    const streamOwner = session ? `s:${session.id}` : `a:${this.options.clientAddress(c)}`;
    const maxStreams = session ? this.options.maxStreamsPerSession : this.options.maxAnonymousStreamsPerAddress;
    if (method !== 'DELETE' && this.streams.count(streamOwner) >= maxStreams) {
      throw new ApiFailure('too_many_streams', `At most ${maxStreams} MCP streams may be open at once; close one first.`);
    }
    // A GET is the standalone stream: its slot is held from now on, so that GETs arriving together
    // cannot all pass the check above. A POST's is taken when its answer turns out to be a stream.
    const slot = new Slot(streamOwner, method === 'GET' ? this.streams.take(streamOwner) : undefined, method, body);
    try {
      return await this.exchange(c, target, method, requestHeaders, mcpSessionId, body, current, slot);
    } catch (error) {
      slot.release?.();
      throw error;
    }
  }

  private async exchange(
    c: Context,
    target: ProxyTarget,
    method: string,
    requestHeaders: UpstreamRequestHeaders,
    mcpSessionId: string | undefined,
    body: Uint8Array | undefined,
    current: SessionWithConnection | undefined,
    slot: Slot,
  ): Promise<Response> {
    const { store, tokens, hints } = this.options;
    let session = current?.session;
    const service = this.options.service?.handles(target.id) ? this.options.service : undefined;
    let access: AccessOutcome = service
      ? await service.access(target.id)
      : current
        ? await tokens.accessNow(current.session.id, target.id, current.record)
        : { kind: 'login_required' };
    /** Sends retried for the DPoP nonce or scheme with the current token: bounded, and never a refresh. */
    let dpopRetries = 0;
    let retriedToken: string | undefined;
    /** This send presents a DPoP-bound token as a bearer token, to see whether the server takes it so. */
    let bearerProbe = false;
    /** The token that was last tried that way: once per token. */
    let probedToken: string | undefined;
    for (let attempt = 0; ; attempt++) {
      if (access.kind === 'unavailable') throw authServerUnavailable(access.cause);
      const token = access.kind === 'ok' ? access.record.accessToken : undefined;
      if (token !== retriedToken) {
        // A new token: its own budget of nonce retries.
        retriedToken = token;
        dpopRetries = 0;
      }
      const dpopToken = access.kind === 'ok' && access.record.tokenType === 'DPoP';
      const bound = access.kind === 'ok' && dpopToken && !bearerProbe && !this.bearerOnly.has(target.id) ? access.record : undefined;
      const upstream = await this.send(c, target, method, requestHeaders, body, token, bound);
      const status = upstream.statusCode;
      // The resource server's newest nonce, for the next proof to it (RFC 9449 §9).
      const freshNonce = bound !== undefined && dpopNonces.remember(this.targetUrl(target), headerValue(upstream.headers, 'dpop-nonce'));

      if (status === 401) {
        const wwwAuthenticate = headerValue(upstream.headers, 'www-authenticate');
        // Not the token's fault: the proof lacked the server's newest nonce (it rotates, and concurrent
        // requests race for it), or a bound token went as a bearer token to a server that, it turns out,
        // checks DPoP. The same request again (the body is buffered), never a refresh nor a logout.
        const nonceProblem = bound !== undefined && asksForDpopNonce(wwwAuthenticate);
        const schemeProblem = dpopToken && bound === undefined && !bearerProbe && this.bearerOnly.has(target.id) && namesDpop(wwwAuthenticate);
        if (nonceProblem || schemeProblem) {
          upstream.destroy();
          if (schemeProblem) this.bearerOnly.delete(target.id);
          if (dpopRetries < MAX_DPOP_RETRIES && (schemeProblem || freshNonce)) {
            dpopRetries++;
            attempt--;
            continue;
          }
          this.options.log.warn({ event: 'dpop_nonce_refused', server: target.id, reqId: c.get('requestId') });
          throw new ApiFailure('service_unavailable', 'The MCP server kept asking for a new DPoP nonce; try again shortly.', {}, { 'Retry-After': '1' });
        }
      }
      if (status === 401) {
        upstream.destroy();
        const wwwAuthenticate = headerValue(upstream.headers, 'www-authenticate');
        if (namesDpop(wwwAuthenticate)) this.bearerOnly.delete(target.id);
        else if (bound && probedToken !== token) {
          // Refused with a challenge that names only Bearer: the server may not know DPoP (only its
          // authorization server does). Try the token as a bearer token, which is all it would be
          // there; a server that checks DPoP refuses a bound token presented so (RFC 9449 §7.2).
          probedToken = token;
          bearerProbe = true;
          attempt--;
          continue;
        }
        bearerProbe = false;
        const challenge = bearerChallenge(wwwAuthenticate);
        if (service) {
          // The deployment's token was refused: one new token, one retry, then a clear error (no login).
          if (token && attempt === 0) {
            access = await service.access(target.id, token, challenge.resource_metadata);
            continue;
          }
          throw service.refusedByServer(target.id);
        }
        hints.remember(target.id, challenge, token !== undefined);
        if (token && session && attempt === 0) {
          // The token may have been revoked or expired early: one refresh, one retry.
          access = await tokens.getAccess(session.id, target.id, token);
          if (access.kind === 'ok') continue;
          if (access.kind === 'unavailable') throw authServerUnavailable(access.cause);
        }
        // Only the tokens that were just refused: another instance may have stored newer ones meanwhile.
        if (session && access.kind === 'ok') await store.deleteConnection(session.id, target.id, access.record.generation);
        throw loginRequired(loginUrlAfter(target.id, challenge));
      }
      if (bearerProbe && (status < 300 || status === 403)) {
        // It took the token as a bearer token: from now on this server gets bound tokens so.
        bearerProbe = false;
        this.bearerOnly.add(target.id);
        this.options.log.info({ event: 'dpop_not_supported_by_server', server: target.id });
      }
      if (status === 403) {
        const challenge = bearerChallenge(headerValue(upstream.headers, 'www-authenticate'));
        if (challenge.error === 'insufficient_scope') {
          upstream.destroy();
          if (service) {
            const scope = normaliseScopes(splitScopes(challenge.scope ?? '') ?? []).join(' ');
            throw new ApiFailure('insufficient_scope', "The MCP server needs permissions this deployment's service client was not granted.", { scope });
          }
          throw this.stepUp(target, access.kind === 'ok' ? access.record : undefined, challenge.scope ?? '');
        }
      }

      // HTTP's status codes end at 599; a parser lets any three digits through.
      if (status > 599) {
        upstream.destroy();
        throw invalidAnswer();
      }
      const headers = downstreamResponseHeaders(upstream.headers, status);
      const ok = status >= 200 && status < 300;
      const newMcpSession = headers['mcp-session-id'];
      try {
        if (newMcpSession && ok && isValidMcpSessionId(newMcpSession) && newMcpSession !== mcpSessionId) {
          // MCP sessions are bound to the browser session that created them; an anonymous browser gets
          // a session now, so that its MCP session is its own.
          session ??= await this.options.startSession(c);
          await store.bindMcpSession(newMcpSession, { sessionId: session.id, server: target.id });
        }
        if (method === 'DELETE' && mcpSessionId && (ok || status === 404)) {
          await store.unbindMcpSession(mcpSessionId);
        }
      } catch (error) {
        // Nobody will read this answer now (the store failed): free its connection.
        upstream.destroy();
        throw error;
      }
      return this.answer(c, target, status, headers, upstream, slot);
    }
  }

  /**
   * Streams the MCP server's answer to the browser: straight into the Node response when there is one
   * (no web-stream conversion), with the headers the middleware would have added; otherwise as a
   * web Response.
   */
  private answer(c: Context, target: ProxyTarget, status: number, headers: Record<string, string>, upstream: UpstreamAnswer, slot: Slot): Response {
    const stream = status >= 200 && status < 300 && headers['content-type']?.toLowerCase().startsWith('text/event-stream') === true;
    if (stream) {
      // A stream: its slot is given back when it ends, upstream or because the browser went away.
      const give = slot.release ?? this.streams.take(slot.owner);
      const closed = this.metrics.streamOpened(target.id);
      slot.release = () => {
        give();
        closed();
      };
      void upstream.finished.then(slot.release);
      nodeResponse(c)?.once('close', slot.release);
    } else {
      slot.release?.();
    }
    // Header lines as Node takes them, [name, value, name, value, …]: no object with a dozen keys built
    // and walked per call (Node validates each line either way).
    const out: string[] = [];
    for (const name in headers) out.push(name, headers[name] as string);
    for (const line of this.responseHeaderLines) out.push(line);
    out.push('x-request-id', c.get('requestId'));
    // A session started above, or a cookie sealed again under the newest secret.
    for (const cookie of pendingSetCookies(c)) out.push('set-cookie', cookie);
    const outgoing = nodeResponse(c);
    if (!outgoing) {
      const h = new Headers();
      for (let i = 0; i < out.length; i += 2) h.append(out[i] as string, out[i + 1] as string);
      const bodiless = status === 204 || status === 205 || status === 304;
      if (bodiless) upstream.destroy();
      return new Response(bodiless ? null : upstream.toWeb(), { status, headers: h });
    }
    if (outgoing.destroyed) {
      // The browser left while the answer's session was being set up: drop the answer and its connection.
      c.set('sentStatus', status);
      upstream.destroy();
      this.options.log.debug({ event: 'client_gone', reqId: c.get('requestId') });
      return RESPONSE_ALREADY_SENT;
    }
    try {
      outgoing.writeHead(status, out);
    } catch (error) {
      // Nothing has been written yet when Node refuses a header (undici's parser already refuses the
      // values Node would): the browser still gets a clean error, and the connection is not held.
      upstream.destroy();
      throw invalidAnswer(error);
    }
    c.set('sentStatus', status);
    const drain = this.options.drain;
    if (stream && drain) {
      // A stream: when the process drains, it ends at an event boundary with a retry hint.
      const close = upstream.pipeEventStreamTo(outgoing);
      outgoing.once('close', drain.stream(slot.kind(), () => close(SHUTDOWN_TRAILER)));
    } else {
      upstream.pipeTo(outgoing);
    }
    return RESPONSE_ALREADY_SENT;
  }

  /**
   * A 403 insufficient_scope: offers a login for the required scopes (which /bff/login joins to those
   * asked for and granted before), at most MAX_STEP_UP_ATTEMPTS times for the same need; then a plain
   * refusal, never a loop.
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

  private async send(
    c: Context,
    server: ProxyTarget,
    method: string,
    headers: UpstreamRequestHeaders,
    body: Uint8Array | undefined,
    token: string | undefined,
    dpop: TokenRecord | undefined,
  ) {
    const target = this.targetUrl(server);
    const started = this.metrics.enabled ? performance.now() : 0;
    const reqId = c.get('requestId');
    // The request's own checked headers: a retry replaces the token (and proof) it carried.
    if (token && dpop?.dpop) {
      headers.authorization = `DPoP ${token}`;
      // A fresh proof for each request: htu is the server's URL without query (RFC 9449 §4.2).
      const nonce = dpopNonces.get(target);
      headers.dpop = dpopSigner(dpop.dpop).proof({ htm: method, htu: target, accessToken: token, ...(nonce !== undefined ? { nonce } : {}) });
    } else {
      if (token) headers.authorization = `Bearer ${token}`;
      else if (headers.authorization !== undefined) delete headers.authorization;
      if (headers.dpop !== undefined) delete headers.dpop;
    }
    try {
      const answer = await this.upstream.send(target, {
        method,
        headers,
        body,
        watchClient: watchClient(c),
        headersTimeoutMs: this.options.upstreamTimeoutMs,
      });
      if (this.metrics.enabled) this.metrics.upstream(server.id, upstreamOutcome(answer.statusCode), secondsSince(started));
      return answer;
    } catch (error) {
      if (this.metrics.enabled) this.metrics.upstream(server.id, error instanceof UpstreamTimeout ? 'timeout' : 'error', secondsSince(started));
      if (error instanceof UpstreamTimeout) {
        this.options.log.warn({ event: 'upstream_timeout', reqId });
        throw new ApiFailure('upstream_timeout', 'The MCP server did not answer in time.', {}, {}, { cause: error });
      }
      if ((error as Error).name === 'AbortError') {
        // The browser went away before the MCP server answered: nobody is left to tell.
        this.options.log.debug({ event: 'client_gone', reqId });
      } else {
        this.options.log.warn({ event: 'upstream_failed', reason: (error as Error).name, reqId });
      }
      throw new ApiFailure('upstream_unavailable', 'The MCP server could not be reached.', {}, {}, { cause: error });
    }
  }

  /** The server's configured URL, parsed once: its keys come from configuration only, never from a request. */
  private targetUrl(server: ProxyTarget): URL {
    let target = this.targets.get(server.url);
    if (!target) {
      target = new URL(server.url);
      this.targets.set(server.url, target);
    }
    return target;
  }

  /** Reads at most maxBodyBytes: refuses early on Content-Length, and stops reading past the limit. */
  private async readBody(c: Context): Promise<Uint8Array> {
    const limit = this.options.maxBodyBytes;
    const declared = Number(requestHeader(c, 'content-length') ?? 'NaN');
    if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
    // On Node, straight from Node's request: no web stream, no web Request view.
    const incoming = nodeRequest(c);
    if (incoming) return readIncoming(incoming, limit);
    // With a Content-Length Hono reads exactly that many bytes in one go.
    if (Number.isFinite(declared) && requestHeader(c, 'transfer-encoding') === undefined) {
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
        throw tooLarge(limit);
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

/** The stream slot a request holds or may take: who it counts for, and how to give it back. */
class Slot {
  constructor(
    readonly owner: string,
    public release: (() => void) | undefined,
    private readonly method: string,
    private readonly body: Uint8Array | undefined,
  ) {}

  /** What kind of stream its answer is, if it is one: asked only then. */
  kind(): StreamKind {
    return this.method === 'GET' || isSubscriptionListen(this.body) ? 'long_lived' : 'call';
  }
}

/** Seconds since `started` (performance.now()). */
function secondsSince(started: number): number {
  return (performance.now() - started) / 1000;
}

function tooLarge(limit: number): ApiFailure {
  return new ApiFailure('payload_too_large', `Request bodies are limited to ${limit} bytes.`);
}

/**
 * Reads a Node request's body, at most `limit` bytes: past that it stops reading (the connection is
 * then not reused) and refuses with 413. A Content-Length body arrives as exactly that many bytes.
 */
function readIncoming(incoming: IncomingMessage, limit: number): Promise<Uint8Array> {
  if (incoming.readableEnded) return Promise.resolve(new Uint8Array());
  return new Promise((resolve, reject) => {
    (incoming as ReadingBody)[BODY_READ] = { chunks: [], size: 0, limit, resolve, reject };
    incoming.on('data', onBodyData);
    incoming.on('end', onBodyEnd);
    incoming.on('error', onBodyError);
    incoming.on('close', onBodyClose);
  });
}

/**
 * A body being read by readIncoming. Its listeners are module functions that find this on the request
 * they are called on, rather than functions made for every call.
 */
interface BodyRead {
  chunks: Buffer[];
  size: number;
  limit: number;
  resolve: (body: Uint8Array) => void;
  reject: (error: ApiFailure) => void;
}
const BODY_READ = Symbol('body read');
type ReadingBody = IncomingMessage & { [BODY_READ]?: BodyRead | undefined };

function finishBody(incoming: ReadingBody, error?: ApiFailure): void {
  const read = incoming[BODY_READ];
  if (read === undefined) return;
  incoming[BODY_READ] = undefined;
  incoming.off('data', onBodyData);
  incoming.off('end', onBodyEnd);
  incoming.off('error', onBodyError);
  incoming.off('close', onBodyClose);
  if (error) read.reject(error);
  else read.resolve(read.chunks.length === 1 ? (read.chunks[0] as Buffer) : Buffer.concat(read.chunks, read.size));
}
function onBodyData(this: ReadingBody, chunk: Buffer): void {
  const read = this[BODY_READ];
  if (read === undefined) return;
  read.size += chunk.byteLength;
  if (read.size > read.limit) {
    this.pause();
    finishBody(this, tooLarge(read.limit));
  } else {
    read.chunks.push(chunk);
  }
}
function onBodyEnd(this: ReadingBody): void {
  finishBody(this);
}
function onBodyError(this: ReadingBody, error: Error): void {
  finishBody(this, bodyLostFailure(error));
}
function onBodyClose(this: ReadingBody): void {
  finishBody(this, bodyLostFailure());
}

/** A client that goes away (or is cut off for sending too slowly) mid-body is not a server error. */
function bodyLostFailure(cause?: unknown): ApiFailure {
  return new ApiFailure('bad_request', 'The request body did not arrive.', {}, {}, { cause });
}

function bodyLost(error: unknown): never {
  throw bodyLostFailure(error);
}

/**
 * A 2026-07-28 `subscriptions/listen`: its answer is a stream that stays open for as long as the client
 * listens, unlike a call's, which ends with the call's result.
 */
function isSubscriptionListen(body: Uint8Array | undefined): boolean {
  if (!body || !Buffer.from(body.buffer, body.byteOffset, body.byteLength).includes('subscriptions/listen')) return false;
  try {
    const message: unknown = JSON.parse(new TextDecoder().decode(body));
    return typeof message === 'object' && message !== null && (message as { method?: unknown }).method === 'subscriptions/listen';
  } catch {
    return false;
  }
}

function invalidAnswer(cause?: unknown): ApiFailure {
  return new ApiFailure('upstream_unavailable', 'The MCP server sent an answer that cannot be passed on.', {}, {}, { cause });
}
