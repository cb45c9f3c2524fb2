import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { ClientAddress } from '../http/client-address.js';
import { rateLimited } from '../http/errors.js';
import type { RateLimits } from '../http/rate-limit.js';
import type { Logger } from '../log.js';
import type { OAuthClient } from '../oauth/client.js';
import { BACKCHANNEL_LOGOUT_PATH } from '../oauth/clients.js';
import { LOGOUT_TOKEN_JTI_TTL_MS, type LogoutClaims, LogoutTokenRejected, LogoutTokenVerifier, MAX_LOGOUT_TOKEN_LENGTH } from '../oauth/logout-token.js';
import type { OutboundPolicy } from '../oauth/http.js';
import { describe } from '../oauth/tokens.js';
import { endSessions, userOf } from '../session/end-sessions.js';
import type { StoredSession, TokenStore } from '../store/types.js';
import type { AppEnv } from './env.js';


/** The form holds one logout token and nothing much else. */
const MAX_BODY_BYTES = MAX_LOGOUT_TOKEN_LENGTH + 1024;

export interface BackchannelLogoutDeps {
  store: TokenStore;
  log: Logger;
  clients: ReadonlyMap<string, OAuthClient>;
  policy: OutboundPolicy;
  limits: RateLimits;
  clientAddress: ClientAddress;
  revokeTimeoutMs: number;
}

/**
 * Which stored sessions a logout token ends: those with a connection whose tokens `issuer` issued to
 * the login it names. By sid, the AS's login session; by sub, every login of that person there. With
 * both, a connection whose login recorded no sid goes by sub alone (more is ended, never less). The
 * sub is the ID token's; a login without `openid` has none, and goes by its JWT access token's sub (an
 * AS that signs out such a login still posts a logout token: oidc-provider does); one with neither
 * cannot be named.
 */
export function endedBy(claims: Pick<LogoutClaims, 'issuer' | 'subject' | 'sid'>): (session: StoredSession) => boolean {
  return (session) =>
    [...session.connections.values()].some((record) => {
      if (record.issuer !== claims.issuer) return false;
      if (claims.subject !== undefined && userOf(record) !== claims.subject) return false;
      if (claims.sid === undefined) return true;
      return record.authSessionId === claims.sid || (claims.subject !== undefined && record.authSessionId === undefined);
    });
}

/**
 * POST /bff/backchannel-logout: OpenID Connect Back-Channel Logout 1.0 §2.5-2.8. Anonymous (the AS
 * calls it, with no cookie and no Origin), so it is limited per address and in size like the other
 * anonymous endpoints; everything it trusts comes from the signed token.
 */
export function backchannelLogoutRoutes(deps: BackchannelLogoutDeps): Hono<AppEnv> {
  const { store, log, clients, limits, clientAddress } = deps;
  const verifier = new LogoutTokenVerifier(
    {
      async authorizationServer(issuer) {
        // A server whose metadata cannot be had right now might be the one: then nothing is decided
        // (503, the AS may try again) rather than the token refused as foreign.
        let unknown: unknown;
        for (const client of clients.values()) {
          try {
            const as = await client.authorizationServerIf(issuer);
            if (as) return as;
          } catch (error) {
            unknown ??= error;
          }
        }
        if (unknown !== undefined) throw unknown;
        return undefined;
      },
      async isOwnClient(as, clientId) {
        for (const client of clients.values()) {
          const uses = await client.authorizationServerIf(as.issuer).catch(() => undefined);
          if (uses && (await client.isOwnClient(as, clientId))) return true;
        }
        return false;
      },
    },
    deps.policy,
  );
  const app = new Hono<AppEnv>();

  // §2.8: 400, with an OAuth 2.0 error (RFC 6749 §5.2) in the body.
  const refuse = (c: Context<AppEnv>, reason: string) => {
    log.warn({ event: 'security', kind: 'backchannel_logout_refused', reason, reqId: c.get('requestId') });
    return c.json({ error: 'invalid_request', error_description: reason }, 400);
  };

  app.post(
    BACKCHANNEL_LOGOUT_PATH.replace('/bff', ''),
    async (c, next) => {
      const retryAfter = await limits.consume('backchannelLogout', clientAddress(c), c.get('requestId'));
      if (retryAfter !== undefined) throw rateLimited(retryAfter);
      await next();
    },
    bodyLimit({ maxSize: MAX_BODY_BYTES, onError: (c) => refuse(c as Context<AppEnv>, 'request body too large') }),
    async (c) => {
      const type = c.req.header('content-type')?.split(';')[0]?.trim().toLowerCase();
      if (type !== 'application/x-www-form-urlencoded') return refuse(c, 'expected an application/x-www-form-urlencoded body');
      const tokens = new URLSearchParams(await c.req.text()).getAll('logout_token');
      if (tokens.length !== 1 || !tokens[0]) return refuse(c, 'expected exactly one logout_token');

      let claims: LogoutClaims;
      try {
        claims = await verifier.verify(tokens[0]);
      } catch (error) {
        if (error instanceof LogoutTokenRejected) return refuse(c, error.message);
        // Metadata (the server's, the AS's) or the AS's keys could not be had: nothing was decided, and
        // the AS may try again.
        log.warn({ event: 'backchannel_logout_unavailable', err: describe(error), reqId: c.get('requestId') });
        return c.json({ error: 'temporarily_unavailable', error_description: 'the authorization server’s metadata or keys could not be fetched' }, 503);
      }
      // §2.6 step 8: each token once, on every instance (the marker lives in the shared store). Only
      // after the signature: nobody else can use up a jti.
      if (!(await store.consumeOnce(`backchannel-logout:${claims.issuer}\u0000${claims.jti}`, LOGOUT_TOKEN_JTI_TTL_MS))) {
        return refuse(c, 'jti already used');
      }
      const ended = await endSessions({ store, clients, log, revokeTimeoutMs: deps.revokeTimeoutMs }, endedBy(claims));
      log.info({
        event: 'backchannel_logout',
        issuer: claims.issuer,
        by: claims.sid !== undefined ? 'sid' : 'sub',
        sessionsEnded: ended.length,
        reqId: c.get('requestId'),
      });
      // §2.8: 200 (no-store is set for every /bff/* answer); nothing matched is a success too.
      return c.body(null, 200);
    },
  );
  return app;
}
