import { LRUCache } from 'lru-cache';
import * as oauth from 'oauth4webapi';
import { z } from 'zod';
import type { ServerConfig } from '../config.js';
import { OAuthFailure } from './errors.js';
import { checkOutboundUrl, type OutboundPolicy } from './http.js';

export type TokenEndpointAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none';

/** The client the BFF is at one authorization server. */
export interface RegisteredClient {
  /** The AS this client belongs to: its credentials are never sent anywhere else. */
  issuer: string;
  clientId: string;
  clientSecret: string | undefined;
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  source: 'configuration' | 'metadata_document' | 'dynamic_registration';
}

/**
 * Clients obtained by dynamic registration, kept per AS issuer and reused; and, for configured
 * credentials without a configured issuer, the issuer they were first used with (trust on first use).
 */
export interface ClientRegistry {
  get(issuer: string): Promise<RegisteredClient | undefined>;
  put(client: RegisteredClient): Promise<void>;
  pinnedIssuer(server: string): Promise<string | undefined>;
  pinIssuer(server: string, issuer: string): Promise<void>;
}

export class MemoryClientRegistry implements ClientRegistry {
  private readonly clients = new Map<string, RegisteredClient>();
  private readonly pins = new Map<string, string>();
  async get(issuer: string): Promise<RegisteredClient | undefined> {
    return this.clients.get(issuer);
  }
  async put(client: RegisteredClient): Promise<void> {
    this.clients.set(client.issuer, { ...client });
  }
  async pinnedIssuer(server: string): Promise<string | undefined> {
    return this.pins.get(server);
  }
  async pinIssuer(server: string, issuer: string): Promise<void> {
    this.pins.set(server, issuer);
  }
}

/** RFC 7591 §3.2.1: what we need from a registration response; the rest may be anything. */
const registrationResponseSchema = z.looseObject({
  client_id: z.string().min(1),
  client_secret: z.string().min(1).optional(),
  token_endpoint_auth_method: z.string().optional(),
  client_secret_expires_at: z.number().optional(),
});

export const CLIENT_METADATA_PATH = '/bff/oauth-client.json';

export interface ClientMetadataOptions {
  publicUrl: string;
  /** Every configured server's redirect URI (redirect-uri.ts): one client ID metadata document serves them all. */
  redirectUris: string[];
  clientName: string;
  /** A client ID metadata document hosted elsewhere (https), used as client_id instead of the BFF's own. */
  externalUrl?: string | undefined;
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
    if (server.clientId && (await this.configuredClientFits(server, as.issuer))) {
      return {
        issuer: as.issuer,
        clientId: server.clientId,
        clientSecret: server.clientSecret,
        tokenEndpointAuthMethod: server.clientSecret ? preferredSecretMethod(as) : 'none',
        source: 'configuration',
      };
    }
    if (as.client_id_metadata_document_supported === true && (this.metadataDocumentUsable || this.metadata.externalUrl)) {
      return {
        issuer: as.issuer,
        clientId: metadataDocumentClientId(this.metadata),
        clientSecret: undefined,
        tokenEndpointAuthMethod: 'none',
        source: 'metadata_document',
      };
    }
    const known = await this.registry.get(as.issuer);
    if (known) return known;
    if (!as.registration_endpoint) {
      throw new OAuthFailure(
        'registration_failed',
        `no client for ${as.issuer}: configure client credentials for this server (it supports neither client ID metadata documents nor dynamic registration)`,
      );
    }
    const failed = this.failedRegistrations.get(as.issuer);
    if (failed) throw new OAuthFailure(failed.code, failed.message, { cause: failed });
    // One registration per issuer at a time, so that concurrent logins share it.
    let running = this.registering.get(as.issuer);
    if (!running) {
      running = this.register(as)
        .catch((error: unknown) => {
          // Only the AS's answer (or its absence) is remembered; a store that failed to keep the
          // client is not the AS's fault, and the next login may register again.
          if (error instanceof OAuthFailure) this.failedRegistrations.set(as.issuer, error);
          throw error;
        })
        .finally(() => this.registering.delete(as.issuer));
      this.registering.set(as.issuer, running);
    }
    return running;
  }

  private async configuredClientFits(server: ServerConfig, issuer: string): Promise<boolean> {
    if (server.issuer !== undefined) return server.issuer === issuer;
    const pinned = await this.registry.pinnedIssuer(server.id);
    if (pinned !== undefined) return pinned === issuer;
    await this.registry.pinIssuer(server.id, issuer);
    return true;
  }

  /** Finds the client a token record was issued to, to refresh or revoke with it. */
  async forRecord(server: ServerConfig, as: oauth.AuthorizationServer, clientId: string): Promise<RegisteredClient | undefined> {
    const client = await this.resolve(server, as).catch(() => undefined);
    return client?.clientId === clientId ? client : undefined;
  }

  /** RFC 7591 dynamic client registration as a confidential web client. */
  private async register(as: oauth.AuthorizationServer): Promise<RegisteredClient> {
    const endpoint = checkOutboundUrl(as.registration_endpoint as string, this.policy, 'registration_endpoint');
    const method = registrationAuthMethod(as);
    let response: Response;
    try {
      response = await this.policy.fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({
          client_name: this.metadata.clientName,
          client_uri: this.metadata.publicUrl,
          redirect_uris: this.metadata.redirectUris,
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
    const text = await response.text();
    if (response.status !== 201 && response.status !== 200) {
      throw new OAuthFailure('registration_failed', `dynamic client registration was refused (${response.status})`);
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
    const client: RegisteredClient = {
      issuer: as.issuer,
      clientId: parsed.client_id,
      clientSecret: granted === 'none' ? undefined : parsed.client_secret,
      tokenEndpointAuthMethod: granted,
      source: 'dynamic_registration',
    };
    await this.registry.put(client);
    return client;
  }
}

/** How long a failed registration is answered from memory before the AS is asked again. */
export const REGISTRATION_FAILURE_TTL_MS = 30_000;

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
