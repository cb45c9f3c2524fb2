import * as oauth from 'oauth4webapi';
import { z } from 'zod';
import { OAuthFailure } from './errors.js';
import { checkOutboundUrl, isTransient, type OutboundPolicy, requestOptions } from './http.js';

/** RFC 9728 protected resource metadata: loose, unknown members survive. */
const protectedResourceMetadataSchema = z.looseObject({
  resource: z.string(),
  authorization_servers: z.array(z.string()).min(1),
  scopes_supported: z.array(z.string()).optional(),
});
export type ProtectedResourceMetadata = z.infer<typeof protectedResourceMetadataSchema>;

export interface Discovered {
  resource: ProtectedResourceMetadata;
  as: oauth.AuthorizationServer;
}

const CACHE_TTL_MS = 10 * 60 * 1000;
const MAX_METADATA_BYTES = 256 * 1024;

/**
 * Finds a protected resource's authorization server: RFC 9728 metadata from the MCP server, then
 * RFC 8414 (or OIDC discovery) metadata from its first authorization server. Results are cached for a
 * bounded time; failures are not.
 */
export class Discovery {
  private readonly cache = new Map<string, { value: Promise<Discovered>; until: number }>();

  constructor(private readonly policy: OutboundPolicy) {}

  discover(resourceUrl: string): Promise<Discovered> {
    const hit = this.cache.get(resourceUrl);
    if (hit && hit.until > Date.now()) return hit.value;
    const value = this.load(resourceUrl);
    this.cache.set(resourceUrl, { value, until: Date.now() + CACHE_TTL_MS });
    value.catch(() => this.cache.delete(resourceUrl));
    return value;
  }

  private async load(resourceUrl: string): Promise<Discovered> {
    const resource = await this.protectedResourceMetadata(resourceUrl);
    const issuer = resource.authorization_servers[0] as string;
    const as = await this.authorizationServerMetadata(issuer);
    return { resource, as };
  }

  /** RFC 9728 §3: path-inserted well-known URL first, then the root one. */
  private async protectedResourceMetadata(resourceUrl: string): Promise<ProtectedResourceMetadata> {
    const u = new URL(resourceUrl);
    const path = u.pathname === '/' ? '' : u.pathname.replace(/\/$/, '');
    const candidates = [`${u.origin}/.well-known/oauth-protected-resource${path}`];
    if (path) candidates.push(`${u.origin}/.well-known/oauth-protected-resource`);
    let lastProblem = 'no protected resource metadata found';
    for (const candidate of candidates) {
      const json = await this.getJson(candidate);
      if (json === undefined) continue;
      const parsed = protectedResourceMetadataSchema.safeParse(json);
      if (!parsed.success) {
        lastProblem = 'protected resource metadata is malformed';
        continue;
      }
      // RFC 9728 §3.3: the metadata must be about exactly this resource.
      if (parsed.data.resource !== resourceUrl) {
        throw new OAuthFailure('discovery_failed', 'protected resource metadata names a different resource');
      }
      for (const as of parsed.data.authorization_servers) checkOutboundUrl(as, this.policy, 'authorization server');
      return parsed.data;
    }
    throw new OAuthFailure('discovery_failed', lastProblem);
  }

  /** RFC 8414 first, OIDC discovery second; oauth4webapi checks that `issuer` matches exactly. */
  private async authorizationServerMetadata(issuer: string): Promise<oauth.AuthorizationServer> {
    const issuerUrl = checkOutboundUrl(issuer, this.policy, 'authorization server issuer');
    let lastError: unknown;
    for (const algorithm of ['oauth2', 'oidc'] as const) {
      try {
        const response = await oauth.discoveryRequest(issuerUrl, {
          algorithm,
          ...requestOptions(issuer, this.policy),
        });
        const as = await oauth.processDiscoveryResponse(issuerUrl, response);
        return checkAuthorizationServer(as, this.policy);
      } catch (error) {
        if (error instanceof OAuthFailure) throw error;
        if (isTransient(error)) throw new OAuthFailure('as_unavailable', 'authorization server metadata unavailable', { cause: error });
        lastError = error;
      }
    }
    throw new OAuthFailure('discovery_failed', 'authorization server metadata not found or invalid', { cause: lastError });
  }

  private async getJson(url: string): Promise<unknown> {
    checkOutboundUrl(url, this.policy, 'metadata URL');
    let response: Response;
    try {
      response = await fetch(url, {
        headers: { accept: 'application/json' },
        redirect: 'manual',
        signal: AbortSignal.timeout(this.policy.timeoutMs),
      });
    } catch (error) {
      throw new OAuthFailure('as_unavailable', 'protected resource metadata unavailable', { cause: error });
    }
    if (response.status >= 500 || response.status === 429) {
      await response.body?.cancel();
      throw new OAuthFailure('as_unavailable', 'protected resource metadata unavailable');
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      return undefined;
    }
    const text = await response.text();
    if (text.length > MAX_METADATA_BYTES) return undefined;
    try {
      return JSON.parse(text);
    } catch {
      return undefined;
    }
  }
}

/** What this BFF needs from an AS before it sends a user there. */
function checkAuthorizationServer(as: oauth.AuthorizationServer, policy: OutboundPolicy): oauth.AuthorizationServer {
  if (!as.code_challenge_methods_supported?.includes('S256')) {
    throw new OAuthFailure('discovery_failed', 'the authorization server does not support PKCE with S256');
  }
  if (!as.authorization_endpoint || !as.token_endpoint) {
    throw new OAuthFailure('discovery_failed', 'the authorization server metadata lacks an authorization or token endpoint');
  }
  checkOutboundUrl(as.authorization_endpoint, policy, 'authorization_endpoint');
  checkOutboundUrl(as.token_endpoint, policy, 'token_endpoint');
  if (as.revocation_endpoint) checkOutboundUrl(as.revocation_endpoint, policy, 'revocation_endpoint');
  return as;
}
