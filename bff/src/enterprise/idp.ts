import { createHash } from 'node:crypto';
import { createRemoteJWKSet, customFetch, errors as joseErrors, jwtVerify } from 'jose';
import { LRUCache } from 'lru-cache';
import * as oauth from 'oauth4webapi';
import type { TokenRecord } from '../store/types.js';
import { checkOutboundUrl, isTransient, type OutboundPolicy, requestOptions, tokenRequestOptions } from '../oauth/http.js';
import { createPkce, createState } from '../oauth/pkce.js';
import type { EnterpriseIdpConfig } from './config.js';

/**
 * Where a person's sign-in at the enterprise IdP is kept: as a connection of their browser session
 * under this name, which no configured server can have (server ids are lower-case letters, digits,
 * "-" and "_"). Encrypted at rest and ended with the session like every connection; never sent to an
 * MCP server (the proxy only reads the connection of the server a request is for).
 */
export const IDP_CONNECTION = '~idp';

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
export const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
export const ID_JAG_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id-jag';

/** An ID token is not used with less than this left: the exchange and the grant take a moment. */
const ID_TOKEN_MARGIN_MS = 30_000;
const METADATA_TTL_MS = 10 * 60 * 1000;
/** How long a forwarded ID token's check is remembered (per token): the guard runs on every request. */
const VERIFIED_TTL_MS = 60_000;

/**
 * What checking a forwarded ID token found: a sign-in, a token that is not one (bad signature, wrong
 * iss/aud/azp, expired), or no answer (the IdP's JWKS could not be read: nothing is known either way).
 */
export type ForwardedCheck = { kind: 'valid'; record: TokenRecord } | { kind: 'invalid' } | { kind: 'unavailable' };

/** Which step of enterprise-managed authorization failed, and how. Never carries upstream text. */
export class EnterpriseFailure extends Error {
  constructor(
    /** idp: the IdP's sign-in or token exchange; as: the MCP server's authorization server (JWT bearer grant). */
    readonly at: 'idp' | 'as',
    /** The OAuth error code the server answered (invalid_grant, access_denied, ...), when it sent one. */
    readonly oauthError: string | undefined,
    /** The server could not be reached or answered 5xx: worth trying again, nothing was refused. */
    readonly transient: boolean,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'EnterpriseFailure';
  }

  /** What the person is told: which party refused, with its OAuth error code (a fixed vocabulary). */
  get publicMessage(): string {
    const code = this.oauthError && /^[a-z_]{1,40}$/.test(this.oauthError) ? ` (${this.oauthError})` : '';
    return this.at === 'idp'
      ? `Your organisation's identity provider did not allow access to this server${code}. Ask your administrator if you need it.`
      : `This server's authorization server did not accept the grant from your organisation's identity provider${code}.`;
  }
}

/** What a failed request to `at` was: a refusal with an OAuth error code, or the server being unavailable. */
export function failureOf(at: 'idp' | 'as', error: unknown, what: string): EnterpriseFailure {
  if (error instanceof EnterpriseFailure) return error;
  if (error instanceof oauth.ResponseBodyError) return new EnterpriseFailure(at, error.error, false, `${what}: ${error.error}`, { cause: error });
  if (error instanceof oauth.WWWAuthenticateChallengeError) {
    const named = error.cause.map((c) => c.parameters.error).find((e) => typeof e === 'string');
    return new EnterpriseFailure(at, named ?? (error.status === 401 ? 'invalid_client' : undefined), false, `${what}: refused`, { cause: error });
  }
  if (isTransient(error)) return new EnterpriseFailure(at, undefined, true, `${what}: unavailable`, { cause: error });
  return new EnterpriseFailure(at, undefined, false, `${what}: unusable answer`, { cause: error });
}

/** The decoded payload of a JWT, unverified; undefined when it is none. */
export function jwtClaims(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1] as string, 'base64url').toString('utf8'));
    return typeof claims === 'object' && claims !== null && !Array.isArray(claims) ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Whether an ID token is still good for a token exchange (its `exp`, with a margin). */
export function idTokenUsable(idToken: string | undefined, now = Date.now()): boolean {
  const exp = idToken ? jwtClaims(idToken)?.exp : undefined;
  return typeof exp === 'number' && exp * 1000 - ID_TOKEN_MARGIN_MS > now;
}

export interface SignInStart {
  url: string;
  state: string;
  nonce: string;
  codeVerifier: string;
}

/**
 * The BFF as a relying party of the enterprise IdP: OpenID Connect sign-in (code + PKCE S256 + state +
 * nonce), refresh of that sign-in, and RFC 8693 token exchange of its ID token for an ID-JAG.
 */
export class EnterpriseIdp {
  private metadata: { as: Promise<oauth.AuthorizationServer>; at: number } | undefined;
  private jwks: { uri: string; get: ReturnType<typeof createRemoteJWKSet> } | undefined;
  /** Checks of forwarded ID tokens, by the token's SHA-256 (the token itself is not kept twice). */
  private readonly checked = new LRUCache<string, ForwardedCheck>({ max: 2000, ttl: VERIFIED_TTL_MS });
  private readonly client: oauth.Client;
  private readonly auth: oauth.ClientAuth;

  constructor(
    readonly config: EnterpriseIdpConfig,
    private readonly policy: OutboundPolicy,
    /** PUBLIC_URL/bff/idp/callback. */
    readonly redirectUri: string,
  ) {
    this.client = { client_id: config.clientId, token_endpoint_auth_method: config.clientSecret ? 'client_secret_basic' : 'none' };
    this.auth = config.clientSecret ? oauth.ClientSecretBasic(config.clientSecret) : oauth.None();
  }

  /** The IdP's OpenID Connect metadata (cached for 10 minutes; a failure is not cached). */
  discover(): Promise<oauth.AuthorizationServer> {
    const now = Date.now();
    if (this.metadata && now - this.metadata.at < METADATA_TTL_MS) return this.metadata.as;
    const issuer = new URL(this.config.issuer);
    const as = (async () => {
      const response = await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...requestOptions(issuer.href, this.policy) });
      const found = await oauth.processDiscoveryResponse(issuer, response);
      if (!found.token_endpoint) throw new Error('the identity provider metadata has no token_endpoint');
      checkOutboundUrl(found.token_endpoint, this.policy, 'token_endpoint');
      return found;
    })();
    const entry = { as, at: now };
    this.metadata = entry;
    as.catch(() => {
      if (this.metadata === entry) this.metadata = undefined;
    });
    return as;
  }

  async startSignIn(): Promise<SignInStart> {
    const as = await this.discover().catch((error: unknown) => {
      throw failureOf('idp', error, 'identity provider discovery');
    });
    if (!as.authorization_endpoint) throw new EnterpriseFailure('idp', undefined, false, 'the identity provider has no authorization_endpoint');
    if (!as.code_challenge_methods_supported?.includes('S256')) {
      throw new EnterpriseFailure('idp', undefined, false, 'the identity provider does not advertise PKCE with S256');
    }
    checkOutboundUrl(as.authorization_endpoint, this.policy, 'authorization_endpoint');
    const { code_verifier, code_challenge } = await createPkce();
    const state = createState();
    const nonce = oauth.generateRandomNonce();
    const url = new URL(as.authorization_endpoint);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('client_id', this.config.clientId);
    url.searchParams.set('redirect_uri', this.redirectUri);
    url.searchParams.set('scope', this.config.scopes.join(' '));
    url.searchParams.set('code_challenge', code_challenge);
    url.searchParams.set('code_challenge_method', 'S256');
    url.searchParams.set('state', state);
    url.searchParams.set('nonce', nonce);
    return { url: url.href, state, nonce, codeVerifier: code_verifier };
  }

  /** Checks the authorization response (state, RFC 9207 iss) and exchanges the code; the ID token's nonce must match. */
  async finishSignIn(callback: URLSearchParams, expected: { state: string; nonce: string; codeVerifier: string }): Promise<TokenRecord> {
    const as = await this.discover().catch((error: unknown) => {
      throw failureOf('idp', error, 'identity provider discovery');
    });
    let validated: URLSearchParams;
    try {
      validated = oauth.validateAuthResponse(as, this.client, callback, expected.state);
    } catch (error) {
      const code = error instanceof oauth.AuthorizationResponseError ? error.error : 'invalid_response';
      throw new EnterpriseFailure('idp', code, false, 'sign-in at the identity provider refused or invalid', { cause: error });
    }
    try {
      const response = await oauth.authorizationCodeGrantRequest(as, this.client, this.auth, validated, this.redirectUri, expected.codeVerifier, {
        ...tokenRequestOptions(as.token_endpoint as string, this.policy),
      });
      const tokens = await oauth.processAuthorizationCodeResponse(as, this.client, response, { expectedNonce: expected.nonce, requireIdToken: true });
      return this.toRecord(as, tokens, undefined);
    } catch (error) {
      throw failureOf('idp', error, 'identity provider code exchange');
    }
  }

  /** A new ID token from the IdP's refresh token, when it issued one. */
  async refreshSignIn(record: TokenRecord): Promise<TokenRecord> {
    if (!record.refreshToken) throw new EnterpriseFailure('idp', 'invalid_grant', false, 'no refresh token at the identity provider');
    const as = await this.discover().catch((error: unknown) => {
      throw failureOf('idp', error, 'identity provider discovery');
    });
    try {
      const response = await oauth.refreshTokenGrantRequest(as, this.client, this.auth, record.refreshToken, {
        ...tokenRequestOptions(as.token_endpoint as string, this.policy),
      });
      const tokens = await oauth.processRefreshTokenResponse(as, this.client, response);
      return this.toRecord(as, tokens, record);
    } catch (error) {
      throw failureOf('idp', error, 'identity provider refresh');
    }
  }

  /**
   * RFC 7009 at the IdP's revocation_endpoint (when it advertises one): the sign-in's refresh token (and
   * its access token), when the session it belongs to ends. Best effort: the caller bounds it in time.
   */
  async revoke(record: TokenRecord): Promise<void> {
    const as = await this.discover();
    if (!as.revocation_endpoint) return;
    checkOutboundUrl(as.revocation_endpoint, this.policy, 'revocation_endpoint');
    const tokens: Array<[string, string]> = [];
    if (record.refreshToken) tokens.push([record.refreshToken, 'refresh_token']);
    if (record.accessToken) tokens.push([record.accessToken, 'access_token']);
    for (const [token, hint] of tokens) {
      const response = await oauth.revocationRequest(as, this.client, this.auth, token, {
        additionalParameters: { token_type_hint: hint },
        ...requestOptions(as.revocation_endpoint, this.policy),
      });
      await oauth.processRevocationResponse(response);
    }
  }

  /**
   * RFC 8693 token exchange of the person's ID token for an Identity Assertion JWT Authorization Grant
   * (ext-auth enterprise-managed authorization §4) for one MCP server.
   */
  async exchange(idToken: string, request: { audience: string; resource: string; scope: string | undefined }): Promise<{ assertion: string; scope: string | undefined }> {
    const as = await this.discover().catch((error: unknown) => {
      throw failureOf('idp', error, 'identity provider discovery');
    });
    let tokens: oauth.TokenEndpointResponse;
    try {
      const parameters: Record<string, string> = {
        requested_token_type: ID_JAG_TOKEN_TYPE,
        audience: request.audience,
        resource: request.resource,
        subject_token: idToken,
        subject_token_type: ID_TOKEN_TYPE,
        ...(request.scope ? { scope: request.scope } : {}),
      };
      const response = await oauth.genericTokenEndpointRequest(as, this.client, this.auth, TOKEN_EXCHANGE_GRANT, parameters, {
        ...tokenRequestOptions(as.token_endpoint as string, this.policy),
      });
      // token_type is "N_A": an ID-JAG is not an access token (§4.2).
      tokens = await oauth.processGenericTokenEndpointResponse(as, this.client, response, { recognizedTokenTypes: { n_a: () => {} } });
    } catch (error) {
      throw failureOf('idp', error, 'token exchange');
    }
    if (tokens.issued_token_type !== ID_JAG_TOKEN_TYPE) {
      throw new EnterpriseFailure('idp', undefined, false, 'the token exchange issued something other than an ID-JAG');
    }
    if (jwtClaims(tokens.access_token) === undefined) throw new EnterpriseFailure('idp', undefined, false, 'the ID-JAG is not a JWT');
    return { assertion: tokens.access_token, scope: typeof tokens.scope === 'string' ? tokens.scope : undefined };
  }

  /**
   * An ID token an authenticating proxy forwarded (ENTERPRISE_IDP_ID_TOKEN_HEADER), checked before it
   * decides anything: its signature against the IdP's JWKS (unless ENTERPRISE_IDP_ID_TOKEN_VERIFY=claims),
   * `iss` = the IdP, `aud` naming the BFF's client (`azp` = it when present or when `aud` names others
   * too), `exp`/`nbf`, and a `sub`. Remembered per token for a minute (at most until it expires): this
   * runs on every request when the header is configured. A JWKS that cannot be read is not remembered.
   */
  async checkForwarded(idToken: string): Promise<ForwardedCheck> {
    if (idToken.length > 16_384) return { kind: 'invalid' };
    const key = createHash('sha256').update(idToken).digest('base64url');
    const known = this.checked.get(key);
    if (known) {
      if (known.kind !== 'valid' || idTokenUsable(idToken)) return known;
      this.checked.delete(key);
      return { kind: 'invalid' };
    }
    const result = await this.checkForwardedOnce(idToken);
    if (result.kind !== 'unavailable') {
      const exp = result.kind === 'valid' ? (result.record.expiresAt ?? 0) - Date.now() : VERIFIED_TTL_MS;
      this.checked.set(key, result, { ttl: Math.max(1, Math.min(VERIFIED_TTL_MS, exp)) });
    }
    return result;
  }

  private async checkForwardedOnce(idToken: string): Promise<ForwardedCheck> {
    const claims = jwtClaims(idToken);
    if (!claims || claims.iss !== this.config.issuer || !idTokenUsable(idToken)) return { kind: 'invalid' };
    const aud = claims.aud;
    const audiences = Array.isArray(aud) ? aud : [aud];
    if (!audiences.includes(this.config.clientId)) return { kind: 'invalid' };
    // OpenID Connect Core §3.1.3.7: with other audiences, azp must name this client; when present, always.
    if ((audiences.length > 1 || claims.azp !== undefined) && claims.azp !== this.config.clientId) return { kind: 'invalid' };
    if (typeof claims.nbf === 'number' && claims.nbf * 1000 > Date.now() + 60_000) return { kind: 'invalid' };
    if (typeof claims.sub !== 'string' || claims.sub === '') return { kind: 'invalid' };
    if (this.config.idTokenVerify === 'signature') {
      let keys: ReturnType<typeof createRemoteJWKSet>;
      try {
        keys = await this.jwksKeys();
      } catch (error) {
        return failureOf('idp', error, 'identity provider discovery').transient ? { kind: 'unavailable' } : { kind: 'invalid' };
      }
      try {
        await jwtVerify(idToken, keys, { issuer: this.config.issuer, audience: this.config.clientId, clockTolerance: 60 });
      } catch (error) {
        // The JWKS itself could not be fetched: unknown, not a bad token.
        const unreadable =
          error instanceof joseErrors.JWKSTimeout ||
          error instanceof joseErrors.JWKSInvalid ||
          (error instanceof joseErrors.JOSEError && error.constructor === joseErrors.JOSEError) ||
          !(error instanceof joseErrors.JOSEError);
        if (unreadable) return { kind: 'unavailable' };
        return { kind: 'invalid' };
      }
    }
    const now = Date.now();
    return {
      kind: 'valid',
      record: {
        accessToken: '',
        refreshToken: undefined,
        scopes: [],
        issuedAt: now,
        expiresAt: (claims.exp as number) * 1000,
        issuer: this.config.issuer,
        clientId: this.config.clientId,
        resource: this.config.issuer,
        generation: 0,
        idToken,
        subject: claims.sub,
      },
    };
  }

  /** The IdP's signing keys (its metadata's jwks_uri, through the outbound policy), kept by jose. */
  private async jwksKeys(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    const as = await this.discover();
    const uri = as.jwks_uri;
    if (!uri) throw new EnterpriseFailure('idp', undefined, false, 'the identity provider metadata has no jwks_uri');
    if (this.jwks?.uri === uri) return this.jwks.get;
    checkOutboundUrl(uri, this.policy, 'jwks_uri');
    const get = createRemoteJWKSet(new URL(uri), {
      timeoutDuration: this.policy.timeoutMs,
      cooldownDuration: 30_000,
      cacheMaxAge: METADATA_TTL_MS,
      [customFetch]: this.policy.fetch,
    });
    this.jwks = { uri, get };
    return get;
  }

  private toRecord(as: oauth.AuthorizationServer, tokens: oauth.TokenEndpointResponse, previous: TokenRecord | undefined): TokenRecord {
    const idToken = tokens.id_token ?? previous?.idToken;
    const claims = tokens.id_token ? oauth.getValidatedIdTokenClaims(tokens) : undefined;
    const now = Date.now();
    const subject = claims?.sub ?? previous?.subject;
    const sid = claims?.sid ?? previous?.authSessionId;
    return {
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token ?? previous?.refreshToken,
      scopes: (tokens.scope ?? this.config.scopes.join(' ')).split(' ').filter(Boolean),
      issuedAt: now,
      // The sign-in lasts as long as its ID token (what the exchange needs).
      expiresAt: typeof claims?.exp === 'number' ? claims.exp * 1000 : previous?.expiresAt,
      issuer: as.issuer,
      clientId: this.config.clientId,
      resource: as.issuer,
      generation: previous ? previous.generation + 1 : 0,
      ...(idToken ? { idToken } : {}),
      ...(subject ? { subject } : {}),
      ...(typeof sid === 'string' && sid ? { authSessionId: sid } : {}),
      ...(previous ? { refreshedAt: now } : {}),
    };
  }
}
