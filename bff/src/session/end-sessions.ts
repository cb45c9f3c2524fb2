import type { Logger } from '../log.js';
import type { OAuthClient } from '../oauth/client.js';
import { describe } from '../oauth/tokens.js';
import { withTimeout } from '../routes/end-session.js';
import type { StoredSession, TokenRecord, TokenStore } from '../store/types.js';

export interface EndSessionsDeps {
  store: TokenStore;
  /** The configured servers' OAuth clients, by server id: what revokes a connection's tokens. */
  clients: ReadonlyMap<string, OAuthClient>;
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
