import { LRUCache } from 'lru-cache';
import * as oauth from 'oauth4webapi';
import { z } from 'zod';
import type { ServerConfig } from '../config.js';
import { OAuthFailure } from './errors.js';
import { checkOutboundUrl, type OutboundPolicy } from './http.js';
import { redirectUriFor } from './redirect-uri.js';

export type TokenEndpointAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none';

/** The client the BFF is at one authorization server. */
export interface RegisteredClient {
  /** The AS this client belongs to: its credentials are never sent anywhere else. */
  issuer: string;
  clientId: string;
  clientSecret: string | undefined;
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  source: 'configuration' | 'metadata_document' | 'dynamic_registration';
  /** RFC 7591 `client_secret_expires_at`, epoch ms; absent when the secret does not expire. */
  secretExpiresAt?: number;
  /** When the BFF registered it, epoch ms (dynamic registrations). */
  registeredAt?: number;
  /** RFC 7592: where the registration can be read back, and the token to read it with, when the AS offers it. */
  registrationClientUri?: string;
  registrationAccessToken?: string;
  /**
   * When the AS refused it at the token endpoint (`invalid_client`), epoch ms: it is kept only to bound
   * how soon the BFF registers again, and used for nothing.
   */
  rejectedAt?: number;
  /**
   * The client this one replaced while that one still worked (its secret about to expire, or the AS no
   * longer confirming it): tokens issued to it, and logins started with it, go on using it until its
   * secret expires or the AS refuses it.
   */
  previous?: RegisteredClient;
  /**
   * Dynamic registrations: the redirect URIs registered, those of the servers that use this AS and no
   * others (RFC 9700 §4.4.2). Absent on clients registered before redirect URIs had a server id.
   */
  redirectUris?: string[];
  /**
   * Dynamic registrations: the post-logout redirect URIs registered (OpenID Connect RP-Initiated
   * Logout 1.0 §3.1). Absent on clients registered before the BFF offered sign-out at the AS: the AS
   * then shows its own page at the end of a sign-out instead of sending the browser back.
   */
  postLogoutRedirectUris?: string[];
}

/**
 * Clients obtained by dynamic registration, kept per AS issuer and reused; and, for configured
 * credentials without a configured issuer, the issuer they were first used with (trust on first use).
 */
export interface ClientRegistry {
  get(issuer: string): Promise<RegisteredClient | undefined>;
  put(client: RegisteredClient): Promise<void>;
  /**
   * A lock per issuer shared by everything that uses this registry (every BFF instance on a shared
   * store), so that one of them registers or drops a client at a time: a release function, or
   * undefined when someone else holds it. It lapses after `ttlMs`.
   */
  lock(issuer: string, ttlMs: number): Promise<(() => Promise<void>) | undefined>;
  /** The issuer configured credentials were first used with, and since when (absent on pins made before it was kept). */
  pinnedIssuer(server: string): Promise<IssuerPin | undefined>;
  pinIssuer(server: string, issuer: string): Promise<void>;
}

export interface IssuerPin {
  issuer: string;
  /** Epoch ms. */
  since?: number;
}

export class MemoryClientRegistry implements ClientRegistry {
  private readonly clients = new Map<string, RegisteredClient>();
  private readonly pins = new Map<string, IssuerPin>();
  private readonly locks = new Map<string, number>();
  async get(issuer: string): Promise<RegisteredClient | undefined> {
    return this.clients.get(issuer);
  }
  async put(client: RegisteredClient): Promise<void> {
    this.clients.set(client.issuer, { ...client });
  }
  async lock(issuer: string, ttlMs: number): Promise<(() => Promise<void>) | undefined> {
    if ((this.locks.get(issuer) ?? 0) > Date.now()) return undefined;
    const until = Date.now() + ttlMs;
    this.locks.set(issuer, until);
    return async () => {
      if (this.locks.get(issuer) === until) this.locks.delete(issuer);
    };
  }
  async pinnedIssuer(server: string): Promise<IssuerPin | undefined> {
    return this.pins.get(server);
  }
  async pinIssuer(server: string, issuer: string): Promise<void> {
    this.pins.set(server, { issuer, since: Date.now() });
  }
}

/** RFC 7591 §3.2.1: what we need from a registration response; the rest may be anything. */
const registrationResponseSchema = z.looseObject({
  client_id: z.string().min(1),
  client_secret: z.string().min(1).optional(),
  token_endpoint_auth_method: z.string().optional(),
  /** Seconds since the epoch; 0 means never. */
  client_secret_expires_at: z.number().nonnegative().optional(),
  /** RFC 7592 §3. */
  registration_client_uri: z.string().min(1).optional(),
  registration_access_token: z.string().min(1).optional(),
});

export const CLIENT_METADATA_PATH = '/bff/oauth-client.json';

export interface ClientMetadataOptions {
  publicUrl: string;
  /** Every configured server's redirect URI (redirect-uri.ts): one client ID metadata document serves them all. */
  redirectUris: string[];
  clientName: string;
  /** Where authorization servers send the browser back after a sign-out there (redirect-uri.ts). */
  postLogoutRedirectUris?: string[];
  /** A client ID metadata document hosted elsewhere (https), used as client_id instead of the BFF's own. */
  externalUrl?: string | undefined;
  /** Where authorization servers send logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.2). */
  backchannelLogoutUri?: string;
}

/**
 * Back-Channel Logout 1.0 §2.2: the BFF's logout endpoint. A logout token without sid is accepted (it
 * ends every session of that person at that AS), so sid is not required.
 */
function backchannelLogoutMetadata(o: ClientMetadataOptions): Record<string, unknown> {
  return o.backchannelLogoutUri ? { backchannel_logout_uri: o.backchannelLogoutUri, backchannel_logout_session_required: false } : {};
}

/** The client_id the BFF uses at ASes that support client ID metadata documents. */
export function metadataDocumentClientId(o: ClientMetadataOptions): string {
  return o.externalUrl ?? `${o.publicUrl}${CLIENT_METADATA_PATH}`;
}

/** The client ID metadata document this BFF serves; its URL is its client_id at ASes that support them. */
export function clientMetadataDocument(o: ClientMetadataOptions): Record<string, unknown> {
  return {
    client_id: metadataDocumentClientId(o),
    client_name: o.clientName,
    client_uri: o.publicUrl,
    redirect_uris: o.redirectUris,
    ...(o.postLogoutRedirectUris?.length ? { post_logout_redirect_uris: o.postLogoutRedirectUris } : {}),
    ...backchannelLogoutMetadata(o),
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    application_type: 'web',
  };
}

/**
 * Picks the client to use at an authorization server, in the MCP spec's order: pre-registered
 * credentials, a client ID metadata document, dynamic client registration.
 */
export class ClientResolver {
  /** Registrations in flight, one per issuer: an entry lives only until its request ends. */
  private readonly registering = new Map<string, Promise<RegisteredClient>>();
  /** RFC 7592 reads in flight, one per client: logins that start together share it. */
  private readonly confirming = new Map<string, Promise<Confirmation>>();
  /**
   * Issuers whose registration just failed, with why: every login until the entry lapses gets the same
   * failure without asking the AS again, so a failing (or refusing) /register is not sent one request
   * per /bff/login. Bounded: issuers come from whatever the servers' metadata names.
   */
  private readonly failedRegistrations: LRUCache<string, OAuthFailure>;

  constructor(
    private readonly registry: ClientRegistry,
    private readonly metadata: ClientMetadataOptions,
    private readonly policy: OutboundPolicy,
    /** Client ID metadata documents need an https client_id; loopback http only in the explicit dev mode. */
    private readonly metadataDocumentUsable: boolean,
    options: { registrationFailureTtlMs?: number } = {},
  ) {
    this.failedRegistrations = new LRUCache({ max: 100, ttl: options.registrationFailureTtlMs ?? REGISTRATION_FAILURE_TTL_MS });
  }

  async resolve(server: ServerConfig, as: oauth.AuthorizationServer): Promise<RegisteredClient> {
    // Configured credentials belong to one AS: the configured issuer, or else the first one they were
    // used with. A server whose metadata names another AS never gets them; the BFF registers there.
    if (server.clientId && (await this.configuredClientFits(server, as.issuer))) return this.configuredClient(server, as);
    const metadataDocument = this.metadataDocumentClient(as);
    if (metadataDocument) return metadataDocument;
    // Registered with the redirect URIs of the servers that use this AS only: a server new to it
    // registers again with its own added (replace), so that this AS never sends a code to the redirect
    // URI of a server that uses another one.
    const redirectUri = this.redirectUriOf(server);
    const known = await this.registry.get(as.issuer);
    if (known && usable(known, Date.now()) && lists(known, redirectUri)) return known;
    if (!as.registration_endpoint) {
      // An AS that no longer registers clients: the one kept serves until its secret expires.
      if (known && alive(known, Date.now()) && lists(known, redirectUri)) return known;
      if (server.clientId) throw new OAuthFailure('registration_failed', await this.credentialsBoundElsewhere(server, as.issuer));
      throw new OAuthFailure(
        'registration_failed',
        `no client for ${as.issuer}: configure client credentials for this server (it supports neither client ID metadata documents nor dynamic registration)`,
      );
    }
    const failed = this.failedRegistrations.get(as.issuer);
    if (failed) throw new OAuthFailure(failed.code, failed.message, { cause: failed });
    let stale = known?.clientId;
    // One registration per issuer at a time, so that concurrent logins share it; a login that joined
    // another server's, which lacks its redirect URI, goes round again.
    for (let round = 0; round < 3; round++) {
      let running = this.registering.get(as.issuer);
      if (!running) {
        running = this.replace(as, stale, redirectUri, server.initialAccessToken)
          .catch((error: unknown) => {
            // Only the AS's answer (or its absence) is remembered; a store that failed to keep the
            // client is not the AS's fault, and the next login may register again.
            if (error instanceof OAuthFailure) this.failedRegistrations.set(as.issuer, error);
            throw error;
          })
          .finally(() => this.registering.delete(as.issuer));
        this.registering.set(as.issuer, running);
      }
      const client = await running;
      if (lists(client, redirectUri)) return client;
      stale = client.clientId;
    }
    throw new OAuthFailure('registration_failed', `no client registered at ${as.issuer} lists ${redirectUri}`);
  }

  private redirectUriOf(server: ServerConfig): string {
    return redirectUriFor(this.metadata.publicUrl, server.id);
  }

  private async configuredClientFits(server: ServerConfig, issuer: string): Promise<boolean> {
    if (server.issuer !== undefined) return server.issuer === issuer;
    const pinned = await this.registry.pinnedIssuer(server.id);
    if (pinned !== undefined) return pinned.issuer === issuer;
    await this.registry.pinIssuer(server.id, issuer);
    return true;
  }

  /**
   * Why configured credentials were not used at `issuer`, which offers no other way to get a client: they
   * belong to another authorization server (configured, or the first one they were used with), and the
   * server now names this one. Said as such, with what to do: "configure client credentials" would be
   * wrong advice to an operator who has.
   */
  private async credentialsBoundElsewhere(server: ServerConfig, issuer: string): Promise<string> {
    const noOther = `${issuer} supports neither client ID metadata documents nor dynamic registration`;
    if (server.issuer !== undefined) {
      return `the client credentials configured for this server belong to ${server.issuer} (its configured OAUTH_ISSUER), but the server now names ${issuer} as its authorization server, and ${noOther}: if the server has moved there, set OAUTH_ISSUER ("issuer" in MCP_SERVERS) to ${issuer} with credentials registered at it`;
    }
    const pin = await this.registry.pinnedIssuer(server.id);
    const since = pin?.since !== undefined ? ` since ${new Date(pin.since).toISOString()}` : ' (since before the date was recorded)';
    return `the client credentials configured for this server are bound to ${pin?.issuer ?? 'another authorization server'}${since}, the first authorization server they were used with, but the server now names ${issuer}, and ${noOther}: if that move is intended, set OAUTH_ISSUER ("issuer" in MCP_SERVERS) to ${issuer} (with credentials registered there)`;
  }

  /**
   * Since when the BFF has had `client` at its AS, for a person reading the connection details: when it
   * registered it, or when configured credentials were first used there (null when configured with
   * OAUTH_ISSUER, or unknown).
   */
  async since(server: ServerConfig, client: RegisteredClient): Promise<number | null> {
    if (client.source === 'dynamic_registration') return client.registeredAt ?? null;
    if (client.source !== 'configuration' || server.issuer !== undefined) return null;
    const pin = await this.registry.pinnedIssuer(server.id);
    return pin?.issuer === client.issuer ? (pin.since ?? null) : null;
  }

  /**
   * Finds the client a token record was issued to (or a login was started as), to refresh, revoke or
   * exchange a code with it: the one in use, or the one it replaced while that still works. Never
   * registers: a new client could not use what was issued to another.
   */
  async forRecord(server: ServerConfig, as: oauth.AuthorizationServer, clientId: string): Promise<RegisteredClient | undefined> {
    if (server.clientId === clientId && (await this.configuredClientFits(server, as.issuer))) return this.configuredClient(server, as);
    const metadataDocument = this.metadataDocumentClient(as);
    if (metadataDocument?.clientId === clientId) return metadataDocument;
    const known = await this.registry.get(as.issuer);
    const now = Date.now();
    return [known, known?.previous].find((c) => c?.clientId === clientId && alive(c, now));
  }

  /**
   * The client to send a person to the AS with. A registered one is first confirmed with the AS (RFC 7592
   * §2.1, read back with its registration access token, when the AS handed one out): an AS that has
   * forgotten it answers 401, and a new one is registered, since an AS that does not know a client
   * shows the person its own error page at the authorization endpoint (oidc-provider does) instead of
   * redirecting back, and nothing would ever tell the BFF. One request per login start (logins are
   * rate limited), shared by logins that start together.
   */
  async resolveForLogin(server: ServerConfig, as: oauth.AuthorizationServer): Promise<RegisteredClient> {
    const client = await this.resolve(server, as);
    if (client.source !== 'dynamic_registration') return client;
    const verdict = await this.confirm(client);
    if (verdict === 'unknown') return this.replaceOnce(as, client.clientId, this.redirectUriOf(server), server.initialAccessToken);
    return typeof verdict === 'object' ? verdict : client;
  }

  /**
   * Whether an AS sends the browser back to `uri` after a sign-out by `client`: for a dynamic
   * registration, when it was registered with it; a client ID metadata document lists it; configured
   * credentials are the operator's to register with it (README).
   */
  registeredForLogoutReturn(client: RegisteredClient, uri: string): boolean {
    if (client.source === 'dynamic_registration') return client.postLogoutRedirectUris?.includes(uri) ?? false;
    if (client.source === 'metadata_document') return this.metadata.postLogoutRedirectUris?.includes(uri) ?? false;
    return true;
  }

  /**
   * The token endpoint answered `invalid_client` for `clientId`: the AS no longer takes it (purged, or
   * its secret expired early). It is marked rejected, once, whoever else saw the same answer; the next
   * login registers a new client (at most one a minute, see replace). Configured clients and metadata
   * documents are not the BFF's to replace.
   */
  async reject(issuer: string, clientId: string): Promise<void> {
    const release = await this.registry.lock(issuer, this.lockTtlMs());
    // Someone else is replacing or rejecting a client of this issuer right now: theirs is the last word.
    if (!release) return;
    try {
      const current = await this.registry.get(issuer);
      if (!current) return;
      if (current.clientId === clientId && current.rejectedAt === undefined) {
        await this.registry.put({ ...current, rejectedAt: Date.now() });
      } else if (current.previous?.clientId === clientId) {
        const { previous: _gone, ...rest } = current;
        await this.registry.put(rest);
      }
    } finally {
      await release();
    }
  }

  /**
   * The authorization endpoint redirected back with `invalid_client`. That answer travels through the
   * browser, so anyone with a login in progress can forge it: the registration is replaced only when
   * the AS, asked directly (RFC 7592), does not know the client either, or offers no way to ask.
   */
  async authorizationRefused(as: oauth.AuthorizationServer, clientId: string, initialAccessToken?: string): Promise<void> {
    const known = await this.registry.get(as.issuer);
    if (known?.clientId !== clientId || known.source !== 'dynamic_registration') return;
    const verdict = await this.confirm(known);
    if (verdict !== 'unknown' && (verdict !== 'unsure' || known.registrationClientUri)) return;
    await this.replaceOnce(as, clientId, undefined, initialAccessToken).catch(() => undefined);
  }

  /** One replacement per issuer at a time in this process, so that concurrent logins share it. */
  private replaceOnce(as: oauth.AuthorizationServer, stale: string, redirectUri?: string, initialAccessToken?: string): Promise<RegisteredClient> {
    let running = this.registering.get(as.issuer);
    if (!running) {
      running = this.replace(as, stale, redirectUri, initialAccessToken).finally(() => this.registering.delete(as.issuer));
      this.registering.set(as.issuer, running);
    }
    return running;
  }

  /**
   * Registers a client in place of `stale` (none kept, or one whose secret expires, or one the AS turned
   * away: rejected at the token endpoint, unknown to its registration endpoint), under the registry's
   * lock so that instances sharing the store register once between them; a waiter takes what the holder
   * stored. A client the AS turned away less than REREGISTER_INTERVAL_MS after it was registered is not
   * replaced before then (used while it works, else registration_failed): an AS that forgets or refuses
   * every new client costs one registration a minute, not one per login. The new client is registered
   * with the replaced one's redirect URIs (of servers still configured) and `redirectUri`; one that
   * works but lacks `redirectUri` (a server new to this AS) is replaced at once: that happens once per
   * server.
   */
  private async replace(
    as: oauth.AuthorizationServer,
    stale: string | undefined,
    redirectUri?: string,
    initialAccessToken?: string,
  ): Promise<RegisteredClient> {
    const deadline = Date.now() + this.lockTtlMs();
    for (let pause = 20; ; pause = Math.min(pause * 2, 250)) {
      const release = await this.registry.lock(as.issuer, this.lockTtlMs());
      if (release) {
        try {
          const now = Date.now();
          const current = await this.registry.get(as.issuer);
          if (current && current.clientId !== stale && usable(current, now) && lists(current, redirectUri)) return current;
          const widening = current !== undefined && usable(current, now) && !lists(current, redirectUri);
          const turnedAway = !widening && current !== undefined && (current.rejectedAt !== undefined || usable(current, now));
          if (turnedAway && current.registeredAt !== undefined && now - current.registeredAt < REREGISTER_INTERVAL_MS) {
            if (alive(current, now)) return current;
            throw new OAuthFailure(
              'registration_failed',
              `${as.issuer} refused a client registered less than a minute ago; not registering another until ${new Date(current.registeredAt + REREGISTER_INTERVAL_MS).toISOString()}`,
            );
          }
          const redirectUris = [
            ...(current?.redirectUris ?? []).filter((uri) => uri !== redirectUri && this.metadata.redirectUris.includes(uri)),
            ...(redirectUri ? [redirectUri] : []),
          ];
          const client = await this.register(as, redirectUris, initialAccessToken);
          // The client replaced goes on serving what was issued to it, while it still can.
          const previous = [current, current?.previous].find((c) => c !== undefined && alive(c, now));
          await this.registry.put(previous ? { ...client, previous: withoutPrevious(previous) } : client);
          return client;
        } finally {
          await release();
        }
      }
      await sleep(pause);
      const current = await this.registry.get(as.issuer);
      if (current && current.clientId !== stale && usable(current, Date.now()) && lists(current, redirectUri)) return current;
      if (Date.now() > deadline) throw new OAuthFailure('as_unavailable', `another registration at ${as.issuer} did not finish in time`);
    }
  }

  /**
   * RFC 7592 §2.1 read of a registered client: 'unknown' when the AS answers 401 (it does not know the
   * client, or its registration access token), the client as the AS now describes it when that
   * changed (a new secret or registration access token, which the BFF must switch to: it is stored),
   * else 'registered'; 'unsure' when the AS offers no such endpoint or cannot be asked right now.
   */
  private confirm(client: RegisteredClient): Promise<Confirmation> {
    let running = this.confirming.get(client.clientId);
    if (!running) {
      running = this.readRegistration(client).finally(() => this.confirming.delete(client.clientId));
      this.confirming.set(client.clientId, running);
    }
    return running;
  }

  private async readRegistration(client: RegisteredClient): Promise<Confirmation> {
    if (!client.registrationClientUri || !client.registrationAccessToken) return 'unsure';
    let response: Response;
    try {
      const url = checkOutboundUrl(client.registrationClientUri, this.policy, 'registration_client_uri');
      response = await this.policy.fetch(url, {
        headers: { authorization: `Bearer ${client.registrationAccessToken}`, accept: 'application/json' },
        redirect: 'manual',
        signal: AbortSignal.timeout(this.policy.timeoutMs),
      });
    } catch {
      return 'unsure';
    }
    const text = await response.text().catch(() => '');
    if (response.status === 401) return 'unknown';
    if (response.status !== 200) return 'unsure';
    let parsed: z.infer<typeof registrationResponseSchema>;
    try {
      parsed = registrationResponseSchema.parse(JSON.parse(text));
    } catch {
      return 'registered';
    }
    if (parsed.client_id !== client.clientId) return 'registered';
    // RFC 7592 §2.1: a new client secret or registration access token in the answer replaces the old one.
    const { secretExpiresAt: _before, ...unchanged } = client;
    const updated: RegisteredClient = {
      ...unchanged,
      ...(parsed.client_secret && client.tokenEndpointAuthMethod !== 'none' ? { clientSecret: parsed.client_secret } : {}),
      ...(parsed.registration_access_token ? { registrationAccessToken: parsed.registration_access_token } : {}),
      ...secretExpiry(parsed, client.tokenEndpointAuthMethod),
    };
    if (
      updated.clientSecret === client.clientSecret &&
      updated.registrationAccessToken === client.registrationAccessToken &&
      updated.secretExpiresAt === client.secretExpiresAt
    ) {
      return 'registered';
    }
    const release = await this.registry.lock(client.issuer, this.lockTtlMs());
    if (release) {
      try {
        const current = await this.registry.get(client.issuer);
        if (current?.clientId === client.clientId) await this.registry.put({ ...current, ...updated, previous: current.previous });
      } finally {
        await release();
      }
    }
    return updated;
  }

  private configuredClient(server: ServerConfig, as: oauth.AuthorizationServer): RegisteredClient {
    return {
      issuer: as.issuer,
      clientId: server.clientId as string,
      clientSecret: server.clientSecret,
      tokenEndpointAuthMethod: server.clientSecret ? preferredSecretMethod(as) : 'none',
      source: 'configuration',
    };
  }

  private metadataDocumentClient(as: oauth.AuthorizationServer): RegisteredClient | undefined {
    if (as.client_id_metadata_document_supported !== true || !(this.metadataDocumentUsable || this.metadata.externalUrl)) return undefined;
    return {
      issuer: as.issuer,
      clientId: metadataDocumentClientId(this.metadata),
      clientSecret: undefined,
      tokenEndpointAuthMethod: 'none',
      source: 'metadata_document',
    };
  }

  /** A registration, a confirmation or a rejection is one request to the AS, plus a margin. */
  private lockTtlMs(): number {
    return this.policy.timeoutMs + 2_000;
  }

  /**
   * RFC 7591 dynamic client registration as a confidential web client, with the server's initial access
   * token (§3.1) as a bearer token when one is configured. The body never carries `resource` (Keycloak
   * refuses a registration that does).
   */
  private async register(as: oauth.AuthorizationServer, redirectUris: string[], initialAccessToken?: string): Promise<RegisteredClient> {
    if (redirectUris.length === 0) throw new OAuthFailure('registration_failed', `no redirect URI to register at ${as.issuer}`);
    const endpoint = checkOutboundUrl(as.registration_endpoint as string, this.policy, 'registration_endpoint');
    const method = registrationAuthMethod(as);
    const postLogoutRedirectUris = this.metadata.postLogoutRedirectUris ?? [];
    // The OpenID Connect logout members (RP-initiated and back-channel logout). RFC 7591 §2 says an AS
    // ignores members it does not know; some refuse the whole registration instead (Better Auth answers
    // 400 invalid_client_metadata), so a refusal is retried once without them: logging in matters more
    // than signing out there.
    const logoutMembers = {
      ...(postLogoutRedirectUris.length > 0 ? { post_logout_redirect_uris: postLogoutRedirectUris } : {}),
      ...backchannelLogoutMetadata(this.metadata),
    };
    const attempt = async (withLogout: boolean): Promise<{ response: Response; text: string }> => {
      let response: Response;
      try {
        response = await this.policy.fetch(endpoint, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/json',
            ...(initialAccessToken ? { authorization: `Bearer ${initialAccessToken}` } : {}),
          },
          body: JSON.stringify({
            client_name: this.metadata.clientName,
            client_uri: this.metadata.publicUrl,
            redirect_uris: redirectUris,
            ...(withLogout ? logoutMembers : {}),
            grant_types: ['authorization_code', 'refresh_token'],
            response_types: ['code'],
            token_endpoint_auth_method: method,
            application_type: 'web',
          }),
          redirect: 'manual',
          signal: AbortSignal.timeout(this.policy.timeoutMs),
        });
      } catch (error) {
        throw new OAuthFailure('as_unavailable', 'the registration endpoint could not be reached', { cause: error });
      }
      if (response.status >= 500 || response.status === 429) {
        await response.body?.cancel();
        throw new OAuthFailure('as_unavailable', `the registration endpoint answered ${response.status}`);
      }
      return { response, text: await response.text() };
    };
    let { response, text } = await attempt(true);
    if (response.status === 400 && Object.keys(logoutMembers).length > 0 && errorCodeOf(text) === 'invalid_client_metadata') {
      ({ response, text } = await attempt(false));
    }
    if (response.status !== 201 && response.status !== 200) {
      const error = errorCodeOf(text);
      throw new OAuthFailure(
        'registration_failed',
        `dynamic client registration was refused (${response.status}${error ? `, ${error}` : ''})${registrationHint(response.status, error, initialAccessToken)}`,
      );
    }
    let parsed: z.infer<typeof registrationResponseSchema>;
    try {
      parsed = registrationResponseSchema.parse(JSON.parse(text));
    } catch (error) {
      throw new OAuthFailure('registration_failed', 'the registration response is not a valid client', { cause: error });
    }
    const granted = (parsed.token_endpoint_auth_method ?? method) as string;
    if (granted !== 'client_secret_basic' && granted !== 'client_secret_post' && granted !== 'none') {
      throw new OAuthFailure('registration_failed', `unsupported token_endpoint_auth_method "${granted}"`);
    }
    if (granted !== 'none' && !parsed.client_secret) {
      throw new OAuthFailure('registration_failed', 'the registration response lacks a client_secret');
    }
    const now = Date.now();
    const expiry = secretExpiry(parsed, granted);
    // An AS that hands out a secret already expired (or about to) would have the BFF register at every login.
    if (expiry.secretExpiresAt !== undefined && expiry.secretExpiresAt - now < MIN_SECRET_LIFETIME_MS) {
      throw new OAuthFailure('registration_failed', 'the registration response has a client secret that expires at once');
    }
    const management =
      parsed.registration_client_uri && parsed.registration_access_token
        ? { registrationClientUri: parsed.registration_client_uri, registrationAccessToken: parsed.registration_access_token }
        : {};
    return {
      issuer: as.issuer,
      clientId: parsed.client_id,
      clientSecret: granted === 'none' ? undefined : parsed.client_secret,
      tokenEndpointAuthMethod: granted,
      source: 'dynamic_registration',
      registeredAt: now,
      redirectUris,
      ...(postLogoutRedirectUris.length > 0 ? { postLogoutRedirectUris } : {}),
      ...expiry,
      ...management,
    };
  }
}

/** The `error` of an RFC 7591 §3.2.2 error body, if any: the code only, never a description. */
function errorCodeOf(text: string): string | undefined {
  try {
    const error = (JSON.parse(text) as { error?: unknown }).error;
    return typeof error === 'string' && /^[\x20-\x21\x23-\x5B\x5D-\x7E]{1,64}$/.test(error) ? error : undefined;
  } catch {
    return undefined;
  }
}

/** Error codes that say nothing against the client metadata: the request lacked a credential. */
const CREDENTIAL_ERRORS = new Set(['invalid_token', 'invalid_request', 'unauthorized', 'unauthorized_client', 'access_denied']);

/**
 * What an operator can do about a refused registration. RFC 7591 §3.1: an AS may want an initial
 * access token (Okta, Keycloak): it answers 401 (a bad one) or 400 (none: oidc-provider) or 403. A
 * refusal of the metadata itself (invalid_redirect_uri, invalid_client_metadata) is not about that.
 */
function registrationHint(status: number, error: string | undefined, initialAccessToken: string | undefined): string {
  if (status !== 400 && status !== 401 && status !== 403) return '';
  if (error !== undefined && !CREDENTIAL_ERRORS.has(error)) return '';
  if (initialAccessToken) return status === 400 ? '' : ': the initial access token was not accepted (expired, revoked or used up?)';
  return ': if this authorization server requires an initial access token, set one (initialAccessTokenEnv in MCP_SERVERS, OAUTH_INITIAL_ACCESS_TOKEN)';
}

/** How long a failed registration is answered from memory before the AS is asked again. */
export const REGISTRATION_FAILURE_TTL_MS = 30_000;

/**
 * What the AS's registration endpoint says of a client (RFC 7592 read): it knows it (maybe with a new
 * secret or registration access token: the updated client), it does not, or it could not be asked.
 */
type Confirmation = 'registered' | 'unknown' | 'unsure' | RegisteredClient;

/** The least time between registering a client and replacing it because the AS turned it away. */
export const REREGISTER_INTERVAL_MS = 60_000;
/** A registration whose secret expires sooner than this is refused: it would be replaced at every login. */
const MIN_SECRET_LIFETIME_MS = 5_000;

/**
 * A client that may be used for a new login: not rejected, and its secret (if it expires) has more than
 * min(5 minutes, half its lifetime) left, so that a login started now finishes before it expires.
 */
export function usable(client: RegisteredClient, now: number): boolean {
  if (!alive(client, now)) return false;
  if (client.secretExpiresAt === undefined) return true;
  // Registered before registeredAt was kept: the margin is the full 5 minutes.
  const lifetime = client.registeredAt === undefined ? Number.POSITIVE_INFINITY : client.secretExpiresAt - client.registeredAt;
  return client.secretExpiresAt - now > Math.min(5 * 60 * 1000, lifetime / 2);
}

/** A client that still authenticates: not rejected, its secret not expired. */
function alive(client: RegisteredClient, now: number): boolean {
  return client.rejectedAt === undefined && (client.secretExpiresAt === undefined || client.secretExpiresAt > now);
}

/** Whether `client` was registered with `redirectUri` (nothing asked: yes). */
function lists(client: RegisteredClient, redirectUri: string | undefined): boolean {
  return redirectUri === undefined || (client.redirectUris?.includes(redirectUri) ?? false);
}

function withoutPrevious(client: RegisteredClient): RegisteredClient {
  const { previous: _older, ...rest } = client;
  return rest;
}

/** RFC 7591 §3.2.1 client_secret_expires_at (seconds, 0 = never), for clients that have a secret. */
function secretExpiry(parsed: { client_secret_expires_at?: number | undefined }, method: string): { secretExpiresAt?: number } {
  const at = parsed.client_secret_expires_at;
  return method !== 'none' && typeof at === 'number' && at > 0 ? { secretExpiresAt: at * 1000 } : {};
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** RFC 8414: absent means client_secret_basic. */
function supportedMethods(as: oauth.AuthorizationServer): string[] {
  return as.token_endpoint_auth_methods_supported ?? ['client_secret_basic'];
}

function preferredSecretMethod(as: oauth.AuthorizationServer): TokenEndpointAuthMethod {
  const supported = supportedMethods(as);
  if (supported.includes('client_secret_basic')) return 'client_secret_basic';
  if (supported.includes('client_secret_post')) return 'client_secret_post';
  return 'client_secret_basic';
}

function registrationAuthMethod(as: oauth.AuthorizationServer): TokenEndpointAuthMethod {
  const supported = supportedMethods(as);
  for (const m of ['client_secret_basic', 'client_secret_post', 'none'] as const) if (supported.includes(m)) return m;
  return 'client_secret_basic';
}

/** oauth4webapi's view of a client: its metadata and how it authenticates at the token endpoint. */
export function clientAuth(client: RegisteredClient): { client: oauth.Client; auth: oauth.ClientAuth } {
  const c: oauth.Client = { client_id: client.clientId, token_endpoint_auth_method: client.tokenEndpointAuthMethod };
  switch (client.tokenEndpointAuthMethod) {
    case 'client_secret_basic':
      return { client: c, auth: clientSecretBasic(client.clientId, client.clientSecret as string) };
    case 'client_secret_post':
      return { client: c, auth: oauth.ClientSecretPost(client.clientSecret as string) };
    case 'none':
      return { client: c, auth: oauth.None() };
  }
}

/**
 * RFC 6749 §2.3.1: client_id and client_secret are form-urlencoded, then joined and base64-encoded.
 * The WHATWG form encoding leaves `A-Za-z0-9*-._` alone; oauth4webapi's ClientSecretBasic also escapes
 * `-._~`, which an AS that compares the raw credentials (without decoding) does not recognise. An AS
 * that decodes gets the same values either way.
 */
function clientSecretBasic(clientId: string, clientSecret: string): oauth.ClientAuth {
  const form = (value: string) => new URLSearchParams({ v: value }).toString().slice(2);
  const credentials = Buffer.from(`${form(clientId)}:${form(clientSecret)}`).toString('base64');
  return (_as, _client, _body, headers) => {
    headers.set('authorization', `Basic ${credentials}`);
  };
}
