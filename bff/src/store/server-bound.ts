import type { Logger } from '../log.js';
import type {
  LockFence,
  McpSessionOwner,
  ReencryptReport,
  SessionRecord,
  SessionWithConnection,
  StoredSession,
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
export class ServerBoundStore implements TokenStore {
  private readonly resources: Map<string, Set<string>>;

  constructor(
    private readonly inner: TokenStore,
    servers: readonly BoundServer[],
    private readonly log?: Logger,
  ) {
    this.resources = new Map(servers.map((s) => [s.id, resourcesOf(s.url)]));
  }

  async getConnection(sessionId: string, server: string): Promise<TokenRecord | undefined> {
    return this.checked(sessionId, server, await this.inner.getConnection(sessionId, server));
  }

  async getSessionWithConnection(id: string, server: string): Promise<SessionWithConnection | undefined> {
    const found = await this.inner.getSessionWithConnection(id, server);
    if (!found?.record || this.belongs(server, found.record)) return found;
    return { session: found.session, record: await this.checked(id, server, found.record) };
  }

  async listConnections(sessionId: string): Promise<Map<string, TokenRecord>> {
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

  createSession(session: SessionRecord): Promise<void> {
    return this.inner.createSession(session);
  }
  getSession(id: string): Promise<SessionRecord | undefined> {
    return this.inner.getSession(id);
  }
  touchSession(id: string, idleExpiresAt: number): Promise<void> {
    return this.inner.touchSession(id, idleExpiresAt);
  }
  deleteSession(id: string): Promise<void> {
    return this.inner.deleteSession(id);
  }
  deleteSessionByKey(key: string): Promise<boolean> {
    return this.inner.deleteSessionByKey(key);
  }
  listSessions(): AsyncIterable<StoredSession> {
    return this.inner.listSessions();
  }
  rotateSession(previousId: string | undefined, next: SessionRecord): Promise<boolean> {
    return this.inner.rotateSession(previousId, next);
  }
  putConnection(sessionId: string, server: string, record: TokenRecord): Promise<void> {
    return this.inner.putConnection(sessionId, server, record);
  }
  replaceConnection(sessionId: string, server: string, expectedGeneration: number, record: TokenRecord): Promise<boolean> {
    return this.inner.replaceConnection(sessionId, server, expectedGeneration, record);
  }
  deleteConnection(sessionId: string, server: string, expectedGeneration?: number, fence?: LockFence): Promise<boolean> {
    return this.inner.deleteConnection(sessionId, server, expectedGeneration, fence);
  }
  bindMcpSession(mcpSessionId: string, owner: McpSessionOwner): Promise<void> {
    return this.inner.bindMcpSession(mcpSessionId, owner);
  }
  getMcpSessionOwner(mcpSessionId: string): Promise<McpSessionOwner | undefined> {
    return this.inner.getMcpSessionOwner(mcpSessionId);
  }
  unbindMcpSession(mcpSessionId: string): Promise<void> {
    return this.inner.unbindMcpSession(mcpSessionId);
  }
  consumeOnce(key: string, ttlMs: number): Promise<boolean> {
    return this.inner.consumeOnce(key, ttlMs);
  }
  acquireLock(name: string, ttlMs: number): Promise<string | undefined> {
    return this.inner.acquireLock(name, ttlMs);
  }
  releaseLock(name: string, token: string): Promise<void> {
    return this.inner.releaseLock(name, token);
  }
  extendLock(name: string, token: string, ttlMs: number): Promise<boolean> {
    return this.inner.extendLock(name, token, ttlMs);
  }
  getRegisteredClient(issuer: string): Promise<Record<string, unknown> | undefined> {
    return this.inner.getRegisteredClient(issuer);
  }
  putRegisteredClient(issuer: string, client: Record<string, unknown>): Promise<void> {
    return this.inner.putRegisteredClient(issuer, client);
  }
  putNote(key: string, value: Record<string, unknown>, ttlMs: number): Promise<void> {
    return this.inner.putNote(key, value, ttlMs);
  }
  getNote(key: string): Promise<Record<string, unknown> | undefined> {
    return this.inner.getNote(key);
  }
  purgeExpired(): Promise<number> {
    return this.inner.purgeExpired();
  }
  reencryptAll(): Promise<ReencryptReport> {
    return this.inner.reencryptAll();
  }
  ping(): Promise<void> {
    return this.inner.ping();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
