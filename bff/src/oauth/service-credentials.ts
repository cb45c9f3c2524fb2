import { importPKCS8 } from 'jose';
import * as oauth from 'oauth4webapi';
import type { ServerConfig } from '../config.js';
import { ApiFailure, authServerUnavailable } from '../http/errors.js';
import type { Logger } from '../log.js';
import { algorithmsFor, type ServiceCredentials, type ServiceSigningAlg } from '../service-config.js';
import { refreshLockName } from '../store/locks.js';
import type { SessionRecord, TokenRecord, TokenStore } from '../store/types.js';
import { MIN_REQUEST_MS, splitScopes, tokenErrorCode } from './client.js';
import { type Discovery, fetchAuthorizationServerMetadata } from './discovery.js';
import { chooseDpopAlgorithm, dpopFetch, dpopSigner, generateDpopKey, type StoredDpopKey } from './dpop.js';
import { OAuthFailure } from './errors.js';
import type { ClientRegistry } from './registration.js';
import { checkOutboundUrl, isTransient, type OutboundPolicy, tokenRequestOptions } from './http.js';
import { type AccessOutcome, describe, needsRefresh } from './tokens.js';

/**
 * Where the deployment's own tokens live: a session of its own in the store, which no cookie names
 * (session ids in cookies are 256 random bits; this one cannot be one of them). Its connections are
 * the service servers' token records: encrypted like everyone's, written with the same compare-and-set,
 * refreshed under the same store lock, and never in a person's session, so that a person's logout or
 * disconnect never touches them and no person's token is ever sent to a service server, or the reverse.
 */
export const SERVICE_SESSION_ID = 'deployment\u0000service-credentials';
/** It never ends by itself (a lost record is fetched again at the next use). */
const SERVICE_SESSION_YEARS = 50;

const RETRY_BACKOFF_MS = 300;
const METADATA_TTL_MS = 10 * 60 * 1000;

export interface ServiceTokensOptions {
  store: TokenStore;
  discovery: Discovery;
  policy: OutboundPolicy;
  log: Logger;
  /** The longest a call waits for a token, its own request or another instance's. */
  deadlineMs: number;
  /** Where held locks are registered, so that a stopping process releases them (http/drain.ts). */
  locks?: { lock(release: () => Promise<void>): () => void } | undefined;
  /**
   * Where the authorization server a service server's credentials were first used with is pinned
   * (the registry logins pin configured clients in): without a configured `issuer`, the credentials
   * are only ever sent to that one afterwards.
   */
  pins: Pick<ClientRegistry, 'pinnedIssuer' | 'pinIssuer'>;
}

/** The registry key a service server's pin is kept under (apart from a login client's pin for the same id). */
export const servicePinKey = (server: string): string => `service:${server}`;

/**
 * Access tokens for the servers configured with `"grant": "client_credentials"` (MCP extension
 * io.modelcontextprotocol/oauth-client-credentials; OAuth 2.1 §4.2): one token per server for the
 * whole deployment, fetched on first use, renewed before it expires (with its refresh token when the
 * AS issued one, else a new client credentials request), and single-flight: in this process one
 * promise per server, across instances the store's refresh lock; whoever waited reads the store.
 */
export class ServiceTokens {
  private readonly servers: Map<string, ServerConfig & { service: ServiceCredentials }>;
  private readonly inflight = new Map<string, Promise<AccessOutcome>>();
  private readonly metadata = new Map<string, { at: number; as: Promise<oauth.AuthorizationServer> }>();
  private readonly keys = new Map<string, Promise<CryptoKey>>();

  constructor(
    servers: readonly ServerConfig[],
    private readonly options: ServiceTokensOptions,
  ) {
    this.servers = new Map(
      servers.flatMap((s) => (s.service ? [[s.id, s as ServerConfig & { service: ServiceCredentials }] as const] : [])),
    );
  }

  handles(server: string): boolean {
    return this.servers.has(server);
  }

  /**
   * A usable token for `server`. @param rejected an access token the MCP server just refused: get
   * another even if it looks fresh, unless someone already replaced it; discovery starts afresh, at
   * `resourceMetadata` (its challenge's) if given. Throws ApiFailure when the
   * AS refuses (no sign-in can help); answers `unavailable` when it cannot be reached in time.
   */
  async access(server: string, rejected?: string, resourceMetadata?: string): Promise<AccessOutcome> {
    const config = this.servers.get(server);
    if (!config) throw new Error(`${server} is not a service server`);
    const { store } = this.options;
    // The read every call makes: through the session cache (store/session-cache.ts) when there is one,
    // like a person's; the reads under the refresh lock below go to the store itself.
    const current = (await store.getSessionWithConnection(SERVICE_SESSION_ID, server))?.record;
    if (current && !isStale(current, rejected)) return { kind: 'ok', record: current };
    let running = this.inflight.get(server);
    if (!running) {
      running = this.obtain(config, current, rejected, resourceMetadata).finally(() => this.inflight.delete(server));
      this.inflight.set(server, running);
    }
    return running;
  }

  /** The failure an MCP server's second 401 (to a token fetched just now) becomes. */
  refusedByServer(server: string): ApiFailure {
    const name = this.servers.get(server)?.name ?? server;
    return new ApiFailure(
      'service_credentials_failed',
      `The MCP server "${name}" refused this deployment's service token, even a new one: the client may lack access to it.`,
    );
  }

  /** Takes the store's lock for the server, or waits for whoever holds it and uses their token. */
  private async obtain(
    server: ServerConfig & { service: ServiceCredentials },
    seen: TokenRecord | undefined,
    rejected: string | undefined,
    resourceMetadata: string | undefined,
  ): Promise<AccessOutcome> {
    const { store, deadlineMs, log } = this.options;
    const deadline = Date.now() + deadlineMs;
    const lockName = refreshLockName(SERVICE_SESSION_ID, server.id);
    const settled = (current: TokenRecord | undefined): TokenRecord | undefined =>
      current && ((seen && current.generation !== seen.generation) || !isStale(current, rejected)) ? current : undefined;
    for (let pause = 20; ; pause = Math.min(pause * 2, 250)) {
      // The lock lives as long as a caller waits at most: the holder is done (or has given up) by then.
      const token = deadline - Date.now() >= MIN_REQUEST_MS ? await store.acquireLock(lockName, deadlineMs) : undefined;
      if (token) {
        const release = () => store.releaseLock(lockName, token).catch((e: unknown) => log.warn({ event: 'service_lock_release_failed', server: server.id, err: describe(e) }));
        const unregister = this.options.locks?.lock(release) ?? (() => {});
        try {
          const current = await store.getConnection(SERVICE_SESSION_ID, server.id);
          const done = settled(current);
          if (done) return { kind: 'ok', record: done };
          // A refused token may mean the server moved to another AS: what discovery found is not trusted.
          if (rejected !== undefined) this.options.discovery.forget(server.url);
          return await this.fetchAndStore(server, current, deadline, resourceMetadata);
        } finally {
          await release();
          unregister();
        }
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(pause, deadline - Date.now()))));
      const done = settled(await store.getConnection(SERVICE_SESSION_ID, server.id));
      if (done) return { kind: 'ok', record: done };
      if (Date.now() >= deadline) {
        log.warn({ event: 'service_token_wait_timed_out', server: server.id });
        return { kind: 'unavailable', cause: new Error('the service token request did not finish in time') };
      }
    }
  }

  private async fetchAndStore(
    server: ServerConfig & { service: ServiceCredentials },
    current: TokenRecord | undefined,
    deadline: number,
    resourceMetadata: string | undefined,
  ): Promise<AccessOutcome> {
    const { store, log } = this.options;
    let next: TokenRecord;
    try {
      next = await this.request(server, current, deadline, resourceMetadata);
    } catch (error) {
      if (error instanceof ApiFailure) {
        log.warn({ event: 'service_token_refused', server: server.id, reason: error.message, err: describe(error.cause ?? error) });
        throw error;
      }
      log.warn({ event: 'service_token_unavailable', server: server.id, err: describe(error) });
      return { kind: 'unavailable', cause: error };
    }
    if (!(await store.getSession(SERVICE_SESSION_ID))) {
      const now = Date.now();
      const end = now + SERVICE_SESSION_YEARS * 365 * 24 * 3600 * 1000;
      const session: SessionRecord = { id: SERVICE_SESSION_ID, createdAt: now, expiresAt: end, idleExpiresAt: end };
      await store.createSession(session);
    }
    if (!current) {
      await store.putConnection(SERVICE_SESSION_ID, server.id, next);
    } else if (!(await store.replaceConnection(SERVICE_SESSION_ID, server.id, current.generation, next))) {
      const stored = await store.getConnection(SERVICE_SESSION_ID, server.id);
      if (stored) return { kind: 'ok', record: stored };
      await store.putConnection(SERVICE_SESSION_ID, server.id, next);
    }
    log.info({ event: 'service_token_obtained', server: server.id, renewed: current !== undefined });
    return { kind: 'ok', record: (await store.getConnection(SERVICE_SESSION_ID, server.id)) ?? next };
  }

  /** Discovery, then the token request (a refresh when there is a refresh token, else client credentials). */
  private async request(
    server: ServerConfig & { service: ServiceCredentials },
    current: TokenRecord | undefined,
    deadline: number,
    resourceMetadata: string | undefined,
  ): Promise<TokenRecord> {
    const { discovery, log } = this.options;
    // A challenge's resource_metadata is followed only on the server's own origin (RFC 9728 §3.3: the
    // metadata is the resource's): any other URL could name any authorization server.
    const hint = resourceMetadata !== undefined && sameOrigin(resourceMetadata, server.url) ? resourceMetadata : undefined;
    if (resourceMetadata !== undefined && hint === undefined) log.warn({ event: 'security', kind: 'service_resource_metadata_elsewhere', server: server.id });
    const resource = await within(discovery.protectedResource(server.url, hint), deadline).catch((error: unknown) => {
      throw discoveryFailure(server, error);
    });
    const named = resource.authorization_servers;
    const issuer = await this.trustedIssuer(server, named);
    const as = await within(this.authorizationServer(issuer), deadline).catch((error: unknown) => {
      throw discoveryFailure(server, error);
    });
    const { client, auth } = await this.clientAuth(server, as);
    const resourceParam = server.resourceIndicator ? resource.resource : undefined;
    const scopes = server.scopes.length > 0 ? server.scopes : [];
    const dpop = serviceDpopKey(server, as, current);
    const attempt = async (grant: 'refresh_token' | 'client_credentials') => {
      const left = deadline - Date.now();
      if (left < MIN_REQUEST_MS) throw new OAuthFailure('as_unavailable', 'no time left for the token request');
      const plain = tokenRequestOptions(as.token_endpoint as string, this.options.policy, left);
      // With a DPoP key, each token request carries a proof (and follows the AS's nonce once).
      const options = dpop ? { ...plain, [oauth.customFetch]: dpopFetch(dpopSigner(dpop), plain[oauth.customFetch] ?? fetch) } : plain;
      if (grant === 'refresh_token' && current?.refreshToken) {
        const response = await oauth.refreshTokenGrantRequest(as, client, auth, current.refreshToken, {
          ...(resourceParam ? { additionalParameters: { resource: resourceParam } } : {}),
          ...options,
        });
        return oauth.processRefreshTokenResponse(as, client, response);
      }
      const parameters = new URLSearchParams();
      if (scopes.length > 0) parameters.set('scope', scopes.join(' '));
      if (resourceParam) parameters.set('resource', resourceParam);
      const response = await oauth.clientCredentialsGrantRequest(as, client, auth, parameters, options);
      return oauth.processClientCredentialsResponse(as, client, response);
    };
    const withRetry = async (grant: 'refresh_token' | 'client_credentials') => {
      try {
        return await attempt(grant);
      } catch (error) {
        if (!isTransient(error) || deadline - Date.now() - RETRY_BACKOFF_MS < MIN_REQUEST_MS) throw error;
        await new Promise((r) => setTimeout(r, RETRY_BACKOFF_MS));
        return attempt(grant);
      }
    };
    let tokens: oauth.TokenEndpointResponse | undefined;
    if (current?.refreshToken) {
      // A refresh token that no longer works is no reason to fail: the credentials get a new grant.
      tokens = await withRetry('refresh_token').catch((error: unknown) => {
        if (isTransient(error)) throw error;
        return undefined;
      });
    }
    try {
      tokens ??= await withRetry('client_credentials');
    } catch (error) {
      if (error instanceof OAuthFailure || isTransient(error)) throw error;
      const code = tokenErrorCode(error);
      throw failure(
        server,
        code ? `the authorization server ${as.issuer} refused this deployment's credentials: ${code}` : `the authorization server ${as.issuer} answered something that is not a token response`,
        error,
      );
    }
    const tokenType = tokens.token_type.toLowerCase();
    // DPoP only when the request carried a proof; an AS that ignored it issued a bearer token.
    if ((tokenType !== 'bearer' && !(tokenType === 'dpop' && dpop)) || !tokens.access_token) {
      throw failure(server, `the authorization server ${as.issuer} issued a token of type "${tokens.token_type}", not a ${dpop ? 'DPoP or ' : ''}bearer token`);
    }
    const now = Date.now();
    return {
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token ?? undefined,
      scopes: splitScopes(tokens.scope) ?? scopes,
      requestedScopes: scopes,
      issuedAt: now,
      expiresAt: typeof tokens.expires_in === 'number' && tokens.expires_in > 0 ? now + tokens.expires_in * 1000 : undefined,
      issuer: as.issuer,
      clientId: server.service.clientId,
      resource: resource.resource,
      generation: current ? current.generation + 1 : 0,
      ...(current ? { refreshedAt: now } : {}),
      ...(tokenType === 'dpop' ? { tokenType: 'DPoP' as const } : {}),
      // The key stays with the record (encrypted with it) while the token is bound to it.
      ...(tokenType === 'dpop' && dpop ? { dpop } : {}),
    };
  }

  /**
   * The authorization server the credentials may go to: the configured `issuer`, else the one they
   * were first used with (pinned then, in the store, for every instance). Resource metadata that names
   * another one (changed, or a 401 challenge's `resource_metadata` pointing elsewhere) is refused, and
   * said as a security event: whoever controls it would otherwise receive the deployment's secret.
   */
  private async trustedIssuer(server: ServerConfig & { service: ServiceCredentials }, named: string[]): Promise<string> {
    const { pins, log } = this.options;
    let issuer = server.issuer;
    let pinned = false;
    if (issuer === undefined) {
      issuer = (await pins.pinnedIssuer(servicePinKey(server.id)))?.issuer;
      pinned = issuer !== undefined;
    }
    if (issuer === undefined) {
      issuer = named[0] as string;
      await pins.pinIssuer(servicePinKey(server.id), issuer);
      log.info({ event: 'service_issuer_pinned', server: server.id, issuer });
      return issuer;
    }
    if (!named.includes(issuer)) {
      log.warn({ event: 'security', kind: 'service_issuer_mismatch', server: server.id, expected: issuer, named });
      throw failure(
        server,
        `its protected resource metadata names ${named.join(', ')}, not the ${pinned ? 'authorization server its credentials were first used with' : 'configured issuer'}, ${issuer}: the credentials are not sent there`,
      );
    }
    return issuer;
  }

  /**
   * RFC 8414 metadata of `issuer` in the MCP spec's order. Unlike a login, a client credentials grant
   * needs no authorization endpoint and no PKCE: only a token endpoint.
   */
  private authorizationServer(issuer: string): Promise<oauth.AuthorizationServer> {
    const hit = this.metadata.get(issuer);
    if (hit && Date.now() - hit.at < METADATA_TTL_MS) return hit.as;
    const as = this.loadAuthorizationServer(issuer);
    this.metadata.set(issuer, { at: Date.now(), as });
    as.catch(() => {
      if (this.metadata.get(issuer)?.as === as) this.metadata.delete(issuer);
    });
    return as;
  }

  private async loadAuthorizationServer(issuer: string): Promise<oauth.AuthorizationServer> {
    const { policy } = this.options;
    const { as } = await fetchAuthorizationServerMetadata(issuer, policy);
    if (!as.token_endpoint) throw new OAuthFailure('discovery_failed', `the authorization server ${issuer} has no token endpoint`);
    checkOutboundUrl(as.token_endpoint, policy, 'token_endpoint');
    return as;
  }

  /**
   * How the deployment authenticates at `as`: a secret goes as client_secret_basic unless the AS lists
   * only client_secret_post; a private key signs an RFC 7523 assertion (aud: the issuer) with the
   * configured algorithm, else the first the AS lists that the key can make.
   */
  private async clientAuth(server: ServerConfig & { service: ServiceCredentials }, as: oauth.AuthorizationServer): Promise<{ client: oauth.Client; auth: oauth.ClientAuth }> {
    const { clientId, auth } = server.service;
    const methods = as.token_endpoint_auth_methods_supported;
    if (auth.method === 'client_secret') {
      // RFC 8414 §2: without the list, client_secret_basic is the default.
      const method =
        auth.send ??
        (!methods || methods.includes('client_secret_basic') ? 'client_secret_basic' : methods.includes('client_secret_post') ? 'client_secret_post' : undefined);
      if (!method || (methods && !methods.includes(method))) {
        throw failure(server, `the authorization server ${as.issuer} takes ${auth.send ? `no ${auth.send}` : 'neither client_secret_basic nor client_secret_post'} (it lists ${methods?.join(', ')})`);
      }
      return {
        client: { client_id: clientId, token_endpoint_auth_method: method },
        auth: method === 'client_secret_basic' ? clientSecretBasic(clientId, auth.clientSecret) : oauth.ClientSecretPost(auth.clientSecret),
      };
    }
    if (methods && !methods.includes('private_key_jwt')) {
      throw failure(server, `the authorization server ${as.issuer} does not take private_key_jwt (it lists ${methods.join(', ')})`);
    }
    const usable = algorithmsFor(auth.privateKey);
    const advertised = as.token_endpoint_auth_signing_alg_values_supported;
    const alg: ServiceSigningAlg | undefined = auth.alg ?? (advertised ? usable.find((a) => advertised.includes(a)) : usable[0]);
    if (!alg) throw failure(server, `the authorization server ${as.issuer} takes none of the algorithms this key can sign with (${usable.join(', ')}; it lists ${advertised?.join(', ')})`);
    let key = this.keys.get(`${server.id} ${alg}`);
    if (!key) {
      const pem = auth.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
      key = importPKCS8(pem, alg);
      this.keys.set(`${server.id} ${alg}`, key);
    }
    return { client: { client_id: clientId, token_endpoint_auth_method: 'private_key_jwt' }, auth: oauth.PrivateKeyJwt({ key: await key }) };
  }
}

/**
 * The DPoP key (RFC 9449) the service server's tokens are bound to: when the AS advertises
 * `dpop_signing_alg_values_supported` and the server's `dpop` is not false. The stored token's key is
 * kept while the AS still takes its algorithm (a DPoP-bound refresh token only works with it), else a
 * new one, as for a person's connection.
 */
function serviceDpopKey(server: ServerConfig, as: oauth.AuthorizationServer, current: TokenRecord | undefined): StoredDpopKey | undefined {
  if (server.dpop === false) return undefined;
  const supported = as.dpop_signing_alg_values_supported;
  if (current?.dpop && Array.isArray(supported) && supported.includes(current.dpop.alg)) return current.dpop;
  const alg = chooseDpopAlgorithm(supported);
  return alg ? generateDpopKey(alg) : undefined;
}

function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

function isStale(record: TokenRecord, rejected: string | undefined): boolean {
  return rejected !== undefined ? record.accessToken === rejected : needsRefresh(record);
}

/** What a failure to get a service token is answered as: 502, naming the server and why, never a secret. */
function failure(server: ServerConfig, why: string, cause?: unknown): ApiFailure {
  return new ApiFailure('service_credentials_failed', `No service token for "${server.name}": ${why}.`, {}, {}, { cause });
}

function discoveryFailure(server: ServerConfig, error: unknown): unknown {
  if (error instanceof OAuthFailure && error.code !== 'as_unavailable') return failure(server, error.message, error);
  // Unreachable or too slow: the call is answered 503 and tried again at the next use.
  return error instanceof OAuthFailure ? error : authServerUnavailable(error);
}

/** RFC 6749 §2.3.1: each part form-encoded, then joined and base64-encoded (see registration.ts). */
function clientSecretBasic(clientId: string, clientSecret: string): oauth.ClientAuth {
  const form = (value: string) => new URLSearchParams({ v: value }).toString().slice(2);
  const credentials = Buffer.from(`${form(clientId)}:${form(clientSecret)}`).toString('base64');
  return (_as, _client, _body, headers) => {
    headers.set('authorization', `Basic ${credentials}`);
  };
}

function within<T>(promise: Promise<T>, deadline: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new OAuthFailure('as_unavailable', 'the authorization server did not answer in time')), Math.max(0, deadline - Date.now()));
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
