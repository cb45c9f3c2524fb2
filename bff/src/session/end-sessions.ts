import type { Logger } from '../log.js';
import type { OAuthClient } from '../oauth/client.js';
import { describe } from '../oauth/tokens.js';
import { withTimeout } from '../routes/end-session.js';
import type { StoredSession, TokenRecord, TokenStore } from '../store/types.js';

/** What revokes one connection's tokens (RFC 7009) at whoever issued them. */
export type Revoker = Pick<OAuthClient, 'revoke'>;

export interface EndSessionsDeps {
  store: TokenStore;
  /**
   * The configured servers' OAuth clients, by server id: what revokes a connection's tokens (with
   * enterprise-managed servers, also the IdP, for the sign-in kept as the connection `~idp`).
   */
  clients: ReadonlyMap<string, Revoker>;
  log: Logger;
  /** How long one revocation may take. */
  revokeTimeoutMs: number;
}

/**
 * Ends every stored session `matches` picks, as a logout does: the session goes first (with its
 * connections and MCP session bindings), so that nothing, on any instance sharing the store, can use its
 * tokens from then on; then its tokens are revoked at their authorization servers, best effort.
 * Returns the sessions ended.
 */
export async function endSessions(deps: EndSessionsDeps, matches: (session: StoredSession) => boolean): Promise<StoredSession[]> {
  const picked: StoredSession[] = [];
  for await (const session of deps.store.listSessions()) if (matches(session)) picked.push(session);
  const ended: StoredSession[] = [];
  for (const session of picked) if (await deps.store.deleteSessionByKey(session.key)) ended.push(session);
  await Promise.all(ended.map((session) => revokeConnections(deps, session.connections)));
  return ended;
}

/** RFC 7009 for every connection, each bounded in time; a failure is only logged. */
export async function revokeConnections(deps: EndSessionsDeps, connections: ReadonlyMap<string, TokenRecord>): Promise<void> {
  await Promise.all(
    [...connections].map(async ([server, record]) => {
      const client = deps.clients.get(server);
      // A pending sign-out keeps no usable token (end-session.ts): nothing to revoke.
      if (!client || record.accessToken === '') return;
      try {
        await withTimeout(client.revoke(record), deps.revokeTimeoutMs);
      } catch (error) {
        deps.log.warn({ event: 'revocation_failed', server, err: describe(error) });
      }
    }),
  );
}

/**
 * Who a connection belongs to: the `sub` of the login's ID token (an `openid` login), else the `sub`
 * of a JWT access token as the AS issued it (read, not verified: it came from the AS's token endpoint,
 * and it can only end or list a session, never grant anything). Undefined for opaque tokens without openid.
 */
export function userOf(record: TokenRecord): string | undefined {
  if (record.subject) return record.subject;
  const parts = record.accessToken.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1] as string, 'base64url').toString('utf8')) as { sub?: unknown };
    return typeof claims.sub === 'string' && claims.sub !== '' ? claims.sub : undefined;
  } catch {
    return undefined;
  }
}
