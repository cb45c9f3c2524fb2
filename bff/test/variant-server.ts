import { createHash, randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { type Listening, listen } from '../../demo/src/listen.js';

/**
 * An authorization server and MCP server in one loopback HTTP server, shaped by options into the
 * variants the MCP authorization spec asks clients to handle (issuer with a path, OIDC-only metadata,
 * metadata only at the challenge's URL, no S256, issuer mismatch, iss missing/wrong/unexpected...).
 * Real HTTP, real PKCE checks, opaque tokens; everything it was asked is recorded for assertions.
 */
export interface VariantOptions {
  /** Path of the issuer, e.g. "/tenant1" ('' for none). */
  issuerPath?: string;
  /** Which well-known documents exist for the AS. */
  asMetadata?: 'rfc8414' | 'oidc-inserted' | 'oidc-appended';
  /** Where the protected resource metadata lives. */
  prmAt?: 'path-inserted' | 'root' | 'challenge-only';
  /** Overrides of the AS metadata (e.g. issuer, code_challenge_methods_supported: undefined). */
  metadata?: Record<string, unknown>;
  /** The `resource` the PRM claims (default: the MCP URL). */
  prmResource?: (mcpUrl: string) => string;
  /** `iss` in the authorization response. */
  iss?: 'correct' | 'missing' | 'wrong';
  /** Scope in the 401 challenge and PRM scopes_supported. */
  challengeScope?: string;
  scopesSupported?: string[];
  /** Scope that tools/call needs (403 insufficient_scope without it). */
  toolScope?: string;
  /** Scope other JSON-RPC methods need, by method (403 insufficient_scope naming it, as toolScope). */
  methodScopes?: Record<string, string>;
  /** Scopes the AS refuses to grant (to test the step-up limit). */
  neverGrant?: string[];
  registration?: boolean;
  tokenAuthMethods?: string[];
  cimd?: boolean;
  /** The MCP server needs no authorization at all (and hands out MCP session ids). */
  noAuth?: boolean;
  /** With noAuth: initialize is answered as an SSE stream that stays open after its one event. */
  noAuthStreams?: boolean;
  /** Faults to start with; `variant.faults` changes them later (e.g. a refresh fault after a login). */
  faults?: VariantFaults;
  /** Extra headers on every answer of the MCP server (e.g. Set-Cookie, hop-by-hop headers). */
  mcpResponseHeaders?: Record<string, string>;
  /**
   * As a real AS does: the authorization endpoint answers 400 (and redirects nowhere) unless client_id
   * is a client registered here (dynamically, or in `clients`) and redirect_uri one of its redirect URIs.
   * Without it, any client_id and redirect_uri is accepted.
   */
  checkRedirectUri?: boolean;
  /**
   * RFC 7592: registrations come with a registration_client_uri and registration_access_token, and that
   * URI answers GET with the client (401 once the client is forgotten).
   */
  registrationManagement?: boolean;
  /**
   * What the authorization endpoint does with a client it has forgotten (`forgetClient`): redirect back
   * with error=invalid_client, or (the default, as oidc-provider does) answer a 400 page of its own.
   */
  forgottenClientAtAuthorize?: 'redirect' | 'page';
  /**
   * A hostile AS: instead of answering the authorization request, send the browser on to the URL this
   * returns (e.g. another AS's authorization endpoint with the request's state and code_challenge).
   */
  relayAuthorization?: (request: URLSearchParams) => string;
}

/**
 * What a faulty endpoint does instead of its job. `redirect` points at `/redirected` on this server, which
 * counts its visits (`redirectedHits`): a client that follows redirects shows up there.
 */
export type Fault =
  | 'status-500'
  | 'hang'
  | 'malformed-json'
  | 'html'
  /** 50 MB of JSON-ish bytes, chunked (no Content-Length to refuse it by). */
  | 'huge'
  | 'redirect'
  /** Token endpoint only: a 200 without access_token. */
  | 'no-access-token'
  /** Token endpoint only: a 200 with token_type "mac". */
  | 'token-type-mac'
  /** Token endpoint only: the request waits until `release()`, then is answered as usual. */
  | 'hold';

export interface VariantFaults {
  /** Protected resource metadata. */
  prm?: Fault;
  /** Authorization server metadata. */
  metadata?: Fault;
  registration?: Fault;
  /** The token endpoint for the authorization code grant. */
  token?: Fault;
  /** The token endpoint for the refresh token grant. */
  refresh?: Fault;
  revocation?: Fault;
  /** The MCP endpoint itself. */
  mcp?: 'hang' | 'status-500';
}

export type VariantEndpoint = keyof VariantFaults;

export interface Variant {
  url: string;
  issuer: string;
  authorizeRequests: URLSearchParams[];
  tokenRequests: Array<{ params: URLSearchParams; authorization: string | undefined }>;
  registrations: Array<Record<string, unknown>>;
  mcpRequests: Array<{ authorization: string | undefined; url: string; method: string; headers: IncomingHttpHeaders }>;
  /** Revocation requests (RFC 7009), in order. */
  revocations: URLSearchParams[];
  /** Requests per endpoint, faulty or not. */
  hits: Record<VariantEndpoint, number>;
  /** Visits to the target of the `redirect` fault. */
  redirectedHits: number;
  /** Requests left hanging by the `hang` fault whose connection has since closed, with when (ms). */
  hangsClosed: number[];
  /** TCP connections open to this server now. */
  openConnections: () => Promise<number>;
  /** Mutable: what each endpoint does wrong from now on. */
  faults: VariantFaults;
  /** Access tokens this AS issued, with their scope. */
  tokens: Map<string, string>;
  /** Every secret this server handed out: codes, access and refresh tokens, client secrets (faulty answers' too). */
  issued: string[];
  /** Authorization requests refused for their client_id or redirect_uri (checkRedirectUri). */
  refusedAuthorizations: URLSearchParams[];
  /** A client registered by hand, as an operator does (its redirect URIs count for checkRedirectUri). */
  registerClient(clientId: string, client: { secret: string; redirectUris: string[] }): void;
  /** Migrates the MCP server to another AS: its metadata names it, and only its tokens count. */
  moveTo(other: Variant): void;
  /** Token requests waiting under the `hold` fault so far. */
  held: number;
  /** Lets the token requests held so far go on. */
  release(): void;
  /**
   * Forgets a client, as an AS that purges registrations does: from then on the authorization endpoint
   * refuses it (see forgottenClientAtAuthorize), the token endpoint answers 401 invalid_client, and its
   * registration_client_uri 401.
   */
  forgetClient(clientId: string): void;
  /** RFC 7592 reads of a registration, in order: the client id asked about. */
  registrationReads: string[];
  /** Mutable: the scope the 401 challenge names from now on (starts as the option's). */
  challengeScope: string | undefined;
  close(): Promise<void>;
}

export async function startVariant(o: VariantOptions = {}): Promise<Variant> {
  const listening: Listening = await listen(0, '127.0.0.1', 'localhost');
  const origin = listening.origin;
  const issuerPath = o.issuerPath ?? '';
  const issuer = `${origin}${issuerPath}`;
  const mcpUrl = `${origin}/mcp`;
  const prmUrl = o.prmAt === 'challenge-only' ? `${origin}/custom/prm.json` : o.prmAt === 'root' ? `${origin}/.well-known/oauth-protected-resource` : `${origin}/.well-known/oauth-protected-resource/mcp`;
  const asWellKnown =
    o.asMetadata === 'oidc-inserted'
      ? `/.well-known/openid-configuration${issuerPath}`
      : o.asMetadata === 'oidc-appended'
        ? `${issuerPath}/.well-known/openid-configuration`
        : `/.well-known/oauth-authorization-server${issuerPath}`;
  const codes = new Map<string, { challenge: string; scope: string; clientId: string; redirectUri: string }>();
  const tokens = new Map<string, string>(); // access token → scope
  const clients = new Map<string, { secret?: string; method: string; redirectUris: string[] }>();
  let movedTo: Variant | undefined;
  const holding: Array<() => void> = [];
  const forgotten = new Set<string>();
  const registrationTokens = new Map<string, string>(); // registration access token → client id
  const v: Variant = {
    url: mcpUrl,
    issuer,
    authorizeRequests: [],
    tokenRequests: [],
    registrations: [],
    mcpRequests: [],
    revocations: [],
    hits: { prm: 0, metadata: 0, registration: 0, token: 0, refresh: 0, revocation: 0, mcp: 0 },
    redirectedHits: 0,
    hangsClosed: [],
    openConnections: () => new Promise((resolve, reject) => listening.server.getConnections((error, count) => (error ? reject(error) : resolve(count)))),
    faults: { ...o.faults },
    tokens,
    issued: [],
    refusedAuthorizations: [],
    registerClient(clientId, client) {
      clients.set(clientId, { secret: client.secret, method: 'client_secret_basic', redirectUris: client.redirectUris });
    },
    moveTo(other) {
      movedTo = other;
    },
    held: 0,
    release() {
      for (const go of holding.splice(0)) go();
    },
    forgetClient(clientId) {
      forgotten.add(clientId);
    },
    registrationReads: [],
    challengeScope: o.challengeScope,
    close: () => listening.close(),
  };
  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  const readBody = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  };
  const refreshTokens = new Map<string, string>(); // refresh token → scope
  const issue = (prefix: string, bytes: number): string => {
    const value = `${prefix}${randomBytes(bytes).toString('hex')}`;
    v.issued.push(value);
    return value;
  };
  /** Answers as `fault` says; true when it did (the endpoint then does nothing else). */
  const faulty = (res: ServerResponse, fault: Fault | undefined): boolean => {
    if (!fault || fault === 'hold') return false;
    res.on('error', () => {});
    switch (fault) {
      case 'status-500':
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('Internal Server Error');
        break;
      case 'hang':
        // Never answers; close() ends the connection.
        res.on('close', () => v.hangsClosed.push(Date.now()));
        break;
      case 'malformed-json':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"issuer": "http://localhost", "access_token": ');
        break;
      case 'html':
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<!doctype html><html><body><h1>Sign in to the corporate proxy</h1></body></html>');
        break;
      case 'huge': {
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        let left = 50 * 1024 * 1024;
        const pump = () => {
          while (left > 0 && !res.destroyed) {
            left -= chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          if (!res.destroyed) res.end();
        };
        pump();
        break;
      }
      case 'redirect':
        res.writeHead(302, { location: `${origin}/redirected` });
        res.end();
        break;
      case 'no-access-token':
        json(res, 200, { token_type: 'Bearer', expires_in: 3600 });
        break;
      case 'token-type-mac':
        json(res, 200, { access_token: issue('at-', 12), token_type: 'mac', expires_in: 3600, mac_key: 'k' });
        break;
    }
    return true;
  };
  const challenge = (extra = '') =>
    `Bearer resource_metadata="${prmUrl}"${v.challengeScope ? `, scope="${v.challengeScope}"` : ''}${extra}`;

  listening.handle(async (req, res) => {
    const url = new URL(req.url ?? '/', origin);
    const path = url.pathname;
    if (path === '/redirected') {
      v.redirectedHits++;
      return json(res, 200, {});
    }
    if (req.method === 'GET' && path === prmUrl.slice(origin.length)) {
      v.hits.prm++;
      if (faulty(res, v.faults.prm)) return;
      return json(res, 200, {
        resource: o.prmResource ? o.prmResource(mcpUrl) : mcpUrl,
        authorization_servers: [movedTo ? movedTo.issuer : issuer],
        ...(o.scopesSupported ? { scopes_supported: o.scopesSupported } : {}),
      });
    }
    if (req.method === 'GET' && path === asWellKnown) {
      v.hits.metadata++;
      if (faulty(res, v.faults.metadata)) return;
      return json(res, 200, {
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        revocation_endpoint: `${issuer}/revoke`,
        ...(o.registration !== false ? { registration_endpoint: `${issuer}/register` } : {}),
        response_types_supported: ['code'],
        code_challenge_methods_supported: ['S256'],
        authorization_response_iss_parameter_supported: true,
        token_endpoint_auth_methods_supported: o.tokenAuthMethods ?? ['client_secret_basic', 'client_secret_post', 'none'],
        ...(o.cimd ? { client_id_metadata_document_supported: true } : {}),
        ...o.metadata,
      });
    }
    if (req.method === 'POST' && path === `${issuerPath}/register`) {
      v.hits.registration++;
      if (faulty(res, v.faults.registration)) return;
      const body = JSON.parse(await readBody(req)) as Record<string, unknown>;
      v.registrations.push(body);
      const id = `client-${randomBytes(6).toString('hex')}`;
      const method = String(body.token_endpoint_auth_method ?? 'client_secret_basic');
      const secret = method === 'none' ? undefined : issue('', 16);
      const redirectUris = Array.isArray(body.redirect_uris) ? body.redirect_uris.map(String) : [];
      clients.set(id, { ...(secret ? { secret } : {}), method, redirectUris });
      const management: Record<string, string> = {};
      if (o.registrationManagement) {
        const token = issue('rat-', 12);
        registrationTokens.set(token, id);
        Object.assign(management, { registration_client_uri: `${issuer}/register/${id}`, registration_access_token: token });
      }
      return json(res, 201, { ...body, client_id: id, ...(secret ? { client_secret: secret } : {}), ...management });
    }
    if (req.method === 'GET' && o.registrationManagement && path.startsWith(`${issuerPath}/register/`)) {
      const id = path.slice(`${issuerPath}/register/`.length);
      v.registrationReads.push(id);
      const token = req.headers.authorization?.startsWith('Bearer ') ? req.headers.authorization.slice(7) : '';
      const client = clients.get(id);
      if (registrationTokens.get(token) !== id || !client || forgotten.has(id)) {
        res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' });
        return res.end();
      }
      return json(res, 200, { client_id: id, redirect_uris: client.redirectUris, token_endpoint_auth_method: client.method, registration_client_uri: `${issuer}/register/${id}` });
    }
    if (req.method === 'GET' && path === `${issuerPath}/authorize`) {
      const p = url.searchParams;
      v.authorizeRequests.push(p);
      if (o.relayAuthorization) {
        res.writeHead(302, { location: o.relayAuthorization(p) });
        return res.end();
      }
      if (forgotten.has(p.get('client_id') ?? '')) {
        if (o.forgottenClientAtAuthorize !== 'redirect') return json(res, 400, { error: 'invalid_client' });
        const back = new URL(p.get('redirect_uri') ?? '');
        back.searchParams.set('error', 'invalid_client');
        back.searchParams.set('state', p.get('state') ?? '');
        back.searchParams.set('iss', issuer);
        res.writeHead(302, { location: back.href });
        return res.end();
      }
      if (o.checkRedirectUri && !clients.get(p.get('client_id') ?? '')?.redirectUris.includes(p.get('redirect_uri') ?? '')) {
        v.refusedAuthorizations.push(p);
        return json(res, 400, { error: 'invalid_request', error_description: 'redirect_uri is not registered for this client' });
      }
      const code = issue('', 12);
      const granted = (p.get('scope') ?? '').split(' ').filter((s) => s && !(o.neverGrant ?? []).includes(s));
      codes.set(code, {
        challenge: p.get('code_challenge') ?? '',
        scope: granted.join(' '),
        clientId: p.get('client_id') ?? '',
        redirectUri: p.get('redirect_uri') ?? '',
      });
      const back = new URL(p.get('redirect_uri') ?? '');
      back.searchParams.set('code', code);
      back.searchParams.set('state', p.get('state') ?? '');
      if ((o.iss ?? 'correct') === 'correct') back.searchParams.set('iss', issuer);
      if (o.iss === 'wrong') back.searchParams.set('iss', `${origin}/someone-else`);
      res.writeHead(302, { location: back.href });
      return res.end();
    }
    if (req.method === 'POST' && path === `${issuerPath}/token`) {
      const params = new URLSearchParams(await readBody(req));
      v.tokenRequests.push({ params, authorization: req.headers.authorization });
      const grant = params.get('grant_type');
      const endpoint = grant === 'refresh_token' ? 'refresh' : 'token';
      v.hits[endpoint]++;
      if (v.faults[endpoint] === 'hold') {
        v.held++;
        await new Promise<void>((go) => holding.push(go));
      }
      if (faulty(res, v.faults[endpoint])) return;
      const basic = req.headers.authorization?.startsWith('Basic ') ? Buffer.from(req.headers.authorization.slice(6), 'base64').toString() : '';
      const clientId = basic ? decodeURIComponent(basic.slice(0, basic.indexOf(':')).replace(/\+/g, ' ')) : params.get('client_id');
      if (clientId && forgotten.has(clientId)) {
        return json(res, 401, { error: 'invalid_client' }, { 'www-authenticate': `Basic realm="${issuer}", error="invalid_client"` });
      }
      let scope = '';
      if (grant === 'authorization_code') {
        const entry = codes.get(params.get('code') ?? '');
        codes.delete(params.get('code') ?? '');
        const verifier = params.get('code_verifier') ?? '';
        if (!entry || createHash('sha256').update(verifier).digest('base64url') !== entry.challenge) {
          return json(res, 400, { error: 'invalid_grant' });
        }
        scope = entry.scope;
      } else if (grant === 'refresh_token') {
        const known = refreshTokens.get(params.get('refresh_token') ?? '');
        if (known === undefined) return json(res, 400, { error: 'invalid_grant' });
        refreshTokens.delete(params.get('refresh_token') ?? ''); // rotated
        scope = known;
      } else {
        return json(res, 400, { error: 'unsupported_grant_type' });
      }
      const access = issue('at-', 12);
      const refresh = issue('rt-', 12);
      tokens.set(access, scope);
      refreshTokens.set(refresh, scope);
      return json(res, 200, { access_token: access, token_type: 'Bearer', expires_in: 3600, scope, refresh_token: refresh });
    }
    if (req.method === 'POST' && path === `${issuerPath}/revoke`) {
      const params = new URLSearchParams(await readBody(req));
      v.hits.revocation++;
      v.revocations.push(params);
      if (faulty(res, v.faults.revocation)) return;
      const token = params.get('token') ?? '';
      tokens.delete(token);
      refreshTokens.delete(token);
      res.writeHead(200);
      return res.end();
    }
    if (path === '/mcp' && o.noAuth) {
      v.mcpRequests.push({ authorization: req.headers.authorization, url: req.url ?? '', method: req.method ?? '', headers: { ...req.headers } });
      const body = JSON.parse((await readBody(req)) || '{}') as { id?: number; method?: string };
      const sessionHeader: Record<string, string> = body.method === 'initialize' ? { 'mcp-session-id': `sess-${randomBytes(6).toString('hex')}` } : {};
      if (o.noAuthStreams && body.method === 'initialize') {
        res.writeHead(200, { 'content-type': 'text/event-stream', ...sessionHeader });
        res.write(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: body.id ?? 1, result: { ok: true } })}\n\n`);
        return;
      }
      return json(res, 200, { jsonrpc: '2.0', id: body.id ?? 1, result: { ok: true } }, sessionHeader);
    }
    if (path === '/mcp') {
      const auth = req.headers.authorization;
      v.mcpRequests.push({ authorization: auth, url: req.url ?? '', method: req.method ?? '', headers: { ...req.headers } });
      v.hits.mcp++;
      if (faulty(res, v.faults.mcp)) return;
      for (const [name, value] of Object.entries(o.mcpResponseHeaders ?? {})) res.setHeader(name, value);
      const token = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
      const scope = token !== undefined ? (movedTo ? movedTo.tokens : tokens).get(token) : undefined;
      if (scope === undefined) {
        await readBody(req);
        res.writeHead(401, { 'www-authenticate': challenge() });
        return res.end();
      }
      const body = JSON.parse((await readBody(req)) || '{}') as { id?: number; method?: string };
      const needed = body.method === 'tools/call' && o.toolScope ? o.toolScope : o.methodScopes?.[body.method ?? ''];
      if (needed && !scope.split(' ').includes(needed)) {
        res.writeHead(403, { 'www-authenticate': `Bearer error="insufficient_scope", scope="${needed}"` });
        return res.end();
      }
      return json(res, 200, { jsonrpc: '2.0', id: body.id ?? 1, result: { ok: true, scope } });
    }
    res.writeHead(404);
    res.end();
  });
  return v;
}
