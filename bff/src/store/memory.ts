import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import { RecordCipher } from './cipher.js';
import { ProcessChanges } from './changes.js';
import { clientAad, connectionAad, mcpOwnerAad, noteAad, storageKey } from './keys.js';
import { refreshLockName } from './locks.js';
import { Sealer } from './sealed.js';
import {
  type LockFence,
  type McpSessionOwner,
  type ReencryptReport,
  type SessionRecord,
  type SessionWithConnection,
  type StoredSession as ListedSession,
  sessionEndsAt,
  type TokenRecord,
  type TokenStore,
} from './types.js';

interface StoredSession {
  /** The session without its id: only the hash of the id is kept. */
  createdAt: number;
  expiresAt: number;
  idleExpiresAt: number;
  /** server id → { generation, encrypted TokenRecord } */
  connections: Map<string, { generation: number; sealed: string }>;
  /** hashed MCP session ids bound to this session */
  mcpSessions: Set<string>;
}

export interface MemoryStoreOptions {
  cipher?: RecordCipher;
  now?: () => number;
  log?: Logger;
}

/**
 * In-process store: state dies with the process, so it suits tests only. It keeps the same at-rest
 * discipline as the persistent stores (hashed ids, encrypted records) so that tests exercise it.
 */
export class MemoryTokenStore implements TokenStore {
  private readonly sessions = new Map<string, StoredSession>();
  /** hashed MCP session id → encrypted owner */
  private readonly mcpOwners = new Map<string, { sessionKey: string; sealed: string }>();
  private readonly seen = new Map<string, number>();
  private readonly locks = new Map<string, { token: string; until: number }>();
  private readonly clients = new Map<string, string>();
  private readonly notes = new Map<string, { sealed: string; until: number }>();
  private readonly sealer: Sealer;
  private readonly now: () => number;
  /** Only this process writes here: its own notices are every change. */
  readonly changes = new ProcessChanges();

  constructor(options: MemoryStoreOptions = {}) {
    this.sealer = new Sealer(options.cipher ?? RecordCipher.withRandomKey(), options.log);
    this.now = options.now ?? Date.now;
  }

  async createSession(session: SessionRecord): Promise<void> {
    this.sessions.set(storageKey(session.id), {
      createdAt: session.createdAt,
      expiresAt: session.expiresAt,
      idleExpiresAt: session.idleExpiresAt,
      connections: new Map(),
      mcpSessions: new Set(),
    });
    this.changes.listeners.changed(storageKey(session.id));
  }

  async getSession(id: string): Promise<SessionRecord | undefined> {
    const stored = this.live(storageKey(id));
    return stored && { id, createdAt: stored.createdAt, expiresAt: stored.expiresAt, idleExpiresAt: stored.idleExpiresAt };
  }

  async touchSession(id: string, idleExpiresAt: number): Promise<void> {
    const stored = this.live(storageKey(id));
    if (stored) stored.idleExpiresAt = Math.min(idleExpiresAt, stored.expiresAt);
    this.changes.listeners.changed(storageKey(id));
  }

  async deleteSession(id: string): Promise<void> {
    this.dropSession(storageKey(id));
  }

  async deleteSessionByKey(key: string): Promise<boolean> {
    const existed = this.live(key) !== undefined;
    this.dropSession(key);
    return existed;
  }

  async *listSessions(): AsyncIterable<ListedSession> {
    for (const key of [...this.sessions.keys()]) {
      const stored = this.live(key);
      if (!stored) continue;
      const connections = new Map<string, TokenRecord>();
      for (const [server, entry] of stored.connections) {
        const record = this.openConnection(key, server, entry);
        if (record) connections.set(server, record);
      }
      yield { key, createdAt: stored.createdAt, expiresAt: stored.expiresAt, idleExpiresAt: stored.idleExpiresAt, connections };
    }
  }

  async rotateSession(previousId: string | undefined, next: SessionRecord): Promise<boolean> {
    // No await in here: nothing else runs between the check and the move.
    const previousKey = previousId === undefined ? undefined : storageKey(previousId);
    const previous = previousKey === undefined ? undefined : this.live(previousKey);
    if (previous && previousId !== undefined) {
      for (const server of previous.connections.keys()) if (this.lockHeld(refreshLockName(previousId, server))) return false;
    }
    const nextKey = storageKey(next.id);
    const moved: StoredSession = {
      createdAt: next.createdAt,
      expiresAt: next.expiresAt,
      idleExpiresAt: next.idleExpiresAt,
      connections: new Map(),
      mcpSessions: new Set(),
    };
    if (previous && previousKey !== undefined) {
      for (const [server, entry] of previous.connections) {
        const record = this.openConnection(previousKey, server, entry);
        if (!record) continue;
        // Sealed again for where it now lives, with the same generation.
        moved.connections.set(server, { generation: entry.generation, sealed: this.sealer.seal(record, connectionAad(nextKey, server), entry.generation) });
      }
      this.dropSession(previousKey);
    }
    this.sessions.set(nextKey, moved);
    if (previousKey !== undefined) this.changes.listeners.changed(previousKey);
    this.changes.listeners.changed(nextKey);
    return true;
  }

  async getConnection(sessionId: string, server: string): Promise<TokenRecord | undefined> {
    return (await this.getSessionWithConnection(sessionId, server))?.record;
  }

  async getSessionWithConnection(id: string, server: string): Promise<SessionWithConnection | undefined> {
    const key = storageKey(id);
    const stored = this.live(key);
    if (!stored) return undefined;
    const entry = stored.connections.get(server);
    return {
      session: { id, createdAt: stored.createdAt, expiresAt: stored.expiresAt, idleExpiresAt: stored.idleExpiresAt },
      record: entry && this.openConnection(key, server, entry),
    };
  }

  async listConnections(sessionId: string): Promise<Map<string, TokenRecord>> {
    const key = storageKey(sessionId);
    const out = new Map<string, TokenRecord>();
    for (const [server, entry] of this.live(key)?.connections ?? []) {
      const record = this.openConnection(key, server, entry);
      if (record) out.set(server, record);
    }
    return out;
  }

  async putConnection(sessionId: string, server: string, record: TokenRecord): Promise<void> {
    const key = storageKey(sessionId);
    const stored = this.live(key);
    if (!stored) throw new Error('no such session');
    const previous = stored.connections.get(server)?.generation ?? -1;
    const generation = Math.max(record.generation, previous + 1);
    stored.connections.set(server, { generation, sealed: this.sealer.seal({ ...record, generation }, connectionAad(key, server), generation) });
    this.changes.listeners.changed(key, server);
  }

  async replaceConnection(sessionId: string, server: string, expectedGeneration: number, record: TokenRecord): Promise<boolean> {
    const key = storageKey(sessionId);
    const stored = this.live(key);
    const current = stored?.connections.get(server);
    if (!stored || !current || current.generation !== expectedGeneration) return false;
    const generation = expectedGeneration + 1;
    stored.connections.set(server, { generation, sealed: this.sealer.seal({ ...record, generation }, connectionAad(key, server), generation) });
    this.changes.listeners.changed(key, server);
    return true;
  }

  async deleteConnection(sessionId: string, server: string, expectedGeneration?: number, fence?: LockFence): Promise<boolean> {
    const key = storageKey(sessionId);
    const stored = this.sessions.get(key);
    const current = stored?.connections.get(server);
    if (!stored || !current) return false;
    if (expectedGeneration !== undefined && current.generation !== expectedGeneration) return false;
    if (fence && !this.holds(fence.name, fence.token)) return false;
    stored.connections.delete(server);
    this.changes.listeners.changed(key, server);
    return true;
  }

  async bindMcpSession(mcpSessionId: string, owner: McpSessionOwner): Promise<void> {
    const sessionKey = storageKey(owner.sessionId);
    const stored = this.live(sessionKey);
    if (!stored) return;
    const mcpKey = storageKey(mcpSessionId);
    stored.mcpSessions.add(mcpKey);
    this.mcpOwners.set(mcpKey, { sessionKey, sealed: this.sealer.seal(owner, mcpOwnerAad(mcpKey)) });
    this.changes.listeners.mcpChanged(mcpKey);
  }

  async getMcpSessionOwner(mcpSessionId: string): Promise<McpSessionOwner | undefined> {
    const mcpKey = storageKey(mcpSessionId);
    const entry = this.mcpOwners.get(mcpKey);
    if (!entry || !this.live(entry.sessionKey)) return undefined;
    return this.sealer.open<McpSessionOwner>(entry.sealed, mcpOwnerAad(mcpKey))?.value;
  }

  async unbindMcpSession(mcpSessionId: string): Promise<void> {
    const mcpKey = storageKey(mcpSessionId);
    const entry = this.mcpOwners.get(mcpKey);
    if (!entry) return;
    this.mcpOwners.delete(mcpKey);
    this.changes.listeners.mcpChanged(mcpKey);
    this.sessions.get(entry.sessionKey)?.mcpSessions.delete(mcpKey);
  }

  async consumeOnce(key: string, ttlMs: number): Promise<boolean> {
    const now = this.now();
    for (const [k, until] of this.seen) if (until <= now) this.seen.delete(k);
    const hashed = storageKey(key);
    if (this.seen.has(hashed)) return false;
    this.seen.set(hashed, now + ttlMs);
    return true;
  }

  async acquireLock(name: string, ttlMs: number): Promise<string | undefined> {
    const held = this.locks.get(name);
    if (held && held.until > this.now()) return undefined;
    const token = randomBytes(16).toString('base64url');
    this.locks.set(name, { token, until: this.now() + ttlMs });
    return token;
  }

  async releaseLock(name: string, token: string): Promise<void> {
    if (this.locks.get(name)?.token === token) this.locks.delete(name);
  }

  async extendLock(name: string, token: string, ttlMs: number): Promise<boolean> {
    if (!this.holds(name, token)) return false;
    this.locks.set(name, { token, until: this.now() + ttlMs });
    return true;
  }

  async getRegisteredClient(issuer: string): Promise<Record<string, unknown> | undefined> {
    const sealed = this.clients.get(issuer);
    return sealed === undefined ? undefined : this.sealer.open<Record<string, unknown>>(sealed, clientAad(issuer))?.value;
  }

  async putRegisteredClient(issuer: string, client: Record<string, unknown>): Promise<void> {
    this.clients.set(issuer, this.sealer.seal(client, clientAad(issuer)));
  }

  async putNote(key: string, value: Record<string, unknown>, ttlMs: number): Promise<void> {
    const now = this.now();
    for (const [k, note] of this.notes) if (note.until <= now) this.notes.delete(k);
    const hashed = storageKey(key);
    this.notes.set(hashed, { sealed: this.sealer.seal(value, noteAad(hashed)), until: now + ttlMs });
  }

  async getNote(key: string): Promise<Record<string, unknown> | undefined> {
    const hashed = storageKey(key);
    const note = this.notes.get(hashed);
    if (!note || note.until <= this.now()) return undefined;
    return this.sealer.open<Record<string, unknown>>(note.sealed, noteAad(hashed))?.value;
  }

  async purgeExpired(): Promise<number> {
    let purged = 0;
    for (const key of [...this.sessions.keys()]) {
      if (!this.live(key)) purged++;
    }
    return purged;
  }

  async reencryptAll(): Promise<ReencryptReport> {
    const report: ReencryptReport = { reencrypted: 0, unreadable: 0 };
    for (const [key, stored] of this.sessions) {
      for (const [server, entry] of stored.connections) {
        if (!this.openConnection(key, server, entry, report)) report.unreadable++;
      }
    }
    for (const [mcpKey, entry] of this.mcpOwners) {
      const opened = this.sealer.open<McpSessionOwner>(entry.sealed, mcpOwnerAad(mcpKey));
      if (!opened) report.unreadable++;
      else if (opened.stale) {
        entry.sealed = this.sealer.seal(opened.value, mcpOwnerAad(mcpKey));
        report.reencrypted++;
      }
    }
    for (const [issuer, sealed] of this.clients) {
      const opened = this.sealer.open<Record<string, unknown>>(sealed, clientAad(issuer));
      if (!opened) report.unreadable++;
      else if (opened.stale) {
        this.clients.set(issuer, this.sealer.seal(opened.value, clientAad(issuer)));
        report.reencrypted++;
      }
    }
    return report;
  }

  /** Always answers: the store is this process. */
  async ping(): Promise<void> {}

  async close(): Promise<void> {}

  /** The stored session if it has not ended; an ended one is deleted on the spot. */
  private live(key: string): StoredSession | undefined {
    const stored = this.sessions.get(key);
    if (!stored) return undefined;
    if (sessionEndsAt({ id: '', ...stored }) <= this.now()) {
      this.dropSession(key);
      return undefined;
    }
    return stored;
  }

  private holds(name: string, token: string): boolean {
    const held = this.locks.get(name);
    return held !== undefined && held.token === token && held.until > this.now();
  }

  private lockHeld(name: string): boolean {
    return (this.locks.get(name)?.until ?? 0) > this.now();
  }

  private dropSession(key: string): void {
    const stored = this.sessions.get(key);
    if (!stored) return;
    for (const mcpKey of stored.mcpSessions) this.mcpOwners.delete(mcpKey);
    this.sessions.delete(key);
    this.changes.listeners.changed(key);
  }

  /**
   * Opens a connection record, writing it back under the newest key (and format) when it was under an
   * older one.
   */
  private openConnection(
    key: string,
    server: string,
    entry: { generation: number; sealed: string },
    report?: ReencryptReport,
  ): TokenRecord | undefined {
    const aad = connectionAad(key, server);
    const opened = this.sealer.open<TokenRecord>(entry.sealed, aad, entry.generation);
    if (!opened) return undefined;
    const record = { ...opened.value, generation: entry.generation };
    if (opened.stale) {
      entry.sealed = this.sealer.seal(record, aad, entry.generation);
      if (report) report.reencrypted++;
    }
    return record;
  }
}
