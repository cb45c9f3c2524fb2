import type { LoginErrorCode } from '@mcp-bff/shared';
import * as oauth from 'oauth4webapi';
import type { ServerConfig } from '../config.js';
import type { LoginTransaction } from '../session/cookies.js';
import type { TokenRecord } from '../store/types.js';
import type { Discovered, Discovery } from './discovery.js';
import { OAuthFailure } from './errors.js';
import { isTransient, type OutboundPolicy, requestOptions } from './http.js';
import { createPkce, createState, stateMatches } from './pkce.js';

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

export interface AuthorizationStart {
  authorizationUrl: string;
  transaction: LoginTransaction;
}

const RETRY_BACKOFF_MS = 300;

/**
 * Everything the BFF says to one MCP server's authorization server: the authorization request, the code
 * exchange, refresh and revocation. The only place tokens are obtained.
 */
export class OAuthClient {
  private readonly client: oauth.Client;
  private readonly auth: oauth.ClientAuth;

  constructor(
    readonly server: ServerConfig,
    private readonly discovery: Discovery,
    private readonly redirectUri: string,
    private readonly policy: OutboundPolicy,
  ) {
    this.client = { client_id: server.clientId, token_endpoint_auth_method: 'client_secret_basic' };
    this.auth = oauth.ClientSecretBasic(server.clientSecret);
  }

  discover(): Promise<Discovered> {
    return this.discovery.discover(this.server.url);
  }

  /** Builds the authorization request (RFC 6749 §4.1.1 + PKCE S256 + RFC 8707 resource). */
  async startAuthorization(returnTo: string, txn: string): Promise<AuthorizationStart> {
    const { as, resource } = await this.discover();
    const { code_verifier, code_challenge } = await createPkce();
    const state = createState();
    const scopes = this.server.scopes.length > 0 ? this.server.scopes : (resource.scopes_supported ?? []);
    const url = new URL(as.authorization_endpoint as string);
    const params = url.searchParams;
    params.set('response_type', 'code');
    params.set('client_id', this.server.clientId);
    params.set('redirect_uri', this.redirectUri);
    params.set('code_challenge', code_challenge);
    params.set('code_challenge_method', 'S256');
    if (scopes.length > 0) params.set('scope', scopes.join(' '));
    params.set('state', state);
    // Verbatim from the protected resource metadata: no URL normalisation.
    params.set('resource', resource.resource);
    return {
      authorizationUrl: url.href,
      transaction: {
        txn,
        state,
        codeVerifier: code_verifier,
        server: this.server.id,
        returnTo,
        issuer: as.issuer,
        createdAt: Date.now(),
      },
    };
  }

  /**
   * Checks the authorization response against the transaction (state, then RFC 9207 iss, then error)
   * and only then exchanges the code. Nothing reaches the token endpoint unless every check passed.
   */
  async finishAuthorization(transaction: LoginTransaction, callback: URLSearchParams): Promise<TokenRecord> {
    const states = callback.getAll('state');
    if (states.length !== 1 || !stateMatches(states[0] as string, transaction.state)) {
      throw new CallbackFailure('state_mismatch', true, 'state missing, duplicated or not the expected one');
    }
    const { as, resource } = await this.discoverForCallback();
    if (as.issuer !== transaction.issuer) {
      throw new CallbackFailure('authorization_failed', true, 'authorization server changed during login');
    }
    let validated: URLSearchParams;
    try {
      validated = oauth.validateAuthResponse(as, this.client, callback, transaction.state);
    } catch (error) {
      if (error instanceof oauth.AuthorizationResponseError) {
        const code: LoginErrorCode = error.error === 'access_denied' ? 'access_denied' : 'authorization_failed';
        throw new CallbackFailure(code, false, `authorization server answered ${code}`, { cause: error });
      }
      // iss missing or different, duplicated parameters, or a response without a code.
      throw new CallbackFailure('authorization_failed', true, 'invalid authorization response', { cause: error });
    }

    // Not retried: a code is single-use, and a second attempt after a lost answer would make the AS
    // revoke what the first one issued.
    const response = await oauth
      .authorizationCodeGrantRequest(as, this.client, this.auth, validated, this.redirectUri, transaction.codeVerifier, {
        additionalParameters: { resource: resource.resource },
        ...requestOptions(as.token_endpoint as string, this.policy),
      })
      .catch((error: unknown) => {
        throw new CallbackFailure('authorization_server_unavailable', false, 'token endpoint unavailable', { cause: error });
      });
    let tokens: oauth.TokenEndpointResponse;
    try {
      tokens = await oauth.processAuthorizationCodeResponse(as, this.client, response);
    } catch (error) {
      if (isTransient(error)) {
        throw new CallbackFailure('authorization_server_unavailable', false, 'token endpoint unavailable', { cause: error });
      }
      throw new CallbackFailure('token_exchange_failed', false, 'token response rejected', { cause: error });
    }
    try {
      return this.toRecord(tokens, undefined, as.issuer, resource.resource, 0);
    } catch (error) {
      throw new CallbackFailure('token_exchange_failed', false, 'token response rejected', { cause: error });
    }
  }

  /**
   * Refresh token grant (RFC 6749 §6). A transient failure is tried once more after a pause;
   * invalid_grant means the grant is gone.
   */
  async refresh(record: TokenRecord): Promise<TokenRecord> {
    if (!record.refreshToken) throw new OAuthFailure('invalid_grant', 'no refresh token');
    const refreshToken = record.refreshToken;
    let as: oauth.AuthorizationServer;
    try {
      ({ as } = await this.discover());
    } catch (error) {
      if (error instanceof OAuthFailure) throw error;
      throw new OAuthFailure('as_unavailable', 'authorization server metadata unavailable', { cause: error });
    }
    if (as.issuer !== record.issuer) throw new OAuthFailure('invalid_grant', 'the authorization server changed');
    const attempt = async () => {
      const response = await oauth.refreshTokenGrantRequest(as, this.client, this.auth, refreshToken, {
        additionalParameters: { resource: record.resource },
        ...requestOptions(as.token_endpoint as string, this.policy),
      });
      return oauth.processRefreshTokenResponse(as, this.client, response);
    };
    let tokens: oauth.TokenEndpointResponse;
    try {
      tokens = await this.withRetry(attempt);
    } catch (error) {
      if (error instanceof oauth.ResponseBodyError && error.error === 'invalid_grant') {
        throw new OAuthFailure('invalid_grant', 'refresh token rejected', { cause: error });
      }
      if (isTransient(error)) throw new OAuthFailure('as_unavailable', 'token endpoint unavailable', { cause: error });
      throw new OAuthFailure('invalid_response', 'refresh failed', { cause: error });
    }
    return this.toRecord(tokens, record, as.issuer, record.resource, record.generation + 1);
  }

  /** RFC 7009: best effort, bounded in time; logout goes on whatever the AS says. */
  async revoke(record: TokenRecord): Promise<void> {
    const { as } = await this.discover();
    if (!as.revocation_endpoint || as.issuer !== record.issuer) return;
    const tokens: Array<[string, string]> = [];
    if (record.refreshToken) tokens.push([record.refreshToken, 'refresh_token']);
    tokens.push([record.accessToken, 'access_token']);
    for (const [token, hint] of tokens) {
      const response = await oauth.revocationRequest(as, this.client, this.auth, token, {
        additionalParameters: { token_type_hint: hint },
        ...requestOptions(as.revocation_endpoint, this.policy),
      });
      await oauth.processRevocationResponse(response);
    }
  }

  private async discoverForCallback(): Promise<Discovered> {
    try {
      return await this.discover();
    } catch (error) {
      throw new CallbackFailure('authorization_server_unavailable', false, 'discovery failed', { cause: error });
    }
  }

  private async withRetry<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (!isTransient(error)) throw error;
      await new Promise((r) => setTimeout(r, RETRY_BACKOFF_MS));
      return fn();
    }
  }

  /** Validates what oauth4webapi leaves to the caller, then shapes the stored record. */
  private toRecord(
    tokens: oauth.TokenEndpointResponse,
    previous: TokenRecord | undefined,
    issuer: string,
    resource: string,
    generation: number,
  ): TokenRecord {
    if (tokens.token_type.toLowerCase() !== 'bearer') {
      throw new OAuthFailure('invalid_response', 'token_type must be Bearer');
    }
    if (!tokens.access_token) throw new OAuthFailure('invalid_response', 'access_token missing');
    const now = Date.now();
    const expiresIn = tokens.expires_in;
    const scopes =
      typeof tokens.scope === 'string'
        ? tokens.scope.split(' ').filter(Boolean)
        : (previous?.scopes ?? this.server.scopes);
    return {
      accessToken: tokens.access_token,
      // A refresh response without a refresh token keeps the old one (RFC 6749 §6).
      refreshToken: tokens.refresh_token ?? previous?.refreshToken,
      scopes,
      issuedAt: now,
      expiresAt: typeof expiresIn === 'number' && expiresIn > 0 ? now + expiresIn * 1000 : undefined,
      issuer,
      clientId: this.server.clientId,
      resource,
      generation,
    };
  }
}
