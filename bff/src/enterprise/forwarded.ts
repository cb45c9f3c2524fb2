import { type BlockList, isIP } from 'node:net';
import type { Context, MiddlewareHandler } from 'hono';
import { trustedProxyList } from '../http/client-address.js';
import { requestHeader } from '../http/node.js';
import type { Logger } from '../log.js';
import type { AppEnv } from '../routes/env.js';
import { type EndSessionsDeps, revokeConnections } from '../session/end-sessions.js';
import type { CookieJar } from '../session/cookies.js';
import type { Sessions } from '../session/session.js';
import type { TokenRecord, TokenStore } from '../store/types.js';
import { type EnterpriseIdp, IDP_CONNECTION, jwtClaims } from './idp.js';

/**
 * Behind an authenticating proxy (ENTERPRISE_IDP_ID_TOKEN_HEADER), who is signed in is the proxy's
 * word on every request, not only on /bff/login: when person B signs in at the proxy while the browser
 * still holds A's BFF cookie, A's session must not go on serving B. This middleware, on every /mcp/* and
 * /bff/* request from a trusted proxy, compares the forwarded ID token's `sub` (once the token has been
 * checked: IdP.checkForwarded) with the session's IdP sign-in and ends the session, as a logout does
 * (its tokens revoked, best effort), when:
 *   - the forwarded sign-in is another person's;
 *   - the proxy forwards no valid sign-in any more while the session's came from the proxy.
 * The request then goes on without a session: /mcp/* answers login_required, whose login URL
 * (/bff/login) adopts the new sign-in in a fresh session. When the IdP's keys cannot be read, the
 * unverified `sub` may still end the session (never adopt one). No header configured: no middleware.
 */
export interface ForwardedSignInDeps {
  idp: EnterpriseIdp;
  store: TokenStore;
  sessions: Sessions;
  cookies: CookieJar;
  log: Logger;
  trustedProxies: readonly string[];
  revoking: EndSessionsDeps;
}

/** Whether a sign-in record was adopted from a proxy's header (it has no IdP access or refresh token). */
export function adoptedFromProxy(record: TokenRecord): boolean {
  return record.accessToken === '' && record.refreshToken === undefined && record.idToken !== undefined;
}

export function forwardedSignInGuard(deps: ForwardedSignInDeps): MiddlewareHandler<AppEnv> | undefined {
  const { idp, store, sessions, cookies, log, revoking } = deps;
  const header = idp.config.idTokenHeader;
  const trusted = trustedPeers(deps.trustedProxies);
  if (!header || !trusted) return undefined;

  const end = async (c: Context<AppEnv>, sessionId: string, reason: string) => {
    const connections = await store.listConnections(sessionId);
    // The session goes first, so nothing can use its tokens while they are being revoked.
    await store.deleteSession(sessionId);
    cookies.clearSessionCookie(c);
    log.warn({ event: 'security', kind: 'session_ended', reason, reqId: c.get('requestId') });
    await revokeConnections(revoking, connections);
  };

  return async function forwardedSignIn(c, next) {
    if (!isTrustedPeer(c, trusted)) return next();
    const session = await sessions.current(c);
    if (!session) return next();
    const signIn = await store.getConnection(session.id, IDP_CONNECTION);
    if (!signIn) return next();
    const forwarded = requestHeader(c, header);
    const check = forwarded ? await idp.checkForwarded(forwarded) : { kind: 'invalid' as const };
    if (check.kind === 'valid') {
      if (check.record.subject !== signIn.subject) await end(c, session.id, 'another person signed in at the authenticating proxy');
    } else if (check.kind === 'unavailable') {
      // Unverified, it can only end a session, never keep another person's in use.
      const sub = forwarded ? jwtClaims(forwarded)?.sub : undefined;
      if (sub !== signIn.subject) await end(c, session.id, 'another person signed in at the authenticating proxy');
    } else if (adoptedFromProxy(signIn)) {
      await end(c, session.id, forwarded ? 'the authenticating proxy forwarded an ID token that is not valid' : 'the authenticating proxy forwards no sign-in');
    } else if (forwarded) {
      log.warn({ event: 'security', kind: 'forwarded_id_token_ignored', reason: 'not a valid ID token of the IdP for this client', reqId: c.get('requestId') });
    }
    return next();
  };
}

/** The proxies a forwarded ID token is believed from: TRUSTED_PROXIES, read as for client addresses. */
export const trustedPeers = trustedProxyList;

/** Whether the socket's peer (never a forwarded address) is a trusted proxy. */
export function isTrustedPeer(c: Context, list: BlockList): boolean {
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  const raw = incoming?.socket?.remoteAddress;
  if (!raw) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(raw);
  const address = mapped ? (mapped[1] as string) : raw.replace(/%.*$/, '');
  const family = isIP(address);
  return family !== 0 && list.check(address, family === 6 ? 'ipv6' : 'ipv4');
}
