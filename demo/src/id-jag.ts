import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, type JWK, jwtVerify, SignJWT } from 'jose';
import type Provider from 'oidc-provider';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';

/**
 * Enterprise-managed authorization (ext-auth, io.modelcontextprotocol/enterprise-managed-authorization)
 * for the demo authorization server, both halves, each opt-in:
 *
 * - as the enterprise IdP: RFC 8693 token exchange of an ID token this IdP issued to the requesting
 *   client for an Identity Assertion JWT Authorization Grant (ID-JAG, typ oauth-id-jag+jwt) for one
 *   MCP server, after the organisation's policy allowed it;
 * - as an MCP server's authorization server: the RFC 7523 JWT bearer grant with an ID-JAG from a
 *   trusted IdP, checked against that IdP's keys, issuing an RFC 9068 access token for the MCP server.
 */

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
const ID_JAG_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id-jag';
const ID_JAG_TYP = 'oauth-id-jag+jwt';

export interface IdJagIssuerOptions {
  /**
   * The client ID the requesting client has at each MCP server's authorization server, by that AS's
   * issuer (the exchange's `audience`): what the ID-JAG's client_id says (ext-auth §6.1, mapped by the
   * IdP's administrator). An audience not listed is refused.
   */
  clientIds: Record<string, string>;
  /** The organisation's policy: may `sub` use `resource` through `audience`? Default: yes. */
  allow?: (request: { sub: string; audience: string; resource: string; clientId: string; scope: string | undefined }) => boolean;
  /** Lifetime of an ID-JAG; default 300 s. */
  ttlSeconds?: number;
}

export interface TrustedIdpOptions {
  /** The IdP's issuer: the ID-JAG's `iss`. */
  issuer: string;
  /** Where its signing keys are. */
  jwksUri: string;
}

interface Signer {
  privateKey: CryptoKey;
  publicJwk: JWK;
  kid: string;
}

function params(ctx: KoaContextWithOIDC): Record<string, string | undefined> {
  return (ctx.oidc.params ?? {}) as Record<string, string | undefined>;
}

/** The IdP side: grant_type=token-exchange, requested_token_type=ID-JAG. */
export function registerIdJagIssuer(provider: Provider, issuer: string, signer: Signer, options: IdJagIssuerOptions): void {
  const ownKeys = createLocalJWKSet({ keys: [signer.publicJwk] });
  const ttl = options.ttlSeconds ?? 300;
  provider.registerGrantType(
    TOKEN_EXCHANGE_GRANT,
    async (ctx, next) => {
      const p = params(ctx);
      const client = ctx.oidc.client;
      if (!client) throw new errors.InvalidClient('client authentication failed');
      if (p.requested_token_type !== ID_JAG_TOKEN_TYPE) throw new errors.InvalidRequest(`requested_token_type must be ${ID_JAG_TOKEN_TYPE}`);
      if (p.subject_token_type !== ID_TOKEN_TYPE) throw new errors.InvalidRequest(`subject_token_type must be ${ID_TOKEN_TYPE}`);
      if (!p.subject_token || !p.audience || !p.resource) throw new errors.InvalidRequest('subject_token, audience and resource are required');
      // §4.1: an ID token this IdP issued, to the client asking (its aud).
      let sub: string;
      try {
        const { payload } = await jwtVerify(p.subject_token, ownKeys, { issuer, audience: client.clientId });
        if (typeof payload.sub !== 'string') throw new Error('no sub');
        sub = payload.sub;
      } catch {
        throw new errors.InvalidGrant('the subject token is not a valid ID token issued to this client');
      }
      const clientId = options.clientIds[p.audience];
      if (clientId === undefined) throw new errors.InvalidTarget('this identity provider does not know that authorization server');
      const scope = p.scope || undefined;
      if (options.allow && !options.allow({ sub, audience: p.audience, resource: p.resource, clientId, scope })) {
        throw new errors.InvalidGrant("the organisation's policy does not allow this person to use this server");
      }
      const jag = await new SignJWT({ resource: p.resource, client_id: clientId, ...(scope ? { scope } : {}) })
        .setProtectedHeader({ alg: 'RS256', kid: signer.kid, typ: ID_JAG_TYP })
        .setIssuer(issuer)
        .setSubject(sub)
        .setAudience(p.audience)
        .setIssuedAt()
        .setExpirationTime(`${ttl}s`)
        .setJti(randomUUID())
        .sign(signer.privateKey);
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { access_token: jag, issued_token_type: ID_JAG_TOKEN_TYPE, token_type: 'N_A', expires_in: ttl, ...(scope ? { scope } : {}) };
      await next();
    },
    ['requested_token_type', 'subject_token', 'subject_token_type', 'audience', 'resource', 'scope'],
  );
}

/** The MCP server's AS side: grant_type=jwt-bearer with an ID-JAG from the trusted IdP. */
export function registerJwtBearer(
  provider: Provider,
  options: {
    issuer: string;
    resource: string;
    resourceScopes: string[];
    trusted: TrustedIdpOptions;
    accessTokenTtlSeconds: (grantType: string) => number;
    signer: Signer;
  },
): void {
  const idpKeys = createRemoteJWKSet(new URL(options.trusted.jwksUri), { timeoutDuration: 5000 });
  /** ID-JAGs already used (RFC 7521 §5.2 allows refusing replays), until they expire. */
  const used = new Map<string, number>();
  provider.registerGrantType(
    JWT_BEARER_GRANT,
    async (ctx, next) => {
      const client = ctx.oidc.client;
      if (!client) throw new errors.InvalidClient('client authentication failed');
      const assertion = params(ctx).assertion;
      if (!assertion) throw new errors.InvalidRequest('assertion is required');
      let claims: Record<string, unknown>;
      try {
        if (decodeProtectedHeader(assertion).typ !== ID_JAG_TYP) throw new Error('typ');
        ({ payload: claims } = await jwtVerify(assertion, idpKeys, {
          issuer: options.trusted.issuer,
          audience: options.issuer,
          typ: ID_JAG_TYP,
          requiredClaims: ['sub', 'jti', 'exp', 'iat', 'client_id', 'resource'],
        }));
      } catch {
        throw new errors.InvalidGrant('the assertion is not a valid ID-JAG from a trusted identity provider');
      }
      if (claims.client_id !== client.clientId) throw new errors.InvalidGrant('the ID-JAG was issued to another client');
      if (claims.resource !== options.resource) throw new errors.InvalidGrant('the ID-JAG is for another resource');
      const now = Math.floor(Date.now() / 1000);
      for (const [jti, exp] of used) if (exp < now) used.delete(jti);
      const jti = claims.jti as string;
      if (used.has(jti)) throw new errors.InvalidGrant('the ID-JAG was used already');
      used.set(jti, claims.exp as number);

      const asked = typeof claims.scope === 'string' ? claims.scope.split(' ') : options.resourceScopes;
      const scope = asked.filter((s) => options.resourceScopes.includes(s)).join(' ');
      const ttl = options.accessTokenTtlSeconds(JWT_BEARER_GRANT);
      const accessToken = await new SignJWT({ client_id: client.clientId, ...(scope ? { scope } : {}) })
        .setProtectedHeader({ alg: 'RS256', kid: options.signer.kid, typ: 'at+jwt' })
        .setIssuer(options.issuer)
        .setSubject(claims.sub as string)
        .setAudience(options.resource)
        .setIssuedAt(now)
        .setExpirationTime(now + ttl)
        .setJti(randomUUID())
        .sign(options.signer.privateKey);
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { access_token: accessToken, token_type: 'Bearer', expires_in: ttl, ...(scope ? { scope } : {}) };
      await next();
    },
    ['assertion', 'scope', 'resource'],
  );
}
