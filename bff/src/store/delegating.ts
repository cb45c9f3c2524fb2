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

/**
 * A TokenStore that does everything as `inner` does: the base of the stores that wrap another
 * (ServerBoundStore, CachedStore), which override only what they change.
 */
export class DelegatingStore implements TokenStore {
  constructor(protected readonly inner: TokenStore) {}

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
  getConnection(sessionId: string, server: string): Promise<TokenRecord | undefined> {
    return this.inner.getConnection(sessionId, server);
  }
  getSessionWithConnection(id: string, server: string): Promise<SessionWithConnection | undefined> {
    return this.inner.getSessionWithConnection(id, server);
  }
  listConnections(sessionId: string): Promise<Map<string, TokenRecord>> {
    return this.inner.listConnections(sessionId);
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
