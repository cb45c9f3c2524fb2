import type { Logger } from '../log.js';
import { DelegatingStore } from './delegating.js';
import type {
  SessionWithConnection,
  TokenRecord,
  TokenStore,
} from './types.js';

export interface BoundServer {
  id: string;
  /** The MCP server's URL as configured now. */
  url: string;
}

/**
 * The `resource` values a login for a server at `url` can have recorded: its URL, or (metadata at the
 * origin's root well-known URL may name the origin, see Discovery) its origin.
 */
export function resourcesOf(url: string): Set<string> {
  const origin = new URL(url).origin;
  return new Set([url, origin, `${origin}/`]);
}

/**
 * A TokenStore whose token records must belong to the server they are read for: a record whose
 * `resource` is not the configured server's (its URL was changed under the same id, so the tokens were
 * issued for another host) reads as absent, and is deleted. Otherwise the proxy would send them to the
 * new host as bearer tokens. One Set lookup per read: cheap on the proxy's hot path.
 *
 * Servers that are not configured (any more) are left alone: nothing sends their tokens anywhere.
 */
export class ServerBoundStore extends DelegatingStore {
  private readonly resources: Map<string, Set<string>>;

  constructor(
    inner: TokenStore,
    servers: readonly BoundServer[],
    private readonly log?: Logger,
  ) {
    super(inner);
    this.resources = new Map(servers.map((s) => [s.id, resourcesOf(s.url)]));
  }

  override async getConnection(sessionId: string, server: string): Promise<TokenRecord | undefined> {
    return this.checked(sessionId, server, await this.inner.getConnection(sessionId, server));
  }

  override async getSessionWithConnection(id: string, server: string): Promise<SessionWithConnection | undefined> {
    const found = await this.inner.getSessionWithConnection(id, server);
    if (!found?.record || this.belongs(server, found.record)) return found;
    return { session: found.session, record: await this.checked(id, server, found.record) };
  }

  override async listConnections(sessionId: string): Promise<Map<string, TokenRecord>> {
    const connections = await this.inner.listConnections(sessionId);
    for (const [server, record] of connections) {
      if (!(await this.checked(sessionId, server, record))) connections.delete(server);
    }
    return connections;
  }

  private belongs(server: string, record: TokenRecord): boolean {
    const resources = this.resources.get(server);
    return resources === undefined || resources.has(record.resource);
  }

  private async checked(sessionId: string, server: string, record: TokenRecord | undefined): Promise<TokenRecord | undefined> {
    if (!record || this.belongs(server, record)) return record;
    // Only this generation: a login that stored tokens for the new URL meanwhile stays.
    await this.inner.deleteConnection(sessionId, server, record.generation);
    this.log?.warn({ event: 'security', kind: 'token_resource_mismatch', server });
    return undefined;
  }

  // Everything else as the store does it.

}
