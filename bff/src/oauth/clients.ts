import type { Config } from '../config.js';
import { StoreClientRegistry } from '../store/client-registry.js';
import type { TokenStore } from '../store/types.js';
import { OAuthClient } from './client.js';
import { Discovery } from './discovery.js';
import type { OutboundPolicy } from './http.js';
import { createOutboundFetch } from './outbound.js';
import { postLogoutRedirectUriFor, redirectUriFor } from './redirect-uri.js';
import { type ClientMetadataOptions, type ClientRegistry, ClientResolver } from './registration.js';

/** The BFF's backchannel_logout_uri is PUBLIC_URL + this (routes/backchannel-logout.ts). */
export const BACKCHANNEL_LOGOUT_PATH = '/bff/backchannel-logout';

export interface OAuthClients {
  policy: OutboundPolicy;
  discovery: Discovery;
  clientMetadata: ClientMetadataOptions;
  resolver: ClientResolver;
  /** One per configured server, by server id. */
  clients: Map<string, OAuthClient>;
}

/**
 * What the BFF is towards authorization servers: the guarded outbound policy, discovery, the client it
 * is at each AS, and one OAuthClient per configured server: for the app (app.ts) and for the admin
 * command, which revokes tokens as the server does.
 */
export function createOAuthClients(
  config: Config,
  store: TokenStore,
  options: { registry?: ClientRegistry | undefined; outboundFetch?: typeof fetch | undefined } = {},
): OAuthClients {
  const policy: OutboundPolicy = {
    allowHttpLoopback: config.allowHttpLoopback,
    timeoutMs: config.authServerTimeoutMs,
    fetch:
      options.outboundFetch ??
      createOutboundFetch({
        allowHttpLoopback: config.allowHttpLoopback,
        allowPrivateNetworks: config.allowPrivateNetworks,
        timeoutMs: config.authServerTimeoutMs,
        maxResponseBytes: 1024 * 1024,
      }),
  };
  const discovery = new Discovery(policy);
  const clientMetadata: ClientMetadataOptions = {
    publicUrl: config.publicUrl,
    redirectUris: config.servers.map((s) => redirectUriFor(config.publicUrl, s.id)),
    postLogoutRedirectUris: [postLogoutRedirectUriFor(config.publicUrl)],
    backchannelLogoutUri: `${config.publicUrl}${BACKCHANNEL_LOGOUT_PATH}`,
    clientName: config.clientName,
    externalUrl: config.clientMetadataUrl,
  };
  const resolver = new ClientResolver(
    options.registry ?? new StoreClientRegistry(store),
    clientMetadata,
    policy,
    config.secureCookies || config.allowHttpLoopback,
  );
  const clients = new Map(
    config.servers.map((s) => [s.id, new OAuthClient(s, discovery, resolver, redirectUriFor(config.publicUrl, s.id), policy)]),
  );
  return { policy, discovery, clientMetadata, resolver, clients };
}
