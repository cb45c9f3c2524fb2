import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, errors as joseErrors, type JSONWebKeySet, type JWTPayload, jwtVerify } from 'jose';
import type * as oauth from 'oauth4webapi';
import { checkOutboundUrl, fetchJson, type OutboundPolicy } from './http.js';

/**
 * Logout tokens of OpenID Connect Back-Channel Logout 1.0
 * (https://openid.net/specs/openid-connect-backchannel-1_0.html): an authorization server the BFF uses
 * tells it, server to server, that a person's login there has ended. The token is validated as §2.6
 * says, against what the BFF itself knows: the issuer must be the AS of a configured server, the
 * signature one of that AS's published keys (its jwks_uri), the audience the BFF's own client there.
 */

export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** §2.4: logout tokens are short-lived; one issued longer ago than this is refused (seconds). */
export const LOGOUT_TOKEN_MAX_AGE_SECONDS = 5 * 60;
/** Clocks of the AS and the BFF may disagree this much (seconds). */
export const LOGOUT_TOKEN_CLOCK_TOLERANCE_SECONDS = 60;
/** A jti is remembered as used for as long as its token could be accepted at all. */
export const LOGOUT_TOKEN_JTI_TTL_MS = (LOGOUT_TOKEN_MAX_AGE_SECONDS + 2 * LOGOUT_TOKEN_CLOCK_TOLERANCE_SECONDS) * 1000;
/** A JWT longer than this is not a logout token (a few hundred bytes usually). */
export const MAX_LOGOUT_TOKEN_LENGTH = 16 * 1024;

/** Asymmetric signatures only: a logout token is never MACed with a client secret here, never unsigned. */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

/** A logout token that must be refused (400), with a reason for the log and the answer's error_description. */
export class LogoutTokenRejected extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LogoutTokenRejected';
  }
}

/** What a valid logout token says: who (sub) and/or which login session (sid) at `issuer` ended. */
export interface LogoutClaims {
  issuer: string;
  subject: string | undefined;
  sid: string | undefined;
  jti: string;
}

/** What the verifier needs to know about the authorization servers the BFF uses. */
export interface KnownIssuers {
  /** The metadata of `issuer` if it is the AS of a configured server, else undefined (never fetched). */
  authorizationServer(issuer: string): Promise<oauth.AuthorizationServer | undefined>;
  /** Whether `clientId` is the BFF's client at that AS (or the one it replaced, while that still works). */
  isOwnClient(as: oauth.AuthorizationServer, clientId: string): Promise<boolean>;
}

const JWKS_TTL_MS = 5 * 60 * 1000;
/** An unknown key id sends the BFF to the jwks_uri again (a rotation), at most this often per AS. */
const JWKS_REFETCH_MIN_MS = 10 * 1000;

/** Verifies logout tokens; the AS keys it fetched are kept for a few minutes. */
export class LogoutTokenVerifier {
  private readonly keySets = new Map<string, { jwks: JSONWebKeySet; fetchedAt: number }>();

  constructor(
    private readonly issuers: KnownIssuers,
    private readonly policy: OutboundPolicy,
  ) {}

  /**
   * §2.6: the checks, in the spec's order. Throws LogoutTokenRejected for a token that fails one;
   * other errors (an AS that cannot be reached for its keys) propagate. The jti is not consumed here.
   */
  async verify(token: string): Promise<LogoutClaims> {
    if (token.length > MAX_LOGOUT_TOKEN_LENGTH) throw new LogoutTokenRejected('logout_token is too long');
    let unverified: JWTPayload;
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(token);
      unverified = decodeJwt(token);
    } catch (error) {
      throw new LogoutTokenRejected('logout_token is not a signed JWT', { cause: error });
    }
    // §2.6 step 2 (JWT BCP, RFC 8725 §3.11): explicitly typed when typed at all.
    if (header.typ !== undefined && !/^(application\/)?logout\+jwt$/i.test(header.typ)) {
      throw new LogoutTokenRejected(`typ must be logout+jwt, not ${JSON.stringify(header.typ).slice(0, 40)}`);
    }
    if (typeof header.alg !== 'string' || !ALGORITHMS.includes(header.alg)) throw new LogoutTokenRejected('alg is not an accepted signature algorithm');
    const issuer = unverified.iss;
    if (typeof issuer !== 'string') throw new LogoutTokenRejected('iss missing');
    // Only an AS the BFF uses: the issuer decides where keys are fetched from, so it is checked first.
    const as = await this.issuers.authorizationServer(issuer);
    if (!as) throw new LogoutTokenRejected('iss is not an authorization server this BFF uses');

    const payload = await this.verifySignature(token, as);
    // §2.6 step 3 (ID Token validation 2-4): audience is the BFF's client at this AS.
    const audiences = typeof payload.aud === 'string' ? [payload.aud] : Array.isArray(payload.aud) ? payload.aud : [];
    let ours = false;
    for (const aud of audiences.slice(0, 10)) if (typeof aud === 'string' && (await this.issuers.isOwnClient(as, aud))) ours = true;
    if (!ours) throw new LogoutTokenRejected('aud is not this BFF’s client at that authorization server');
    // §2.6 steps 4-7.
    const subject = typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : undefined;
    const sid = typeof payload.sid === 'string' && payload.sid !== '' ? payload.sid : undefined;
    if (!subject && !sid) throw new LogoutTokenRejected('neither sub nor sid');
    const events = payload.events;
    if (typeof events !== 'object' || events === null || Array.isArray(events)) throw new LogoutTokenRejected('events missing');
    const event = (events as Record<string, unknown>)[BACKCHANNEL_LOGOUT_EVENT];
    if (typeof event !== 'object' || event === null || Array.isArray(event)) throw new LogoutTokenRejected('events has no back-channel logout event');
    if ('nonce' in payload) throw new LogoutTokenRejected('a logout token has no nonce');
    if (typeof payload.jti !== 'string' || payload.jti === '') throw new LogoutTokenRejected('jti missing');
    return { issuer, subject, sid, jti: payload.jti };
  }

  /** §2.6 step 3 (ID Token validation 6-10): signature by a key in the AS's JWKS; iss; iat recent; exp. */
  private async verifySignature(token: string, as: oauth.AuthorizationServer): Promise<JWTPayload> {
    const options = {
      issuer: as.issuer,
      algorithms: ALGORITHMS,
      requiredClaims: ['iat'],
      maxTokenAge: LOGOUT_TOKEN_MAX_AGE_SECONDS,
      clockTolerance: LOGOUT_TOKEN_CLOCK_TOLERANCE_SECONDS,
    };
    let keys = await this.keys(as, false);
    for (let attempt = 0; ; attempt++) {
      try {
        return (await jwtVerify(token, createLocalJWKSet(keys), options)).payload;
      } catch (error) {
        // A key the AS added since the BFF last looked: look again (not more than every few seconds).
        if (attempt === 0 && error instanceof joseErrors.JWKSNoMatchingKey) {
          const fresh = await this.keys(as, true);
          if (fresh !== keys) {
            keys = fresh;
            continue;
          }
        }
        if (error instanceof joseErrors.JOSEError) throw new LogoutTokenRejected(joseReason(error), { cause: error });
        throw error;
      }
    }
  }

  private async keys(as: oauth.AuthorizationServer, refresh: boolean): Promise<JSONWebKeySet> {
    const cached = this.keySets.get(as.issuer);
    const now = Date.now();
    if (cached && now - cached.fetchedAt < (refresh ? JWKS_REFETCH_MIN_MS : JWKS_TTL_MS)) return cached.jwks;
    if (typeof as.jwks_uri !== 'string') throw new LogoutTokenRejected('the authorization server publishes no jwks_uri');
    const url = checkOutboundUrl(as.jwks_uri, this.policy, 'jwks_uri');
    const body = await fetchJson(url.href, this.policy);
    const keys = (body as { keys?: unknown } | undefined)?.keys;
    if (!Array.isArray(keys)) {
      // Keep what was there: a broken answer must not make every token fail until it is fixed.
      if (cached) return cached.jwks;
      throw new LogoutTokenRejected('the authorization server’s jwks_uri holds no key set');
    }
    const jwks = { keys: keys.filter((k): k is JSONWebKeySet['keys'][number] => typeof k === 'object' && k !== null) };
    this.keySets.set(as.issuer, { jwks, fetchedAt: now });
    return jwks;
  }
}

/** A short reason for the log and error_description: jose's own words name the failed check. */
function joseReason(error: InstanceType<typeof joseErrors.JOSEError>): string {
  // maxTokenAge reports an iat too far back as expired too.
  if (error instanceof joseErrors.JWTExpired) return error.claim === 'iat' ? 'issued too long ago' : 'expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `claim check failed: ${error.claim} (${error.reason})`;
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature does not verify';
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'signed with a key the authorization server does not publish';
  return `not a valid JWT (${error.code})`;
}
