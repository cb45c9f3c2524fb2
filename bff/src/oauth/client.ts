import type { LoginErrorCode } from '@mcp-bff/shared';
import * as oauth from 'oauth4webapi';
import type { ServerConfig } from '../config.js';
import type { LoginTransaction } from '../session/cookies.js';
import type { TokenRecord } from '../store/types.js';
import type { Discovery } from './discovery.js';
import { chooseDpopAlgorithm, dpopFetch, dpopSigner, generateDpopKey, type StoredDpopKey } from './dpop.js';
import { endSessionEndpoint, endSessionRequestUrl } from './end-session.js';
import { OAuthFailure } from './errors.js';
import { isTransient, type OutboundPolicy, requestOptions, tokenRequestOptions } from './http.js';
import { LoginTrace } from './login-trace.js';
import { createPkce, createState, stateMatches } from './pkce.js';
import { clientAuth, type ClientResolver, type RegisteredClient } from './registration.js';

/** A callback that must not lead to a token request, with the code the user is shown. */
export class CallbackFailure extends Error {
  constructor(
    readonly code: LoginErrorCode,
    /** true when the callback itself is suspect (forged, replayed, stale): answer a 4xx page, not a redirect. */
    readonly suspicious: boolean,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CallbackFailure';
  }
}

/** What the MCP server's last challenge said (WWW-Authenticate on a 401 or 403). */
export interface ChallengeHints {
  resourceMetadata?: string;
  scope?: string;
}

export interface AuthorizationOptions {
  returnTo: string;
  txn: string;
  hints: ChallengeHints;
  /** Step-up: the scopes the server asked for, and the connection's tokens so far (if any). */
  stepUp?: { required: string[]; previous: TokenRecord | undefined };
  /** Where the steps taken are recorded (for the connection details view). */
  trace?: LoginTrace;
}

export interface AuthorizationStart {
  authorizationUrl: string;
  transaction: LoginTransaction;
}

const RETRY_BACKOFF_MS = 300;
/** A request to the AS is not started with less time than this left before its deadline. */
export const MIN_REQUEST_MS = 500;

export interface RefreshOptions {
  /** Epoch ms by which the refresh must be over: every request to the AS is cut short to fit. */
  deadline?: number;
  /** Asked before the refresh token is sent, each time: false stops the refresh (its lock was lost). */
  maySend?: () => boolean;
}
/** Authorizations offered for the same step-up need before the BFF stops asking. */
export const MAX_STEP_UP_ATTEMPTS = 3;

/**
 * Everything the BFF says to one MCP server's authorization server: discovery, the authorization
 * request, the code exchange, refresh and revocation. The only place tokens are obtained.
 */
export class OAuthClient {
  constructor(
    readonly server: ServerConfig,
    private readonly discovery: Discovery,
    private readonly clients: ClientResolver,
    /** This server's own redirect URI (redirect-uri.ts), in every authorization and token request. */
    private readonly redirectUri: string,
    private readonly policy: OutboundPolicy,
  ) {}

  /** Builds the authorization request (OAuth 2.1 §4.1.1 + PKCE S256 + RFC 8707 resource). */
  async startAuthorization(options: AuthorizationOptions): Promise<AuthorizationStart> {
    const trace = options.trace ?? new LoginTrace();
    const resource = await trace.run(
      'resource_metadata',
      () => this.discovery.protectedResource(this.server.url, options.hints.resourceMetadata),
      (found) => {
        trace.discovery = {
          resourceMetadataUrl: this.discovery.whereFound(found) ?? null,
          resource: found.resource,
          authorizationServers: found.authorization_servers,
          authorizationServerMetadataUrl: null,
          issuer: null,
        };
        const servers = found.authorization_servers;
        return {
          detail: `Names the resource ${found.resource} and ${servers.length === 1 ? 'the authorization server' : 'the authorization servers'} ${servers.join(', ')}${servers.length > 1 ? ' (the first is used)' : ''}.`,
          url: this.discovery.whereFound(found),
        };
      },
    );
    const issuer = resource.authorization_servers[0] as string;
    const as = await trace.run(
      'authorization_server_metadata',
      () => this.discovery.authorizationServer(issuer),
      (found) => {
        if (trace.discovery) trace.discovery = { ...trace.discovery, authorizationServerMetadataUrl: this.discovery.whereFound(found) ?? null, issuer: found.issuer };
        const cimd = found.client_id_metadata_document_supported === true ? 'yes' : 'no';
        return {
          detail: `Issuer ${found.issuer}; dynamic registration: ${found.registration_endpoint ? 'yes' : 'no'}; client ID metadata documents: ${cimd}.`,
          url: this.discovery.whereFound(found),
        };
      },
    );
    const client = await trace.run(
      'client',
      () => this.clients.resolveForLogin(this.server, as),
      (c) => ({ detail: describeClient(c), ...(c.source === 'dynamic_registration' && as.registration_endpoint ? { url: as.registration_endpoint } : {}) }),
    );
    trace.client = { source: client.source, clientId: client.clientId, since: await this.clients.since(this.server, client).catch(() => null) };
    const { code_verifier, code_challenge } = await createPkce();
    const state = createState();
    const scopes = this.chooseScopes(as, resource.scopes_supported, options);
    const url = new URL(as.authorization_endpoint as string);
    const params = url.searchParams;
    // Extra parameters first (Auth0's `audience`, `prompt`, ...): the protocol's own, set below, win
    // over any of the same name (config.ts refuses those anyway).
    for (const [name, value] of Object.entries(this.server.authorizationParams)) params.set(name, value);
    params.set('response_type', 'code');
    params.set('client_id', client.clientId);
    params.set('redirect_uri', this.redirectUri);
    params.set('code_challenge', code_challenge);
    params.set('code_challenge_method', 'S256');
    if (scopes.length > 0) params.set('scope', scopes.join(' '));
    params.set('state', state);
    // Verbatim from the protected resource metadata (equal to the server URL): no normalisation.
    const resourceParam = this.server.resourceIndicator ? resource.resource : null;
    if (resourceParam) params.set('resource', resourceParam);
    trace.ok(
      'authorization_request',
      `The person was sent to the authorization server to sign in and consent; scopes requested: ${scopes.length ? scopes.join(' ') : 'none'}${resourceParam ? `; resource ${resourceParam}` : ''}.`,
      as.authorization_endpoint,
    );
    return {
      authorizationUrl: url.href,
      transaction: {
        txn: options.txn,
        state,
        codeVerifier: code_verifier,
        server: this.server.id,
        returnTo: options.returnTo,
        issuer: as.issuer,
        clientId: client.clientId,
        resource: resourceParam,
        scope: scopes.join(' '),
        ...(options.stepUp ? { stepUp: normaliseScopes(options.stepUp.required).join(' ') } : {}),
        createdAt: Date.now(),
      },
    };
  }

  /**
   * Scopes, in the MCP spec's order: configured ones, else the challenge's, else the resource
   * metadata's scopes_supported, else none. offline_access only when the AS lists it. A step-up asks
   * for the union of the scopes requested before (granted or not), those granted, and the newly
   * required ones (2026-07-28 §Step-Up Authorization Flow, SEP-2350): a server that challenges per
   * operation must not cost the user what an earlier authorization asked for.
   */
  private chooseScopes(as: oauth.AuthorizationServer, supported: string[] | undefined, o: AuthorizationOptions): string[] {
    const configured = this.server.scopes.length > 0;
    let scopes = configured ? this.server.scopes : splitScopes(o.hints.scope) ?? supported ?? [];
    if (o.stepUp) {
      const previous = o.stepUp.previous;
      scopes = [...(previous?.requestedScopes ?? []), ...(previous?.scopes ?? []), ...scopes, ...o.stepUp.required];
    }
    scopes = scopes.filter((s) => s !== 'offline_access');
    const wantsOffline = configured ? this.server.scopes.includes('offline_access') : true;
    if (wantsOffline && as.scopes_supported?.includes('offline_access') && scopes.length > 0) scopes.push('offline_access');
    return [...new Set(scopes)];
  }

  /**
   * Checks the authorization response against the transaction (state, then RFC 9207 iss, then error)
   * and only then exchanges the code. Nothing reaches the token endpoint unless every check passed.
   */
  async finishAuthorization(transaction: LoginTransaction, callback: URLSearchParams, trace = new LoginTrace()): Promise<TokenRecord> {
    // RFC 9700 §4.4.2: the response arrived at this server's redirect URI, so it is for this server's
    // login only. Another server's login here means an AS sent a code where that login did not ask.
    if (transaction.server !== this.server.id) {
      throw new CallbackFailure('authorization_failed', true, "the response arrived at another server's redirect URI");
    }
    const states = callback.getAll('state');
    if (states.length !== 1 || !stateMatches(states[0] as string, transaction.state)) {
      throw new CallbackFailure('state_mismatch', true, 'state missing, duplicated or not the expected one');
    }
    const { as, registered, validated } = await trace.run(
      'authorization_response',
      () => this.checkAuthorizationResponse(transaction, callback),
      () => ({ detail: 'The authorization server sent the browser back with an authorization code.' }),
    );
    return trace.run(
      'token_exchange',
      () => this.exchangeCode(transaction, as, registered, validated),
      (record) =>
        ({
          detail: `Tokens issued${record.tokenType === 'DPoP' ? ` bound with DPoP to a key the BFF holds for this connection (${record.dpop?.alg})` : ''}; scopes granted: ${record.scopes.length ? record.scopes.join(' ') : 'none'}; access token ${
            record.expiresAt !== undefined ? `valid for ${Math.round((record.expiresAt - record.issuedAt) / 1000)} s` : 'lifetime not given'
          }; ${record.refreshToken ? 'with' : 'no'} refresh token.`,
          url: as.token_endpoint,
        }),
    );
  }

  /** RFC 9207 iss, then the response's error, as the client the login was started as. */
  private async checkAuthorizationResponse(
    transaction: LoginTransaction,
    callback: URLSearchParams,
  ): Promise<{ as: oauth.AuthorizationServer; registered: RegisteredClient; validated: URLSearchParams }> {
    let as: oauth.AuthorizationServer;
    let registered: RegisteredClient | undefined;
    try {
      as = await this.discovery.authorizationServer(transaction.issuer);
      // The client the login was started as, even if another has replaced it since (while it works).
      registered = await this.clients.forRecord(this.server, as, transaction.clientId);
    } catch (error) {
      throw new CallbackFailure('authorization_server_unavailable', false, 'discovery failed', { cause: error });
    }
    if (!registered) {
      throw new CallbackFailure('authorization_failed', false, 'the client this login was started as is gone (rejected or expired)');
    }
    const { client } = clientAuth(registered);
    try {
      // RFC 9207: iss required when advertised, and must match whenever present.
      return { as, registered, validated: oauth.validateAuthResponse(as, client, callback, transaction.state) };
    } catch (error) {
      if (error instanceof oauth.AuthorizationResponseError) {
        // The AS does not know the client: checked with the AS itself before anything is replaced.
        if (error.error === 'invalid_client') {
          await this.clients.authorizationRefused(as, registered.clientId, this.server.initialAccessToken).catch(() => undefined);
        }
        const code: LoginErrorCode = error.error === 'access_denied' ? 'access_denied' : 'authorization_failed';
        throw new CallbackFailure(code, false, `authorization server answered ${code}`, { cause: error });
      }
      throw new CallbackFailure('authorization_failed', true, 'invalid authorization response', { cause: error });
    }
  }

  private async exchangeCode(
    transaction: LoginTransaction,
    as: oauth.AuthorizationServer,
    registered: RegisteredClient,
    validated: URLSearchParams,
  ): Promise<TokenRecord> {
    const { client, auth } = clientAuth(registered);
    // DPoP when the AS supports it and this server does not turn it off: a new key for this connection.
    const alg = this.server.dpop !== false ? chooseDpopAlgorithm(as.dpop_signing_alg_values_supported) : undefined;
    const dpop = alg ? generateDpopKey(alg) : undefined;

    // Not retried (a DPoP nonce aside, RFC 9449 §8, which the AS asks for before it looks at the code):
    // a code is single-use, and a second attempt after a lost answer would make the AS
    // revoke what the first one issued.
    const response = await oauth
      .authorizationCodeGrantRequest(as, client, auth, validated, this.redirectUri, transaction.codeVerifier, {
        ...(transaction.resource ? { additionalParameters: { resource: transaction.resource } } : {}),
        ...withDpop(tokenRequestOptions(as.token_endpoint as string, this.policy), dpop),
      })
      .catch((error: unknown) => {
        throw new CallbackFailure('authorization_server_unavailable', false, 'token endpoint unavailable', { cause: error });
      });
    let tokens: oauth.TokenEndpointResponse;
    try {
      tokens = await oauth.processAuthorizationCodeResponse(as, client, response);
    } catch (error) {
      if (isTransient(error)) {
        throw new CallbackFailure('authorization_server_unavailable', false, 'token endpoint unavailable', { cause: error });
      }
      if (tokenErrorCode(error) === 'invalid_client') {
        // Purged at the AS, or its secret expired: the next login registers a new client.
        await this.clients.reject(as.issuer, registered.clientId).catch(() => undefined);
      }
      throw new CallbackFailure('token_exchange_failed', false, 'token response rejected', { cause: error });
    }
    try {
      return this.toRecord(tokens, undefined, {
        issuer: as.issuer,
        clientId: registered.clientId,
        resource: transaction.resource ?? this.server.url,
        requested: splitScopes(transaction.scope) ?? [],
        generation: 0,
        dpop,
      });
    } catch (error) {
      throw new CallbackFailure('token_exchange_failed', false, 'token response rejected', { cause: error });
    }
  }

  /**
   * Refresh token grant (OAuth 2.1 §4.3), at the AS and as the client that issued the record.
   * Everything it sends fits before `deadline`: a transient failure is tried once more after a pause
   * if there is time left. invalid_grant means the grant is gone, invalid_client that the client is.
   */
  async refresh(record: TokenRecord, options: RefreshOptions = {}): Promise<TokenRecord> {
    if (!record.refreshToken) throw new OAuthFailure('invalid_grant', 'no refresh token');
    const refreshToken = record.refreshToken;
    const deadline = options.deadline ?? Date.now() + this.policy.timeoutMs + 2_000;
    if (!(await this.resourceStillNames(record.issuer, deadline))) {
      throw new OAuthFailure('issuer_changed', `the server's metadata no longer names ${record.issuer} as its authorization server`);
    }
    const as = await within(this.discovery.authorizationServer(record.issuer), deadline);
    const registered = await this.clients.forRecord(this.server, as, record.clientId);
    if (!registered) throw new OAuthFailure('invalid_grant', 'the client these tokens were issued to is gone (rejected or expired)');
    const { client, auth } = clientAuth(registered);
    const attempt = async () => {
      if (options.maySend && !options.maySend()) {
        throw new OAuthFailure('as_unavailable', 'the refresh lock was lost: another instance may be refreshing');
      }
      const left = deadline - Date.now();
      if (left < MIN_REQUEST_MS) throw new OAuthFailure('as_unavailable', 'no time left for the token request');
      const response = await oauth.refreshTokenGrantRequest(as, client, auth, refreshToken, {
        ...(this.server.resourceIndicator ? { additionalParameters: { resource: record.resource } } : {}),
        ...withDpop(tokenRequestOptions(as.token_endpoint as string, this.policy, left), record.dpop),
      });
      return oauth.processRefreshTokenResponse(as, client, response);
    };
    let tokens: oauth.TokenEndpointResponse;
    try {
      tokens = await this.withRetry(attempt, deadline);
    } catch (error) {
      if (error instanceof OAuthFailure) throw error;
      const code = tokenErrorCode(error);
      if (code === 'invalid_grant') throw new OAuthFailure('invalid_grant', 'refresh token rejected', { cause: error });
      if (code === 'invalid_client') throw new OAuthFailure('invalid_client', 'the authorization server refused the client', { cause: error });
      // A DPoP proof refused (even after the nonce it asked for) says nothing about the grant: keep it.
      if (code === 'use_dpop_nonce' || code === 'invalid_dpop_proof') throw new OAuthFailure('as_unavailable', 'the authorization server refused the DPoP proof', { cause: error });
      if (isTransient(error)) throw new OAuthFailure('as_unavailable', 'token endpoint unavailable', { cause: error });
      // An OAuth error response is the AS's verdict on this grant. Anything else (HTML, broken JSON, a
      // redirect, an oversized body) says nothing about the grant: the AS is broken, the tokens are kept.
      if (error instanceof oauth.ResponseBodyError) throw new OAuthFailure('invalid_response', 'refresh failed', { cause: error });
      throw new OAuthFailure('as_unavailable', 'token endpoint answered something that is not a token response', { cause: error });
    }
    try {
      return this.toRecord(tokens, record, {
        issuer: as.issuer,
        clientId: record.clientId,
        resource: record.resource,
        requested: record.scopes,
        generation: record.generation + 1,
        // A refresh keeps the connection's key: a DPoP-bound refresh token only works with it.
        dpop: record.dpop,
      });
    } catch (error) {
      throw new OAuthFailure('as_unavailable', 'token endpoint answered an unusable token response', { cause: error });
    }
  }

  /**
   * Whether the server's protected resource metadata still names `issuer` (MCP 2026-07-28, client
   * registration §Authorization Server Binding, SEP-2352). Tokens and the client belong to the AS that
   * issued them; once the server has moved to another AS, a refresh at the old one could only yield a
   * token the server refuses, or, if the old AS is gone, fail as "unavailable" on every request. The
   * metadata comes from the discovery cache (dropped on every challenge). Metadata that cannot be read
   * says nothing either way: the refresh goes ahead as before.
   */
  private async resourceStillNames(issuer: string, deadline: number): Promise<boolean> {
    try {
      const resource = await within(this.discovery.protectedResource(this.server.url), deadline);
      return resource.authorization_servers.includes(issuer);
    } catch {
      return true;
    }
  }

  /** The AS refused the client `record` was issued to (invalid_client): see ClientResolver.reject. */
  rejectClient(record: TokenRecord): Promise<void> {
    return this.clients.reject(record.issuer, record.clientId);
  }

  /**
   * The metadata of `issuer` when it is this server's authorization server (the one its protected
   * resource metadata names, as for a login), else undefined: nothing is fetched from an issuer that
   * is not. Throws when the server's metadata cannot be had (it cannot tell). For logout tokens
   * (logout-token.ts).
   */
  async authorizationServerIf(issuer: string): Promise<oauth.AuthorizationServer | undefined> {
    const resource = await this.discovery.protectedResource(this.server.url);
    if (resource.authorization_servers[0] !== issuer) return undefined;
    return this.discovery.authorizationServer(issuer);
  }

  /** Whether `clientId` is the BFF's client at `as` for this server (or the one it replaced, while that works). */
  async isOwnClient(as: oauth.AuthorizationServer, clientId: string): Promise<boolean> {
    return (await this.clients.forRecord(this.server, as, clientId)) !== undefined;
  }

  /** RFC 7009: best effort; the caller bounds the time. */
  async revoke(record: TokenRecord): Promise<void> {
    const as = await this.discovery.authorizationServer(record.issuer);
    if (!as.revocation_endpoint) return;
    const registered = await this.clients.forRecord(this.server, as, record.clientId);
    if (!registered) return;
    const { client, auth } = clientAuth(registered);
    const tokens: Array<[string, string]> = [];
    if (record.refreshToken) tokens.push([record.refreshToken, 'refresh_token']);
    tokens.push([record.accessToken, 'access_token']);
    for (const [token, hint] of tokens) {
      const response = await oauth.revocationRequest(as, client, auth, token, {
        additionalParameters: { token_type_hint: hint },
        ...requestOptions(as.revocation_endpoint, this.policy),
      });
      await oauth.processRevocationResponse(response);
    }
  }

  /**
   * The host of the sign-out page of the AS that issued `record` (OpenID Connect RP-Initiated Logout),
   * or undefined when it advertises none. Throws when its metadata cannot be had or names an endpoint
   * that breaks the rules (end-session.ts).
   */
  async endSessionHost(record: TokenRecord): Promise<string | undefined> {
    const as = await this.discovery.authorizationServer(record.issuer);
    return endSessionEndpoint(as, this.policy)?.host;
  }

  /**
   * The logout request for the AS that issued `record`, as the client it was issued to, with the ID
   * token as hint when there is one. The browser comes back to `postLogoutRedirectUri` with `state` only
   * when that URI is registered for the client (`returns`); otherwise the AS shows its own page at the
   * end. Undefined when the AS advertises no end_session_endpoint (any more).
   */
  async endSessionRequest(
    record: TokenRecord,
    back: { postLogoutRedirectUri: string; state: string },
  ): Promise<{ url: string; returns: boolean } | undefined> {
    const as = await this.discovery.authorizationServer(record.issuer);
    const endpoint = endSessionEndpoint(as, this.policy);
    if (!endpoint) return undefined;
    const registered = await this.clients.forRecord(this.server, as, record.clientId);
    const returns = registered !== undefined && this.clients.registeredForLogoutReturn(registered, back.postLogoutRedirectUri);
    const url = endSessionRequestUrl(endpoint, {
      client_id: registered?.clientId,
      id_token_hint: record.idToken,
      post_logout_redirect_uri: returns ? back.postLogoutRedirectUri : undefined,
      state: returns ? back.state : undefined,
    });
    return { url, returns };
  }

  private async withRetry<T>(fn: () => Promise<T>, deadline: number): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (!isTransient(error) || deadline - Date.now() - RETRY_BACKOFF_MS < MIN_REQUEST_MS) throw error;
      await new Promise((r) => setTimeout(r, RETRY_BACKOFF_MS));
      return fn();
    }
  }

  /** Validates what oauth4webapi leaves to the caller, then shapes the stored record. */
  private toRecord(
    tokens: oauth.TokenEndpointResponse,
    previous: TokenRecord | undefined,
    o: { issuer: string; clientId: string; resource: string; requested: string[]; generation: number; dpop: StoredDpopKey | undefined },
  ): TokenRecord {
    const tokenType = tokens.token_type.toLowerCase();
    // DPoP only when the request carried a proof; an AS that ignored it issued a bearer token.
    if (tokenType !== 'bearer' && !(tokenType === 'dpop' && o.dpop)) {
      throw new OAuthFailure('invalid_response', o.dpop ? 'token_type must be DPoP or Bearer' : 'token_type must be Bearer');
    }
    if (!tokens.access_token) throw new OAuthFailure('invalid_response', 'access_token missing');
    const now = Date.now();
    const expiresIn = tokens.expires_in;
    // A refresh asks for nothing new: what the authorization request asked for stays.
    const requestedScopes = previous ? previous.requestedScopes : o.requested.filter((s) => s !== 'offline_access');
    return {
      accessToken: tokens.access_token,
      // A refresh response without a refresh token keeps the old one (OAuth 2.1 §4.3.3).
      refreshToken: tokens.refresh_token ?? previous?.refreshToken,
      // Without a scope in the response, the AS granted what was asked (OAuth 2.1 §3.2.3).
      scopes: splitScopes(tokens.scope) ?? o.requested.filter((s) => s !== 'offline_access'),
      ...(requestedScopes ? { requestedScopes } : {}),
      issuedAt: now,
      expiresAt: typeof expiresIn === 'number' && expiresIn > 0 ? now + expiresIn * 1000 : undefined,
      issuer: o.issuer,
      clientId: o.clientId,
      resource: o.resource,
      generation: o.generation,
      ...(previous?.stepUp ? { stepUp: previous.stepUp } : {}),
      // Only a login that asked for `openid` gets one; a refresh without one keeps the last.
      ...(tokens.id_token ? { idToken: tokens.id_token } : previous?.idToken ? { idToken: previous.idToken } : {}),
      ...idTokenSubject(tokens, previous),
      ...(previous?.login ? { login: previous.login } : {}),
      ...(previous ? { refreshedAt: now } : {}),
      ...(tokenType === 'dpop' ? { tokenType: 'DPoP' as const } : {}),
      ...(o.dpop ? { dpop: o.dpop } : {}),
    };
  }
}

/**
 * Who the ID token says logged in (`sub`) and the AS's login session (`sid`): oauth4webapi has checked
 * its claims (iss, aud, exp, iat) when it processed the token response. A response without one keeps
 * what the login's ID token said.
 */
function idTokenSubject(tokens: oauth.TokenEndpointResponse, previous: TokenRecord | undefined): Pick<TokenRecord, 'subject' | 'authSessionId'> {
  const claims = tokens.id_token ? oauth.getValidatedIdTokenClaims(tokens) : undefined;
  const subject = claims?.sub ?? previous?.subject;
  const sid = claims?.sid ?? previous?.authSessionId;
  return {
    ...(typeof subject === 'string' && subject ? { subject } : {}),
    ...(typeof sid === 'string' && sid ? { authSessionId: sid } : {}),
  };
}

/**
 * The OAuth error code of a token endpoint's error answer: from its JSON body, or, for a 401 with a
 * WWW-Authenticate challenge (which oauth4webapi reports before reading the body), from the challenge.
 * A 401 from the token endpoint is client authentication failing: invalid_client (RFC 6749 §5.2).
 */
export function tokenErrorCode(error: unknown): string | undefined {
  if (error instanceof oauth.ResponseBodyError) return error.error;
  if (error instanceof oauth.WWWAuthenticateChallengeError) {
    const named = error.cause.map((c) => c.parameters.error).find((e) => typeof e === 'string');
    return named ?? (error.status === 401 ? 'invalid_client' : undefined);
  }
  return undefined;
}

/** Token request options that add a DPoP proof (and follow the AS's nonce) when there is a key. */
function withDpop<T extends { [oauth.customFetch]?: typeof fetch }>(options: T, key: StoredDpopKey | undefined): T {
  if (!key) return options;
  return { ...options, [oauth.customFetch]: dpopFetch(dpopSigner(key), options[oauth.customFetch] ?? fetch) };
}

/** `promise`, or as_unavailable once `deadline` passes (what it waits for goes on, bounded by its own timeout). */
function within<T>(promise: Promise<T>, deadline: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new OAuthFailure('as_unavailable', 'the authorization server did not answer in time')), Math.max(0, deadline - Date.now()));
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

export function splitScopes(value: string | undefined): string[] | undefined {
  if (typeof value !== 'string') return undefined;
  return value.split(' ').filter(Boolean);
}

export function normaliseScopes(scopes: string[]): string[] {
  return [...new Set(scopes)].sort();
}

function describeClient(client: RegisteredClient): string {
  switch (client.source) {
    case 'configuration':
      return `Configured client credentials (client ID ${client.clientId}).`;
    case 'metadata_document':
      return `A client ID metadata document: the client ID is its URL, ${client.clientId}.`;
    case 'dynamic_registration':
      return `A client registered dynamically (RFC 7591)${client.registeredAt ? ` on ${new Date(client.registeredAt).toISOString()}` : ''}, client ID ${client.clientId}.`;
  }
}
