import { RecordCipher } from './cipher.js';
import type { McpSessionOwner, SessionRecord, TokenRecord, TokenStore } from './types.js';

interface StoredSession {
  session: SessionRecord;
  /** server id → encrypted TokenRecord */
  connections: Map<string, string>;
  mcpSessions: Set<string>;
}

/**
 * In-process store: state dies with the process, so it suits tests and single-process demos only.
 * Token records are still encrypted, so a heap dump holds no plaintext token.
 */
export class MemoryTokenStore implements TokenStore {
  private readonly sessions = new Map<string, StoredSession>();
  private readonly mcpOwners = new Map<string, McpSessionOwner>();
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly cipher: RecordCipher = RecordCipher.withRandomKey(),
    private readonly now: () => number = Date.now,
  ) {}

  async createSession(session: SessionRecord): Promise<void> {
    this.sessions.set(session.id, { session: { ...session }, connections: new Map(), mcpSessions: new Set() });
  }

  async getSession(id: string): Promise<SessionRecord | undefined> {
    const stored = this.sessions.get(id);
    if (!stored) return undefined;
    if (stored.session.expiresAt <= this.now()) {
      await this.deleteSession(id);
      return undefined;
    }
    return { ...stored.session };
  }

  async deleteSession(id: string): Promise<void> {
    const stored = this.sessions.get(id);
    if (!stored) return;
    for (const mcpSessionId of stored.mcpSessions) this.mcpOwners.delete(mcpSessionId);
    this.sessions.delete(id);
  }

  async getConnection(sessionId: string, server: string): Promise<TokenRecord | undefined> {
    const sealed = this.sessions.get(sessionId)?.connections.get(server);
    return sealed === undefined ? undefined : this.open(sessionId, server, sealed);
  }

  async listConnections(sessionId: string): Promise<Map<string, TokenRecord>> {
    const out = new Map<string, TokenRecord>();
    for (const [server, sealed] of this.sessions.get(sessionId)?.connections ?? []) {
      out.set(server, this.open(sessionId, server, sealed));
    }
    return out;
  }

  async putConnection(sessionId: string, server: string, record: TokenRecord): Promise<void> {
    const stored = this.sessions.get(sessionId);
    if (!stored) throw new Error('no such session');
    stored.connections.set(server, this.cipher.encrypt(JSON.stringify(record), aad(sessionId, server)));
  }

  async deleteConnection(sessionId: string, server: string): Promise<void> {
    this.sessions.get(sessionId)?.connections.delete(server);
  }

  async bindMcpSession(mcpSessionId: string, owner: McpSessionOwner): Promise<void> {
    const stored = this.sessions.get(owner.sessionId);
    if (!stored) return;
    stored.mcpSessions.add(mcpSessionId);
    this.mcpOwners.set(mcpSessionId, { ...owner });
  }

  async getMcpSessionOwner(mcpSessionId: string): Promise<McpSessionOwner | undefined> {
    const owner = this.mcpOwners.get(mcpSessionId);
    return owner ? { ...owner } : undefined;
  }

  async unbindMcpSession(mcpSessionId: string): Promise<void> {
    const owner = this.mcpOwners.get(mcpSessionId);
    if (!owner) return;
    this.mcpOwners.delete(mcpSessionId);
    this.sessions.get(owner.sessionId)?.mcpSessions.delete(mcpSessionId);
  }

  async consumeOnce(key: string, ttlMs: number): Promise<boolean> {
    const now = this.now();
    for (const [k, until] of this.seen) if (until <= now) this.seen.delete(k);
    if (this.seen.has(key)) return false;
    this.seen.set(key, now + ttlMs);
    return true;
  }

  private open(sessionId: string, server: string, sealed: string): TokenRecord {
    return JSON.parse(this.cipher.decrypt(sealed, aad(sessionId, server))) as TokenRecord;
  }
}

function aad(sessionId: string, server: string): string {
  return `connection:${sessionId}:${server}`;
}
