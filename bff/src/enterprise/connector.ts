import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import * as oauth from 'oauth4webapi';
import type { ServerConfig } from '../config.js';
import type { Logger } from '../log.js';
import { type ChallengeHints, normaliseScopes } from '../oauth/client.js';
import type { Discovery } from '../oauth/discovery.js';
import { OAuthFailure } from '../oauth/errors.js';
import { type OutboundPolicy, tokenRequestOptions } from '../oauth/http.js';
import { type ClientResolver, clientAuth } from '../oauth/registration.js';
import type { AccessOutcome } from '../oauth/tokens.js';
import { describe } from '../oauth/tokens.js';
import { refreshLockName } from '../store/locks.js';
import type { TokenRecord, TokenStore } from '../store/types.js';
import { EnterpriseFailure, type EnterpriseIdp, failureOf, IDP_CONNECTION, idTokenUsable, JWT_BEARER_GRANT } from './idp.js';

/** The person's usable ID token, and whose it is. */
type SignIn = { idToken: string; subject: string | undefined };

/** How long a refused exchange or grant is answered from memory before the IdP and AS are asked again. */
const REFUSAL_TTL_MS = 30_000;

/** The longest a renewal of the IdP sign-in is waited for (and its lock held). */
const IDP_RENEW_WAIT_MS = 30_000;

/**
 * Connects a browser session to an enterprise-managed MCP server without a consent screen (ext-auth
 * enterprise-managed authorization): the person's ID token from their IdP sign-in is exchanged at the
 * IdP for an ID-JAG (RFC 8693), which the MCP server's authorization server takes as a JWT bearer grant
 * (RFC 7523) from the BFF's client there. The tokens land in the session's ordinary connection record,
 * so the proxy, refresh and logout treat them like any other.
 */
export class EnterpriseConnector {
  /** One connection attempt at a time per (session, server) in this process; others wait for it. */
  private readonly inflight = new Map<string, Promise<AccessOutcome>>();
  /**
   * Refusals (by the IdP or the AS) per (session, server, scopes), for REFUSAL_TTL_MS: every proxied
   * call would otherwise run a whole exchange and grant while the IdP says no. Keyed by the ID token
   * too, so that a new sign-in at the IdP (or its renewal) is asked again at once.
   */
  private readonly refusals = new LRUCache<string, EnterpriseFailure>({ max: 10_000, ttl: REFUSAL_TTL_MS });
  /** One renewal of the IdP sign-in per session at a time in this process. */
  private readonly renewing = new Map<string, Promise<SignIn | undefined>>();

  constructor(
    private readonly deps: {
      idp: EnterpriseIdp;
      store: TokenStore;
      discovery: Discovery;
      resolver: ClientResolver;
      policy: OutboundPolicy;
      servers: ReadonlyMap<string, ServerConfig>;
      hints: (server: string) => ChallengeHints;
      log: Logger;
    },
  ) {}

  /** Whether `server` is enterprise-managed. */
  manages(server: string): boolean {
    const config = this.deps.servers.get(server);
    // A service server (client credentials) is never a person's: config.ts refuses the combination.
    return config?.authorization === 'enterprise' && !config.service;
  }

  /**
   * The person's ID token for this session, renewed at the IdP first when it has expired and the IdP
   * gave a refresh token; undefined when they must sign in at the IdP (again).
   */
  async idToken(sessionId: string): Promise<SignIn | undefined> {
    const record = await this.deps.store.getConnection(sessionId, IDP_CONNECTION);
    if (!record) return undefined;
    if (record.idToken && idTokenUsable(record.idToken)) return { idToken: record.idToken, subject: record.subject };
    if (!record.refreshToken) return undefined;
    // One renewal per session at a time in this process (every server's connect shares it), and one
    // across instances by the store's lock: a refresh token sent twice can make the IdP revoke the grant.
    let running = this.renewing.get(sessionId);
    if (!running) {
      running = this.renew(sessionId).finally(() => this.renewing.delete(sessionId));
      this.renewing.set(sessionId, running);
    }
    return running;
  }

  private async renew(sessionId: string): Promise<SignIn | undefined> {
    const { store } = this.deps;
    const lockName = refreshLockName(sessionId, IDP_CONNECTION);
    const deadline = Date.now() + IDP_RENEW_WAIT_MS;
    const usable = (r: TokenRecord | undefined): SignIn | undefined =>
      r?.idToken && idTokenUsable(r.idToken) ? { idToken: r.idToken, subject: r.subject } : undefined;
    for (let pause = 20; ; pause = Math.min(pause * 2, 250)) {
      const token = await store.acquireLock(lockName, IDP_RENEW_WAIT_MS);
      if (token) {
        try {
          // Under the lock, look again: another instance may have renewed it meanwhile.
          const current = await store.getConnection(sessionId, IDP_CONNECTION);
          if (!current?.refreshToken) return usable(current);
          return usable(current) ?? (await this.renewLocked(sessionId, current));
        } finally {
          await store.releaseLock(lockName, token).catch(() => undefined);
        }
      }
      await new Promise((resolve) => setTimeout(resolve, pause));
      const current = await store.getConnection(sessionId, IDP_CONNECTION);
      const done = usable(current);
      if (done || !current?.refreshToken) return done;
      if (Date.now() > deadline) throw new EnterpriseFailure('idp', undefined, true, 'a renewal of the sign-in at the identity provider did not finish in time');
    }
  }

  /** With the lock held and `current` just read: one refresh at the IdP, whose result is always kept. */
  private async renewLocked(sessionId: string, current: TokenRecord): Promise<SignIn | undefined> {
    const { store, idp, log } = this.deps;
    let next: TokenRecord;
    try {
      next = await idp.refreshSignIn(current);
    } catch (error) {
      log.warn({ event: 'idp_refresh_failed', err: describe(error) });
      if (error instanceof EnterpriseFailure && error.transient) throw error;
      return undefined;
    }
    if (next.subject !== current.subject) {
      // Another person's ID token from this refresh token: nothing of it is used or kept.
      await store.deleteConnection(sessionId, IDP_CONNECTION, current.generation);
      log.warn({ event: 'security', kind: 'idp_refresh_refused', reason: 'the renewed ID token names another subject' });
      return undefined;
    }
    // Kept even without a usable ID token: the IdP may have rotated the refresh token, and the old one is spent.
    if (!(await store.replaceConnection(sessionId, IDP_CONNECTION, current.generation, next))) {
      const again = await store.getConnection(sessionId, IDP_CONNECTION);
      return again?.idToken && idTokenUsable(again.idToken) ? { idToken: again.idToken, subject: again.subject } : undefined;
    }
    return next.idToken && idTokenUsable(next.idToken) ? { idToken: next.idToken, subject: next.subject } : undefined;
  }

  /**
   * After a sign-in at the IdP: ends the session's enterprise-managed connections made from another
   * person's sign-in (the browser was handed over), so that nobody goes on using another's access.
   */
  async dropOthers(sessionId: string): Promise<void> {
    const { store, log } = this.deps;
    const signIn = await store.getConnection(sessionId, IDP_CONNECTION);
    for (const [id, server] of this.deps.servers) {
      if (server.authorization !== 'enterprise') continue;
      const record = await store.getConnection(sessionId, id);
      if (record && record.subject !== signIn?.subject) {
        await store.deleteConnection(sessionId, id, record.generation);
        log.info({ event: 'enterprise_connection_dropped', server: id, reason: 'another person signed in at the identity provider' });
      }
    }
  }

  /**
   * Gets tokens for `server` and stores them as the session's connection. login_required when there is
   * no usable IdP sign-in; throws EnterpriseFailure when the IdP or the authorization server refuses
   * (or cannot be reached), OAuthFailure when discovery does.
   */
  connect(sessionId: string, server: string, stepUp?: string[]): Promise<AccessOutcome> {
    const key = `${sessionId}\u0000${server}\u0000${stepUp?.join(' ') ?? ''}`;
    let running = this.inflight.get(key);
    if (!running) {
      running = this.connectOnce(sessionId, server, stepUp).finally(() => this.inflight.delete(key));
      this.inflight.set(key, running);
    }
    return running;
  }

  /**
   * @param stepUp scopes the server asked for (403 insufficient_scope): asked for with those asked for
   *   and granted before, and counted as the other logins' step-ups are, so that the proxy stops
   *   offering it after MAX_STEP_UP_ATTEMPTS.
   */
  private async connectOnce(sessionId: string, id: string, stepUp: string[] | undefined): Promise<AccessOutcome> {
    const { store, discovery, resolver } = this.deps;
    const server = this.deps.servers.get(id);
    if (!server || !this.manages(id)) return { kind: 'login_required' };
    const signIn = await this.idToken(sessionId);
    if (!signIn) return { kind: 'login_required' };
    const { idToken } = signIn;

    const resource = await discovery.protectedResource(server.url, this.deps.hints(id).resourceMetadata);
    // The person's ID token is exchanged for a grant to the configured AS only (config.ts requires its
    // issuer): a server whose metadata or challenge names another one gets nothing, and no client is
    // ever registered or described by a metadata document on this path.
    const issuer = server.issuer;
    if (!issuer || !(resource.authorization_servers ?? []).includes(issuer)) {
      throw new EnterpriseFailure('as', undefined, false, 'the server does not name its configured authorization server');
    }
    const as = await discovery.authorizationServer(issuer);
    if (as.issuer !== issuer) throw new EnterpriseFailure('as', undefined, false, 'the authorization server metadata names another issuer');
    const registered = await resolver.resolveForLogin(server, as);
    if (registered.source !== 'configuration' || registered.issuer !== issuer) {
      throw new EnterpriseFailure('as', undefined, false, 'only the configured client may take an identity assertion grant');
    }
    const base = server.scopes.length > 0 ? server.scopes : (resource.scopes_supported ?? []);
    // Connecting again (the access token expired: never refreshed at the AS) asks for what was asked before.
    const before = await store.getConnection(sessionId, id);
    const previous = before && before.subject === signIn.subject ? before : undefined;
    const scopes = stepUp ? [...(previous?.requestedScopes ?? base), ...(previous?.scopes ?? []), ...stepUp] : (previous?.requestedScopes ?? base);
    const requested = [...new Set(scopes.filter((s) => s !== 'offline_access'))];
    const need = stepUp ? normaliseScopes(stepUp).join(' ') : undefined;
    const refusalKey = [sessionId, id, [...requested].sort().join(' '), createHash('sha256').update(idToken).digest('base64url')].join('\u0000');
    const refused = this.refusals.get(refusalKey);
    if (refused) throw refused;
    try {
      return await this.exchangeAndGrant(sessionId, id, server, signIn, resource, as, registered, requested, previous, need);
    } catch (error) {
      if (error instanceof EnterpriseFailure && !error.transient) this.refusals.set(refusalKey, error);
      throw error;
    }
  }

  private async exchangeAndGrant(
    sessionId: string,
    id: string,
    server: ServerConfig,
    signIn: SignIn,
    resource: Awaited<ReturnType<Discovery['protectedResource']>>,
    as: oauth.AuthorizationServer,
    registered: Awaited<ReturnType<ClientResolver['resolveForLogin']>>,
    requested: string[],
    previous: TokenRecord | undefined,
    need: string | undefined,
  ): Promise<AccessOutcome> {
    const { store, idp, discovery, resolver, policy, log } = this.deps;
    const { idToken } = signIn;
    const issuer = as.issuer;

    // 1. At the IdP: the ID token for an ID-JAG naming this server's AS (audience) and the server (resource).
    const grant = await idp.exchange(idToken, {
      audience: as.issuer,
      resource: resource.resource,
      scope: requested.length > 0 ? requested.join(' ') : undefined,
    });

    // 2. At the server's AS: the ID-JAG as a JWT bearer grant, with the BFF's client credentials there.
    const { client, auth } = clientAuth(registered);
    let tokens: oauth.TokenEndpointResponse;
    try {
      const parameters: Record<string, string> = {
        assertion: grant.assertion,
        ...(server.resourceIndicator ? { resource: resource.resource } : {}),
      };
      const response = await oauth.genericTokenEndpointRequest(as, client, auth, JWT_BEARER_GRANT, parameters, {
        ...tokenRequestOptions(as.token_endpoint as string, policy),
      });
      tokens = await oauth.processGenericTokenEndpointResponse(as, client, response);
    } catch (error) {
      const failure = failureOf('as', error, 'JWT bearer grant');
      if (failure.oauthError === 'invalid_client') await resolver.reject(as.issuer, registered.clientId).catch(() => undefined);
      throw failure;
    }
    if (tokens.token_type.toLowerCase() !== 'bearer') throw new EnterpriseFailure('as', undefined, false, 'token_type must be Bearer');
    const now = Date.now();
    const expiresIn = tokens.expires_in;
    const granted = typeof tokens.scope === 'string' ? tokens.scope : grant.scope;
    const record: TokenRecord = {
      accessToken: tokens.access_token,
      // Not kept: a refresh at the AS would go on without asking the IdP, for as long as the AS allows.
      // When the access token expires the ID token is exchanged again, so the IdP decides every time
      // (and a sign-in that has ended there ends the access here).
      refreshToken: undefined,
      scopes: granted !== undefined ? granted.split(' ').filter(Boolean) : requested,
      requestedScopes: requested,
      issuedAt: now,
      expiresAt: typeof expiresIn === 'number' && expiresIn > 0 ? now + expiresIn * 1000 : undefined,
      issuer: as.issuer,
      clientId: registered.clientId,
      resource: resource.resource,
      generation: 0,
      ...(need !== undefined ? { stepUp: { scope: need, attempts: previous?.stepUp?.scope === need ? previous.stepUp.attempts + 1 : 1 } } : {}),
      // Whose sign-in at the IdP these tokens came from (see dropOthers).
      ...(signIn.subject ? { subject: signIn.subject } : {}),
      // For the connection details view: what was found and done (never a token).
      login: {
        at: now,
        steps: [
          { step: 'resource_metadata', status: 'ok', at: now, detail: `Names the resource ${resource.resource} and the authorization server ${as.issuer}.` },
          { step: 'client', status: 'ok', at: now, detail: `The configured client (client ID ${registered.clientId}) at the configured authorization server ${issuer}; enterprise-managed servers never use a registered or metadata-document client.` },
          {
            step: 'token_exchange',
            status: 'ok',
            at: now,
            detail: `Enterprise-managed: the ID token of the sign-in at ${idp.config.issuer} was exchanged there for an identity assertion grant (ID-JAG), which ${as.issuer} accepted as a JWT bearer grant; no consent page. Scopes granted: ${granted ?? (requested.join(' ') || 'none')}.`,
            ...(as.token_endpoint ? { url: as.token_endpoint } : {}),
          },
        ],
        discovery: {
          resourceMetadataUrl: discovery.whereFound(resource) ?? null,
          resource: resource.resource,
          authorizationServers: resource.authorization_servers,
          authorizationServerMetadataUrl: discovery.whereFound(as) ?? null,
          issuer: as.issuer,
        },
        client: { source: registered.source, clientId: registered.clientId, since: null },
      },
    };
    await store.putConnection(sessionId, id, record);
    log.info({ event: 'enterprise_connected', server: id, scopes: record.scopes });
    const stored = await store.getConnection(sessionId, id);
    return stored ? { kind: 'ok', record: stored } : { kind: 'login_required' };
  }
}

/** Whether an error from connect() means "the authorization server or IdP is unavailable" (503), not a refusal. */
export function isUnavailable(error: unknown): boolean {
  if (error instanceof EnterpriseFailure) return error.transient;
  return error instanceof OAuthFailure && error.code === 'as_unavailable';
}
