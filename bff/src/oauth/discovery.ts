import { LRUCache } from 'lru-cache';
import * as oauth from 'oauth4webapi';
import { z } from 'zod';
import { OAuthFailure } from './errors.js';
import { checkOutboundUrl, fetchJson, type OutboundPolicy } from './http.js';

/** RFC 9728 protected resource metadata: loose, unknown members survive. */
const protectedResourceMetadataSchema = z.looseObject({
  resource: z.string().min(1),
  authorization_servers: z.array(z.string().min(1)).min(1),
  scopes_supported: z.array(z.string()).optional(),
});
export type ProtectedResourceMetadata = z.infer<typeof protectedResourceMetadataSchema>;

const CACHE_TTL_MS = 10 * 60 * 1000;
/**
 * Documents kept per cache. Keys come from configuration and from what servers say (a challenge's
 * resource_metadata, the issuers metadata names), never from the browser; the bound holds whatever they say.
 */
export const DISCOVERY_CACHE_MAX = 100;

type Cache<T> = LRUCache<string, Promise<T>>;
const newCache = <T>(): Cache<T> => new LRUCache<string, Promise<T>>({ max: DISCOVERY_CACHE_MAX, ttl: CACHE_TTL_MS });

/**
 * MCP authorization discovery (2025-11-25 §Authorization Server Discovery): protected resource metadata
 * (RFC 9728) from the challenge's URL or the well-known locations, then the authorization server's
 * metadata (RFC 8414 / OpenID Connect Discovery) in the spec's order. Successes are cached for a bounded
 * time, at most DISCOVERY_CACHE_MAX of each kind (least recently used go first); failures are not.
 */
export class Discovery {
  private readonly resources = newCache<ProtectedResourceMetadata>();
  private readonly servers = newCache<oauth.AuthorizationServer>();
  /** Where each document held was found (the connection details view shows it). */
  private readonly foundAt = new WeakMap<object, string>();

  constructor(private readonly policy: OutboundPolicy) {}

  /**
   * @param resourceUrl the MCP server's URL; the metadata must name exactly this resource.
   * @param resourceMetadataUrl `resource_metadata` from a WWW-Authenticate challenge, if any.
   */
  protectedResource(resourceUrl: string, resourceMetadataUrl?: string): Promise<ProtectedResourceMetadata> {
    return cached(this.resources, `${resourceUrl} ${resourceMetadataUrl ?? ''}`, () =>
      this.loadProtectedResource(resourceUrl, resourceMetadataUrl),
    );
  }

  authorizationServer(issuer: string): Promise<oauth.AuthorizationServer> {
    return cached(this.servers, issuer, () => this.loadAuthorizationServer(issuer));
  }

  /** The URL a document this returned was read from. */
  whereFound(document: object): string | undefined {
    return this.foundAt.get(document);
  }

  /** Forgets cached metadata, e.g. after a server answered with a challenge naming other metadata. */
  forget(resourceUrl: string): void {
    for (const key of [...this.resources.keys()]) if (key.startsWith(`${resourceUrl} `)) this.resources.delete(key);
  }

  /** Documents held now, of each kind (for tests). */
  get cached(): { resources: number; servers: number } {
    return { resources: this.resources.size, servers: this.servers.size };
  }

  private async loadProtectedResource(resourceUrl: string, hint: string | undefined): Promise<ProtectedResourceMetadata> {
    const candidates = hint ? [hint, ...protectedResourceMetadataUrls(resourceUrl)] : protectedResourceMetadataUrls(resourceUrl);
    for (const candidate of [...new Set(candidates)]) {
      checkOutboundUrl(candidate, this.policy, 'protected resource metadata URL');
      const json = await fetchJson(candidate, this.policy);
      if (json === undefined) continue;
      const parsed = protectedResourceMetadataSchema.safeParse(json);
      if (!parsed.success) throw new OAuthFailure('discovery_failed', `protected resource metadata at ${candidate} is malformed`);
      // RFC 9728 §3.3: the metadata names exactly the identifier its well-known URL was built from:
      // the server URL, or (from the root location) the server's origin. Anything else is another
      // resource's metadata and must not be used for this one.
      const origin = new URL(resourceUrl).origin;
      const fromRoot = candidate === `${origin}/.well-known/oauth-protected-resource`;
      const acceptable = [resourceUrl, ...(fromRoot ? [origin, `${origin}/`] : [])];
      if (!acceptable.includes(parsed.data.resource)) {
        throw new OAuthFailure(
          'resource_mismatch',
          `the protected resource metadata names "${parsed.data.resource}", not this server's URL "${resourceUrl}"`,
        );
      }
      for (const as of parsed.data.authorization_servers) checkOutboundUrl(as, this.policy, 'authorization server');
      this.foundAt.set(parsed.data, candidate);
      return parsed.data;
    }
    throw new OAuthFailure('discovery_failed', `no protected resource metadata found for ${resourceUrl}`);
  }

  private async loadAuthorizationServer(issuer: string): Promise<oauth.AuthorizationServer> {
    const { as, foundAt } = await fetchAuthorizationServerMetadata(issuer, this.policy);
    this.foundAt.set(as, foundAt);
    return checkAuthorizationServer(as, this.policy);
  }
}

/**
 * An authorization server's metadata (RFC 8414, then OpenID Connect Discovery's URL), whose `issuer` is
 * exactly the one asked for (RFC 8414 §3.3: identical, not merely equivalent after URL normalisation),
 * and the URL it was found at. What else the caller needs of it, it checks itself.
 */
export async function fetchAuthorizationServerMetadata(
  issuer: string,
  policy: OutboundPolicy,
): Promise<{ as: oauth.AuthorizationServer; foundAt: string }> {
  const issuerUrl = checkOutboundUrl(issuer, policy, 'authorization server issuer');
  for (const candidate of authorizationServerMetadataUrls(issuerUrl)) {
    let response: Response;
    try {
      response = await policy.fetch(candidate, {
        headers: { accept: 'application/json' },
        redirect: 'manual',
        signal: AbortSignal.timeout(policy.timeoutMs),
      });
    } catch (error) {
      throw new OAuthFailure('as_unavailable', 'authorization server metadata unavailable', { cause: error });
    }
    if (response.status >= 500 || response.status === 429) {
      await response.body?.cancel();
      throw new OAuthFailure('as_unavailable', 'authorization server metadata unavailable');
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      continue;
    }
    let as: oauth.AuthorizationServer;
    try {
      as = await oauth.processDiscoveryResponse(issuerUrl, response);
    } catch (error) {
      throw new OAuthFailure('discovery_failed', `authorization server metadata at ${candidate} is invalid`, { cause: error });
    }
    if (as.issuer !== issuer) {
      throw new OAuthFailure('discovery_failed', `authorization server metadata names issuer "${as.issuer}", expected "${issuer}"`);
    }
    return { as, foundAt: candidate };
  }
  throw new OAuthFailure('discovery_failed', `no authorization server metadata found for ${issuer}`);
}

/** RFC 9728 §3.1: path-inserted well-known URL, then the root one. */
export function protectedResourceMetadataUrls(resourceUrl: string): string[] {
  const u = new URL(resourceUrl);
  const path = u.pathname.replace(/\/$/, '');
  const root = `${u.origin}/.well-known/oauth-protected-resource`;
  return path ? [`${root}${path}`, root] : [root];
}

/**
 * MCP 2025-11-25: for an issuer with a path, RFC 8414 path-inserted, OIDC path-inserted, OIDC
 * path-appended; without a path, RFC 8414 then OIDC.
 */
export function authorizationServerMetadataUrls(issuer: URL): string[] {
  const path = issuer.pathname.replace(/\/$/, '');
  const o = issuer.origin;
  if (!path) return [`${o}/.well-known/oauth-authorization-server`, `${o}/.well-known/openid-configuration`];
  return [
    `${o}/.well-known/oauth-authorization-server${path}`,
    `${o}/.well-known/openid-configuration${path}`,
    `${o}${path}/.well-known/openid-configuration`,
  ];
}

/** What this BFF needs from an AS before it sends anyone there. */
function checkAuthorizationServer(as: oauth.AuthorizationServer, policy: OutboundPolicy): oauth.AuthorizationServer {
  if (!as.code_challenge_methods_supported?.includes('S256')) {
    throw new OAuthFailure(
      'pkce_unsupported',
      `the authorization server ${as.issuer} does not advertise PKCE with S256 (code_challenge_methods_supported), which MCP requires`,
    );
  }
  if (!as.authorization_endpoint || !as.token_endpoint) {
    throw new OAuthFailure('discovery_failed', 'the authorization server metadata lacks an authorization or token endpoint');
  }
  checkOutboundUrl(as.authorization_endpoint, policy, 'authorization_endpoint');
  checkOutboundUrl(as.token_endpoint, policy, 'token_endpoint');
  if (as.revocation_endpoint) checkOutboundUrl(as.revocation_endpoint, policy, 'revocation_endpoint');
  if (as.registration_endpoint) checkOutboundUrl(as.registration_endpoint, policy, 'registration_endpoint');
  return as;
}

function cached<T>(cache: Cache<T>, key: string, load: () => Promise<T>): Promise<T> {
  const hit = cache.get(key);
  if (hit) return hit;
  const value = load();
  cache.set(key, value);
  value.catch(() => {
    if (cache.peek(key) === value) cache.delete(key);
  });
  return value;
}
