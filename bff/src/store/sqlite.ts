import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../log.js';
import type { RecordCipher } from './cipher.js';
import { VersionedChanges } from './changes.js';
import { StoreUnavailable } from './errors.js';
import { clientAad, connectionAad, mcpOwnerAad, noteAad, storageKey } from './keys.js';
import { refreshLockName } from './locks.js';
import { Sealer } from './sealed.js';
import { Database, type SqliteDatabase } from './sqlite-driver.js';
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

export interface SqliteStoreOptions {
  /** File path, or ':memory:'. The directory is created (0700) and the file made 0600. */
  path: string;
  cipher: RecordCipher;
  log?: Logger;
  now?: () => number;
}

const SCHEMA_VERSION = 1;

/**
 * Ids are stored as SHA-256 hashes (`storageKey`), and every value that could be replayed is a
 * RecordCipher ciphertext: a copy of the file holds no token, session id or client secret.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS sessions (
  key TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  idle_expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sessions_expires ON sessions (expires_at);
CREATE INDEX IF NOT EXISTS sessions_idle_expires ON sessions (idle_expires_at);
CREATE TABLE IF NOT EXISTS connections (
  session_key TEXT NOT NULL REFERENCES sessions (key) ON DELETE CASCADE,
  server TEXT NOT NULL,
  generation INTEGER NOT NULL,
  sealed TEXT NOT NULL,
  PRIMARY KEY (session_key, server)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS mcp_sessions (
  key TEXT PRIMARY KEY,
  session_key TEXT NOT NULL REFERENCES sessions (key) ON DELETE CASCADE,
  sealed TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS mcp_sessions_session ON mcp_sessions (session_key);
CREATE TABLE IF NOT EXISTS once_markers (key TEXT PRIMARY KEY, until INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS locks (name TEXT PRIMARY KEY, token TEXT NOT NULL, until INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS clients (key TEXT PRIMARY KEY, issuer TEXT NOT NULL, sealed TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS notes (key TEXT PRIMARY KEY, sealed TEXT NOT NULL, until INTEGER NOT NULL) WITHOUT ROWID;
`;

/** A LEFT JOIN's columns: all null when there is no row to join. */
type NullableRow<T> = { [K in keyof T]: T[K] | null };

function hasConnection(row: NullableRow<ConnectionRow>): row is ConnectionRow {
  return row.sealed !== null;
}

interface SessionRow {
  created_at: number;
  expires_at: number;
  idle_expires_at: number;
}
interface ConnectionRow {
  server: string;
  generation: number;
  sealed: string;
}

/**
 * The embedded default: one file, kept across restarts. Several processes may share the file (SQLite
 * locks it, and locks and compare-and-set live in it too), but several hosts need Redis.
 * better-sqlite3 is synchronous; each statement is short and indexed.
 */
export class SqliteTokenStore implements TokenStore {
  private readonly db: SqliteDatabase;
  private readonly sealer: Sealer;
  private readonly now: () => number;
  private readonly q: ReturnType<typeof prepare>;
  /**
   * This process's writes are told at once; other processes' (several BFF processes on one file) show
   * as a change of the file's `data_version`.
   */
  readonly changes: VersionedChanges;

  constructor(options: SqliteStoreOptions) {
    this.sealer = new Sealer(options.cipher, options.log);
    this.now = options.now ?? Date.now;
    if (options.path !== ':memory:') {
      mkdirSync(dirname(options.path), { recursive: true, mode: 0o700 });
      // Created owner-only before SQLite opens it; SQLite gives its -wal and -shm files the same mode.
      closeSync(openSync(options.path, 'a', 0o600));
      chmodSync(options.path, 0o600);
    }
    this.db = new Database(options.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    // Freed pages are zeroed: what was deleted does not linger in the file.
    this.db.pragma('secure_delete = ON');
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new Error(`the token store file has schema version ${version}; this BFF knows up to ${SCHEMA_VERSION}`);
    }
    this.db.exec(SCHEMA);
    this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    this.q = prepare(this.db);
    const dataVersion = this.db.prepare('PRAGMA data_version').pluck();
    this.changes = new VersionedChanges(() => {
      if (!this.db.open) return undefined;
      try {
        return dataVersion.get() as number;
      } catch {
        return undefined;
      }
    });
  }

  async createSession(session: SessionRecord): Promise<void> {
    this.run(() =>
      this.q.insertSession.run(storageKey(session.id), session.createdAt, session.expiresAt, session.idleExpiresAt),
    );
    this.changes.listeners.changed(storageKey(session.id));
  }

  async getSession(id: string): Promise<SessionRecord | undefined> {
    const key = storageKey(id);
    const row = this.run(() => this.liveSession(key));
    return row && { id, createdAt: row.created_at, expiresAt: row.expires_at, idleExpiresAt: row.idle_expires_at };
  }

  async touchSession(id: string, idleExpiresAt: number): Promise<void> {
    this.run(() => this.q.touchSession.run(idleExpiresAt, storageKey(id), this.now()));
    this.changes.listeners.changed(storageKey(id));
  }

  async deleteSession(id: string): Promise<void> {
    this.run(() => this.q.deleteSession.run(storageKey(id)));
    this.changes.listeners.changed(storageKey(id));
  }

  async deleteSessionByKey(key: string): Promise<boolean> {
    const deleted = this.run(() => this.q.deleteSession.run(key).changes > 0);
    this.changes.listeners.changed(key);
    return deleted;
  }

  async *listSessions(): AsyncIterable<StoredSession> {
    const now = this.now();
    const rows = this.run(
      () => this.q.listSessions.all(now, now) as Array<SessionRow & { key: string }>,
    );
    for (const row of rows) {
      const connections = new Map<string, TokenRecord>();
      const found = this.run(() => this.q.listConnections.all(row.key) as ConnectionRow[]);
      for (const c of found) {
        const record = this.run(() => this.openConnection(row.key, c));
        if (record) connections.set(c.server, record);
      }
      yield { key: row.key, createdAt: row.created_at, expiresAt: row.expires_at, idleExpiresAt: row.idle_expires_at, connections };
    }
  }

  async rotateSession(previousId: string | undefined, next: SessionRecord): Promise<boolean> {
    const previousKey = previousId === undefined ? undefined : storageKey(previousId);
    const nextKey = storageKey(next.id);
    // IMMEDIATE: the write lock is taken first, so that no other process writes between the reads and the move.
    const rotate = this.db.transaction((): boolean => {
      const now = this.now();
      const rows = previousKey !== undefined && this.liveSession(previousKey) ? (this.q.listConnections.all(previousKey) as ConnectionRow[]) : [];
      if (previousId !== undefined && rows.some((row) => this.q.lockHeld.get(storageKey(refreshLockName(previousId, row.server)), now))) return false;
      this.q.insertSession.run(nextKey, next.createdAt, next.expiresAt, next.idleExpiresAt);
      for (const row of rows) {
        const record = this.openConnection(previousKey as string, row);
        if (!record) continue;
        // Sealed again for where it now lives, with the same generation.
        this.q.upsertConnection.run(nextKey, row.server, row.generation, this.sealer.seal(record, connectionAad(nextKey, row.server), row.generation));
      }
      if (previousKey !== undefined) this.q.deleteSession.run(previousKey);
      return true;
    });
    const rotated = this.run(() => rotate.immediate());
    if (previousKey !== undefined) this.changes.listeners.changed(previousKey);
    this.changes.listeners.changed(nextKey);
    return rotated;
  }

  async getConnection(sessionId: string, server: string): Promise<TokenRecord | undefined> {
    return (await this.getSessionWithConnection(sessionId, server))?.record;
  }

  async getSessionWithConnection(id: string, server: string): Promise<SessionWithConnection | undefined> {
    const key = storageKey(id);
    return this.run(() => {
      // One statement for the session's liveness and the record: this runs on every proxied call.
      const row = this.q.getSessionWithConnection.get(server, key) as (SessionRow & NullableRow<ConnectionRow>) | undefined;
      if (!row || !this.isLive(key, row)) return undefined;
      const session = { id, createdAt: row.created_at, expiresAt: row.expires_at, idleExpiresAt: row.idle_expires_at };
      return { session, record: hasConnection(row) ? this.openConnection(key, row) : undefined };
    });
  }

  async listConnections(sessionId: string): Promise<Map<string, TokenRecord>> {
    const key = storageKey(sessionId);
    return this.run(() => {
      const out = new Map<string, TokenRecord>();
      if (!this.liveSession(key)) return out;
      for (const row of this.q.listConnections.all(key) as ConnectionRow[]) {
        const record = this.openConnection(key, row);
        if (record) out.set(row.server, record);
      }
      return out;
    });
  }

  async putConnection(sessionId: string, server: string, record: TokenRecord): Promise<void> {
    const key = storageKey(sessionId);
    this.run(
      this.db.transaction(() => {
        if (!this.liveSession(key)) throw new Error('no such session');
        const previous = (this.q.getConnection.get(key, server) as ConnectionRow | undefined)?.generation ?? -1;
        const generation = Math.max(record.generation, previous + 1);
        this.q.upsertConnection.run(key, server, generation, this.sealer.seal({ ...record, generation }, connectionAad(key, server), generation));
      }),
    );
    this.changes.listeners.changed(key, server);
  }

  async replaceConnection(sessionId: string, server: string, expectedGeneration: number, record: TokenRecord): Promise<boolean> {
    const key = storageKey(sessionId);
    const generation = expectedGeneration + 1;
    const sealed = this.sealer.seal({ ...record, generation }, connectionAad(key, server), generation);
    const now = this.now();
    const result = this.run(() => this.q.replaceConnection.run(generation, sealed, key, server, expectedGeneration, key, now, now));
    if (result.changes === 1) this.changes.listeners.changed(key, server);
    return result.changes === 1;
  }

  async deleteConnection(sessionId: string, server: string, expectedGeneration?: number, fence?: LockFence): Promise<boolean> {
    const key = storageKey(sessionId);
    const result = this.run(() =>
      fence
        ? this.q.deleteConnectionFenced.run(key, server, expectedGeneration ?? null, expectedGeneration ?? null, storageKey(fence.name), fence.token, this.now())
        : expectedGeneration === undefined
          ? this.q.deleteConnection.run(key, server)
          : this.q.deleteConnectionAt.run(key, server, expectedGeneration),
    );
    if (result.changes > 0) this.changes.listeners.changed(key, server);
    return result.changes > 0;
  }

  async bindMcpSession(mcpSessionId: string, owner: McpSessionOwner): Promise<void> {
    const sessionKey = storageKey(owner.sessionId);
    const mcpKey = storageKey(mcpSessionId);
    this.run(
      this.db.transaction(() => {
        if (!this.liveSession(sessionKey)) return;
        this.q.upsertMcp.run(mcpKey, sessionKey, this.sealer.seal(owner, mcpOwnerAad(mcpKey)));
      }),
    );
    this.changes.listeners.mcpChanged(mcpKey);
  }

  async getMcpSessionOwner(mcpSessionId: string): Promise<McpSessionOwner | undefined> {
    const mcpKey = storageKey(mcpSessionId);
    return this.run(() => {
      const row = this.q.getMcp.get(mcpKey) as { session_key: string; sealed: string } | undefined;
      if (!row || !this.liveSession(row.session_key)) return undefined;
      const opened = this.sealer.open<McpSessionOwner>(row.sealed, mcpOwnerAad(mcpKey));
      if (opened?.stale) this.q.resealMcp.run(this.sealer.seal(opened.value, mcpOwnerAad(mcpKey)), mcpKey, row.sealed);
      return opened?.value;
    });
  }

  async unbindMcpSession(mcpSessionId: string): Promise<void> {
    this.run(() => this.q.deleteMcp.run(storageKey(mcpSessionId)));
    this.changes.listeners.mcpChanged(storageKey(mcpSessionId));
  }

  async consumeOnce(key: string, ttlMs: number): Promise<boolean> {
    const now = this.now();
    return this.run(() => this.q.claimOnce.run(storageKey(key), now + ttlMs, now).changes === 1);
  }

  async acquireLock(name: string, ttlMs: number): Promise<string | undefined> {
    const token = randomBytes(16).toString('base64url');
    const now = this.now();
    const taken = this.run(() => this.q.acquireLock.run(storageKey(name), token, now + ttlMs, now).changes === 1);
    return taken ? token : undefined;
  }

  async releaseLock(name: string, token: string): Promise<void> {
    this.run(() => this.q.releaseLock.run(storageKey(name), token));
  }

  async extendLock(name: string, token: string, ttlMs: number): Promise<boolean> {
    const now = this.now();
    return this.run(() => this.q.extendLock.run(now + ttlMs, storageKey(name), token, now).changes === 1);
  }

  async getRegisteredClient(issuer: string): Promise<Record<string, unknown> | undefined> {
    const key = storageKey(issuer);
    return this.run(() => {
      const row = this.q.getClient.get(key) as { sealed: string } | undefined;
      if (!row) return undefined;
      const opened = this.sealer.open<Record<string, unknown>>(row.sealed, clientAad(issuer));
      if (opened?.stale) this.q.upsertClient.run(key, issuer, this.sealer.seal(opened.value, clientAad(issuer)));
      return opened?.value;
    });
  }

  async putRegisteredClient(issuer: string, client: Record<string, unknown>): Promise<void> {
    this.run(() => this.q.upsertClient.run(storageKey(issuer), issuer, this.sealer.seal(client, clientAad(issuer))));
  }

  async putNote(key: string, value: Record<string, unknown>, ttlMs: number): Promise<void> {
    const hashed = storageKey(key);
    this.run(() => this.q.upsertNote.run(hashed, this.sealer.seal(value, noteAad(hashed)), this.now() + ttlMs));
  }

  async getNote(key: string): Promise<Record<string, unknown> | undefined> {
    const hashed = storageKey(key);
    return this.run(() => {
      const row = this.q.getNote.get(hashed, this.now()) as { sealed: string } | undefined;
      return row ? this.sealer.open<Record<string, unknown>>(row.sealed, noteAad(hashed))?.value : undefined;
    });
  }

  async purgeExpired(): Promise<number> {
    const now = this.now();
    return this.run(
      this.db.transaction(() => {
        this.q.purgeOnce.run(now);
        this.q.purgeLocks.run(now);
        this.q.purgeNotes.run(now);
        return this.q.purgeSessions.run(now, now).changes;
      }),
    );
  }

  async reencryptAll(): Promise<ReencryptReport> {
    const report: ReencryptReport = { reencrypted: 0, unreadable: 0 };
    const count = (sealed: string, aad: string, write: (resealed: string) => void) => {
      const opened = this.sealer.open<unknown>(sealed, aad);
      if (!opened) report.unreadable++;
      else if (opened.stale) {
        write(this.sealer.seal(opened.value, aad));
        report.reencrypted++;
      }
    };
    this.run(
      this.db.transaction(() => {
        for (const row of this.db.prepare('SELECT session_key, server, generation, sealed FROM connections').all() as Array<
          ConnectionRow & { session_key: string }
        >) {
          if (!this.openConnection(row.session_key, row, report)) report.unreadable++;
        }
        for (const row of this.db.prepare('SELECT key, sealed FROM mcp_sessions').all() as Array<{ key: string; sealed: string }>) {
          count(row.sealed, mcpOwnerAad(row.key), (s) => this.q.resealMcp.run(s, row.key, row.sealed));
        }
        for (const row of this.db.prepare('SELECT key, issuer, sealed FROM clients').all() as Array<{
          key: string;
          issuer: string;
          sealed: string;
        }>) {
          count(row.sealed, clientAad(row.issuer), (s) => this.q.upsertClient.run(row.key, row.issuer, s));
        }
      }),
    );
    return report;
  }

  /** Reads a table of the file: a missing, closed or unreadable database throws. */
  async ping(): Promise<void> {
    if (!this.db.open) throw new StoreUnavailable('token store closed');
    this.run(() => this.q.ping.get());
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  private liveSession(key: string): SessionRow | undefined {
    const row = this.q.getSession.get(key) as SessionRow | undefined;
    return row && this.isLive(key, row) ? row : undefined;
  }

  /** False for a session past its idle or absolute end, which is deleted on the spot. */
  private isLive(key: string, row: SessionRow): boolean {
    if (Math.min(row.expires_at, row.idle_expires_at) > this.now()) return true;
    this.q.deleteSession.run(key);
    return false;
  }

  /**
   * Opens a connection row, writing it back under the newest key (and format) when it was under an
   * older one. The ciphertext must be for the row's generation, the one compare-and-set uses.
   */
  private openConnection(key: string, row: ConnectionRow, report?: ReencryptReport): TokenRecord | undefined {
    const aad = connectionAad(key, row.server);
    const opened = this.sealer.open<TokenRecord>(row.sealed, aad, row.generation);
    if (!opened) return undefined;
    const record = { ...opened.value, generation: row.generation };
    if (opened.stale) {
      // Only if nobody wrote meanwhile: an unchanged ciphertext means an unchanged generation.
      const written = this.q.resealConnection.run(this.sealer.seal(record, aad, row.generation), key, row.server, row.sealed);
      if (report && written.changes === 1) report.reencrypted++;
    }
    return record;
  }

  /** SQLite failures (busy beyond the timeout, disk full, I/O) are an unavailable store: 503, not 500. */
  private run<T>(fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      if (error instanceof Database.SqliteError) throw new StoreUnavailable('token store failed', { cause: error });
      throw error;
    }
  }
}

function prepare(db: SqliteDatabase) {
  const sessionLive = 'EXISTS (SELECT 1 FROM sessions WHERE key = ? AND expires_at > ? AND idle_expires_at > ?)';
  return {
    insertSession: db.prepare('INSERT INTO sessions (key, created_at, expires_at, idle_expires_at) VALUES (?, ?, ?, ?)'),
    getSession: db.prepare('SELECT created_at, expires_at, idle_expires_at FROM sessions WHERE key = ?'),
    // Never past the absolute end, never for an ended session.
    touchSession: db.prepare('UPDATE sessions SET idle_expires_at = min(?, expires_at) WHERE key = ? AND idle_expires_at > ?'),
    deleteSession: db.prepare('DELETE FROM sessions WHERE key = ?'),
    listSessions: db.prepare('SELECT key, created_at, expires_at, idle_expires_at FROM sessions WHERE expires_at > ? AND idle_expires_at > ?'),
    getConnection: db.prepare('SELECT server, generation, sealed FROM connections WHERE session_key = ? AND server = ?'),
    getSessionWithConnection: db.prepare(
      `SELECT s.created_at, s.expires_at, s.idle_expires_at, c.server, c.generation, c.sealed
       FROM sessions s LEFT JOIN connections c ON c.session_key = s.key AND c.server = ? WHERE s.key = ?`,
    ),
    listConnections: db.prepare('SELECT server, generation, sealed FROM connections WHERE session_key = ?'),
    upsertConnection: db.prepare(
      `INSERT INTO connections (session_key, server, generation, sealed) VALUES (?, ?, ?, ?)
       ON CONFLICT (session_key, server) DO UPDATE SET generation = excluded.generation, sealed = excluded.sealed`,
    ),
    replaceConnection: db.prepare(
      `UPDATE connections SET generation = ?, sealed = ?
       WHERE session_key = ? AND server = ? AND generation = ? AND ${sessionLive}`,
    ),
    resealConnection: db.prepare('UPDATE connections SET sealed = ? WHERE session_key = ? AND server = ? AND sealed = ?'),
    deleteConnection: db.prepare('DELETE FROM connections WHERE session_key = ? AND server = ?'),
    deleteConnectionAt: db.prepare('DELETE FROM connections WHERE session_key = ? AND server = ? AND generation = ?'),
    // Only while the fence's lock is held with its token (and, given one, at that generation).
    deleteConnectionFenced: db.prepare(
      `DELETE FROM connections WHERE session_key = ? AND server = ? AND (? IS NULL OR generation = ?)
       AND EXISTS (SELECT 1 FROM locks WHERE name = ? AND token = ? AND until > ?)`,
    ),
    upsertMcp: db.prepare(
      `INSERT INTO mcp_sessions (key, session_key, sealed) VALUES (?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET session_key = excluded.session_key, sealed = excluded.sealed`,
    ),
    getMcp: db.prepare('SELECT session_key, sealed FROM mcp_sessions WHERE key = ?'),
    resealMcp: db.prepare('UPDATE mcp_sessions SET sealed = ? WHERE key = ? AND sealed = ?'),
    deleteMcp: db.prepare('DELETE FROM mcp_sessions WHERE key = ?'),
    // Inserted, or taken over once the previous marker lapsed: one row changed means "first time".
    claimOnce: db.prepare(
      `INSERT INTO once_markers (key, until) VALUES (?, ?)
       ON CONFLICT (key) DO UPDATE SET until = excluded.until WHERE once_markers.until <= ?`,
    ),
    acquireLock: db.prepare(
      `INSERT INTO locks (name, token, until) VALUES (?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET token = excluded.token, until = excluded.until WHERE locks.until <= ?`,
    ),
    releaseLock: db.prepare('DELETE FROM locks WHERE name = ? AND token = ?'),
    extendLock: db.prepare('UPDATE locks SET until = ? WHERE name = ? AND token = ? AND until > ?'),
    lockHeld: db.prepare('SELECT 1 FROM locks WHERE name = ? AND until > ?'),
    getClient: db.prepare('SELECT sealed FROM clients WHERE key = ?'),
    upsertClient: db.prepare(
      `INSERT INTO clients (key, issuer, sealed) VALUES (?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET issuer = excluded.issuer, sealed = excluded.sealed`,
    ),
    purgeSessions: db.prepare('DELETE FROM sessions WHERE expires_at <= ? OR idle_expires_at <= ?'),
    purgeOnce: db.prepare('DELETE FROM once_markers WHERE until <= ?'),
    purgeLocks: db.prepare('DELETE FROM locks WHERE until <= ?'),
    ping: db.prepare('SELECT 1 FROM sessions LIMIT 1'),
    upsertNote: db.prepare(
      `INSERT INTO notes (key, sealed, until) VALUES (?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET sealed = excluded.sealed, until = excluded.until`,
    ),
    getNote: db.prepare('SELECT sealed FROM notes WHERE key = ? AND until > ?'),
    purgeNotes: db.prepare('DELETE FROM notes WHERE until <= ?'),
  };
}
