import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from '../log.js';
import type { RecordCipher } from './cipher.js';
import { VersionedChanges } from './changes.js';
import { StoreUnavailable } from './errors.js';
import { clientAad, connectionAad, mcpOwnerAad, noteAad, storageKey } from './keys.js';
import { refreshLockName } from './locks.js';
import { RedisInvalidation, type RedisInvalidationOptions } from './redis-invalidation.js';
import { Sealer } from './sealed.js';
import type { LockFence, McpSessionOwner, ReencryptReport, SessionRecord, SessionWithConnection, StoredSession, TokenRecord, TokenStore } from './types.js';

export interface RedisStoreOptions {
  /** redis:// or rediss:// URL (credentials and database number as usual). */
  url: string;
  cipher: RecordCipher;
  log?: Logger;
  /** Prepended to every key, so that several apps may share one Redis. */
  prefix?: string;
  /** Longest wait for one Redis command before the request is answered 503. */
  commandTimeoutMs?: number;
  now?: () => number;
  /**
   * How other instances' changes reach this process's session cache: pushed by Redis (CLIENT TRACKING on
   * a connection of its own, opened when a cache listens; see redis-invalidation.ts), with these
   * settings; `false`: not at all, cached entries are then read again after the cache's bound (1 s).
   */
  invalidation?: false | Pick<RedisInvalidationOptions, 'heartbeatMs' | 'retryDelayMs'>;
}

/**
 * Lua scripts: each runs atomically in Redis, which is what makes compare-and-set, owner-only lock
 * release and "never resurrect a deleted session" hold across BFF instances.
 *
 * Layout (`p` = prefix, `h` = storageKey of an id):
 *   p s:h        hash  created, expires, idle, g:<server> generation, c:<server> sealed record,
 *                      m:<mcp h> 1 (bound MCP sessions). Expires (PEXPIREAT) when the session ends.
 *   p m:h        hash  s = session h, o = sealed owner. Expires with the session's absolute end.
 *   p once:h, p lock:h, p client:h   strings
 *   p note:h     string  sealed note. Expires (PX) with the note.
 */
const SCRIPTS = {
  // KEYS[1] session; ARGV: idleExpiresAt. Never past the absolute end, never for an ended session.
  bffTouch: {
    keys: 1,
    lua: `
if not redis.call('HGET', KEYS[1], 'idle') then return 0 end
local expires = redis.call('HGET', KEYS[1], 'expires')
local nextIdle = ARGV[1]
if tonumber(nextIdle) > tonumber(expires) then nextIdle = expires end
redis.call('HSET', KEYS[1], 'idle', nextIdle)
redis.call('PEXPIREAT', KEYS[1], nextIdle)
return 1`,
  },
  // KEYS[1] session; ARGV: prefix for MCP keys. Deletes the session and the MCP sessions bound to it.
  bffDeleteSession: {
    keys: 1,
    lua: `
local fields = redis.call('HKEYS', KEYS[1])
for _, f in ipairs(fields) do
  if string.sub(f, 1, 2) == 'm:' then redis.call('DEL', ARGV[1] .. string.sub(f, 3)) end
end
return redis.call('DEL', KEYS[1])`,
  },
  // KEYS[1] session; ARGV: server, generation, sealed (encrypted for that generation). Writes only when
  // the generation is above the stored one and answers 0; otherwise answers the generation to seal for
  // instead (stored + 1, so never 0); -1 when the session is gone.
  bffPutConnection: {
    keys: 1,
    lua: `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local prev = redis.call('HGET', KEYS[1], 'g:' .. ARGV[1])
if prev and tonumber(prev) >= tonumber(ARGV[2]) then return tonumber(prev) + 1 end
redis.call('HSET', KEYS[1], 'g:' .. ARGV[1], ARGV[2], 'c:' .. ARGV[1], ARGV[3])
return 0`,
  },
  // KEYS[1] session; ARGV: server, expected generation, new generation, sealed.
  bffReplaceConnection: {
    keys: 1,
    lua: `
if redis.call('HGET', KEYS[1], 'g:' .. ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'g:' .. ARGV[1], ARGV[3], 'c:' .. ARGV[1], ARGV[4])
return 1`,
  },
  // KEYS[1] session; ARGV: server, expected generation or ''.
  bffDeleteConnection: {
    keys: 1,
    lua: `
local g = redis.call('HGET', KEYS[1], 'g:' .. ARGV[1])
if not g then return 0 end
if ARGV[2] ~= '' and g ~= ARGV[2] then return 0 end
return redis.call('HDEL', KEYS[1], 'g:' .. ARGV[1], 'c:' .. ARGV[1])`,
  },
  // KEYS[1] session, KEYS[2] lock; ARGV: server, expected generation or '', lock owner token. Deletes
  // only while the lock is held with that token: a refresher whose lock lapsed ends nothing.
  bffDeleteConnectionFenced: {
    keys: 2,
    lua: `
if redis.call('GET', KEYS[2]) ~= ARGV[3] then return 0 end
local g = redis.call('HGET', KEYS[1], 'g:' .. ARGV[1])
if not g then return 0 end
if ARGV[2] ~= '' and g ~= ARGV[2] then return 0 end
return redis.call('HDEL', KEYS[1], 'g:' .. ARGV[1], 'c:' .. ARGV[1])`,
  },
  // KEYS[1] previous session, KEYS[2] next session; ARGV: MCP key prefix, created, expires, idle, expire
  // at, n, then n × (server, generation, ciphertext now, ciphertext for the next session or '' when
  // unreadable, refresh lock key). 1 when moved; 0 (nothing changed) when a refresh lock is held; -1
  // when the previous session's connections are no longer exactly those (read again and retry).
  bffRotate: {
    keys: 2,
    lua: `
local n = tonumber(ARGV[6])
local fields = redis.call('HGETALL', KEYS[1])
local count = 0
for i = 1, #fields, 2 do
  if string.sub(fields[i], 1, 2) == 'c:' then count = count + 1 end
end
if count ~= n then return -1 end
for i = 0, n - 1 do
  local b = 7 + i * 5
  if redis.call('HGET', KEYS[1], 'g:' .. ARGV[b]) ~= ARGV[b + 1] or redis.call('HGET', KEYS[1], 'c:' .. ARGV[b]) ~= ARGV[b + 2] then return -1 end
  if redis.call('EXISTS', ARGV[b + 4]) == 1 then return 0 end
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'created', ARGV[2], 'expires', ARGV[3], 'idle', ARGV[4])
for i = 0, n - 1 do
  local b = 7 + i * 5
  if ARGV[b + 3] ~= '' then redis.call('HSET', KEYS[2], 'g:' .. ARGV[b], ARGV[b + 1], 'c:' .. ARGV[b], ARGV[b + 3]) end
end
redis.call('PEXPIREAT', KEYS[2], ARGV[5])
for i = 1, #fields, 2 do
  if string.sub(fields[i], 1, 2) == 'm:' then redis.call('DEL', ARGV[1] .. string.sub(fields[i], 3)) end
end
redis.call('DEL', KEYS[1])
return 1`,
  },
  // KEYS[1] hash; ARGV: field, old value, new value. Re-encryption that never overwrites a newer write.
  bffReseal: {
    keys: 1,
    lua: `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1`,
  },
  // KEYS[1] session, KEYS[2] MCP key; ARGV: MCP h, session h, sealed owner.
  bffBindMcp: {
    keys: 2,
    lua: `
local expires = redis.call('HGET', KEYS[1], 'expires')
if not expires then return 0 end
redis.call('HSET', KEYS[1], 'm:' .. ARGV[1], '1')
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 's', ARGV[2], 'o', ARGV[3])
redis.call('PEXPIREAT', KEYS[2], expires)
return 1`,
  },
  // KEYS[1] MCP key; ARGV: session key prefix, MCP h.
  bffUnbindMcp: {
    keys: 1,
    lua: `
local s = redis.call('HGET', KEYS[1], 's')
if s then redis.call('HDEL', ARGV[1] .. s, 'm:' .. ARGV[2]) end
return redis.call('DEL', KEYS[1])`,
  },
  // KEYS[1] lock; ARGV: owner token, ttl ms. Only the owner extends.
  bffExtend: {
    keys: 1,
    lua: `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`,
  },
  // KEYS[1] lock; ARGV: owner token. Only the owner releases.
  bffRelease: {
    keys: 1,
    lua: `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
  },
} as const;
type ScriptName = keyof typeof SCRIPTS;

/** Reads of a session being rotated before giving up on one that others keep writing (503). */
const ROTATE_ATTEMPTS = 5;

/** Writes of one login's tokens before giving up on a connection that others keep writing (503). */
const PUT_ATTEMPTS = 5;

/**
 * For several BFF instances: every instance sees every session, and refresh locks, compare-and-set
 * and single-use markers hold across all of them. Ended sessions expire in Redis by themselves.
 *
 * While Redis is unreachable every operation throws StoreUnavailable at once (no offline queue, a
 * command timeout), so requests are answered 503 instead of hanging, and nothing falls back to
 * another store; the client keeps reconnecting and service resumes when Redis is back. Run Redis with
 * persistence (appendonly) if its restart must not end every session.
 */
export class RedisTokenStore implements TokenStore {
  private readonly redis: Redis;
  private readonly sealer: Sealer;
  private readonly prefix: string;
  private readonly now: () => number;
  private readonly log: Logger | undefined;
  private down = false;
  /** This process's writes, told at once, and every instance's, pushed by Redis. */
  readonly changes: RedisInvalidation | VersionedChanges;

  constructor(options: RedisStoreOptions) {
    this.sealer = new Sealer(options.cipher, options.log);
    this.prefix = options.prefix ?? 'mcp-bff:';
    this.now = options.now ?? Date.now;
    this.log = options.log;
    this.changes =
      options.invalidation === false
        ? new VersionedChanges(() => undefined)
        : new RedisInvalidation({ url: options.url, prefix: this.prefix, log: options.log, ...options.invalidation });
    const timeout = options.commandTimeoutMs ?? 2_000;
    this.redis = new Redis(options.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: timeout,
      commandTimeout: timeout,
      // Keep reconnecting, at most every 1 s: service resumes shortly after Redis does.
      retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 1_000),
      enableAutoPipelining: true,
    });
    for (const [name, script] of Object.entries(SCRIPTS)) {
      this.redis.defineCommand(name, { numberOfKeys: script.keys, lua: script.lua });
    }
    // Logged once per outage; the connection URL (which may hold a password) is never logged.
    this.redis.on('error', (error: Error & { code?: string }) => {
      if (this.down) return;
      this.down = true;
      this.log?.error({ event: 'store_unavailable', store: 'redis', err: { name: error.name, errorCode: error.code } });
    });
    this.redis.on('ready', () => {
      if (this.down) this.log?.info({ event: 'store_available', store: 'redis' });
      this.down = false;
    });
  }

  /** Connects, waiting at most `timeoutMs`; on failure keeps trying in the background. */
  async connect(timeoutMs = 5_000): Promise<boolean> {
    const ready = new Promise<boolean>((resolve) => {
      if (this.redis.status === 'ready') return resolve(true);
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.redis.once('ready', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    if (this.redis.status === 'wait') this.redis.connect().catch(() => undefined);
    return ready;
  }

  async createSession(session: SessionRecord): Promise<void> {
    const key = this.sessionKey(storageKey(session.id));
    await this.op(() =>
      this.redis
        .multi()
        .del(key)
        .hset(key, {
          created: String(session.createdAt),
          expires: String(session.expiresAt),
          idle: String(session.idleExpiresAt),
        })
        .pexpireat(key, Math.min(session.expiresAt, session.idleExpiresAt))
        .exec()
        .then(checkExec),
    );
    this.changes.listeners.changed(storageKey(session.id));
  }

  async rotateSession(previousId: string | undefined, next: SessionRecord): Promise<boolean> {
    if (previousId === undefined) {
      await this.createSession(next);
      return true;
    }
    const previousH = storageKey(previousId);
    const nextH = storageKey(next.id);
    // The records are sealed again here for where they go, then moved by one script, which first checks
    // that they are still exactly what was read (or reads them again).
    for (let attempt = 0; attempt < ROTATE_ATTEMPTS; attempt++) {
      const fields = await this.op(() => this.redis.hgetall(this.sessionKey(previousH)));
      if (!this.liveSession(previousId, fields.created, fields.expires, fields.idle)) {
        await this.createSession(next);
        await this.deleteSession(previousId);
        return true;
      }
      const moves: string[] = [];
      let n = 0;
      for (const [field, sealed] of Object.entries(fields)) {
        if (!field.startsWith('c:')) continue;
        const server = field.slice(2);
        const generation = fields[`g:${server}`] ?? '';
        const opened = this.sealer.open<TokenRecord>(sealed, connectionAad(previousH, server), Number(generation));
        const record = opened && { ...opened.value, generation: Number(generation) };
        const resealed = record ? this.sealer.seal(record, connectionAad(nextH, server), record.generation) : '';
        moves.push(server, generation, sealed, resealed, this.lockKey(refreshLockName(previousId, server)));
        n++;
      }
      const expireAt = String(Math.min(next.expiresAt, next.idleExpiresAt));
      const result = Number(
        await this.script(
          'bffRotate',
          [this.sessionKey(previousH), this.sessionKey(nextH)],
          [`${this.prefix}m:`, String(next.createdAt), String(next.expiresAt), String(next.idleExpiresAt), expireAt, String(n), ...moves],
        ),
      );
      if (result === 1) {
        this.changes.listeners.changed(previousH);
        this.changes.listeners.changed(nextH);
      }
      if (result !== -1) return result === 1;
    }
    throw new StoreUnavailable('token store busy: the session kept changing while it was being rotated');
  }

  async getSession(id: string): Promise<SessionRecord | undefined> {
    const [created, expires, idle] = await this.op(() =>
      this.redis.hmget(this.sessionKey(storageKey(id)), 'created', 'expires', 'idle'),
    );
    return this.liveSession(id, created, expires, idle);
  }

  async getSessionWithConnection(id: string, server: string): Promise<SessionWithConnection | undefined> {
    const h = storageKey(id);
    // One round trip: the session's fields and the connection's live in the same hash.
    const [created, expires, idle, generation, sealed] = await this.op(() =>
      this.redis.hmget(this.sessionKey(h), 'created', 'expires', 'idle', `g:${server}`, `c:${server}`),
    );
    const session = this.liveSession(id, created, expires, idle);
    if (!session) return undefined;
    const record = generation != null && sealed != null ? await this.openConnection(h, server, Number(generation), sealed) : undefined;
    return { session, record };
  }

  private liveSession(id: string, created?: string | null, expires?: string | null, idle?: string | null): SessionRecord | undefined {
    if (created == null || expires == null || idle == null) return undefined;
    const session = { id, createdAt: Number(created), expiresAt: Number(expires), idleExpiresAt: Number(idle) };
    // Redis expires the key on its own clock; this covers a small skew between the two clocks.
    return Math.min(session.expiresAt, session.idleExpiresAt) > this.now() ? session : undefined;
  }

  async touchSession(id: string, idleExpiresAt: number): Promise<void> {
    await this.script('bffTouch', [this.sessionKey(storageKey(id))], [String(idleExpiresAt)]);
    this.changes.listeners.changed(storageKey(id));
  }

  async deleteSession(id: string): Promise<void> {
    await this.script('bffDeleteSession', [this.sessionKey(storageKey(id))], [`${this.prefix}m:`]);
    this.changes.listeners.changed(storageKey(id));
  }

  async deleteSessionByKey(key: string): Promise<boolean> {
    const deleted = (await this.script('bffDeleteSession', [this.sessionKey(key)], [`${this.prefix}m:`])) === 1;
    this.changes.listeners.changed(key);
    return deleted;
  }

  async *listSessions(): AsyncIterable<StoredSession> {
    const prefix = `${this.prefix}s:`;
    for await (const redisKey of this.scan(`${prefix}*`)) {
      const h = redisKey.slice(prefix.length);
      const fields = await this.op(() => this.redis.hgetall(redisKey));
      const session = this.liveSession(h, fields.created, fields.expires, fields.idle);
      if (!session) continue;
      const connections = await this.connectionsOf(h, fields);
      yield { key: h, createdAt: session.createdAt, expiresAt: session.expiresAt, idleExpiresAt: session.idleExpiresAt, connections };
    }
  }

  async getConnection(sessionId: string, server: string): Promise<TokenRecord | undefined> {
    return (await this.getSessionWithConnection(sessionId, server))?.record;
  }

  async listConnections(sessionId: string): Promise<Map<string, TokenRecord>> {
    const h = storageKey(sessionId);
    const fields = await this.op(() => this.redis.hgetall(this.sessionKey(h)));
    return this.connectionsOf(h, fields);
  }

  /** The connections a session hash's fields hold (`c:<server>` sealed, `g:<server>` generation) that open. */
  private async connectionsOf(h: string, fields: Record<string, string>): Promise<Map<string, TokenRecord>> {
    const out = new Map<string, TokenRecord>();
    for (const [field, sealed] of Object.entries(fields)) {
      if (!field.startsWith('c:')) continue;
      const server = field.slice(2);
      const generation = fields[`g:${server}`];
      if (generation === undefined) continue;
      const record = await this.openConnection(h, server, Number(generation), sealed);
      if (record) out.set(server, record);
    }
    return out;
  }

  async putConnection(sessionId: string, server: string, record: TokenRecord): Promise<void> {
    const h = storageKey(sessionId);
    // The ciphertext is bound to its generation, which must be above the stored one: sealed here, checked
    // and written in Redis, sealed again for a higher one if another write got there first.
    let generation = record.generation;
    for (let attempt = 0; attempt < PUT_ATTEMPTS; attempt++) {
      const sealed = this.sealer.seal({ ...record, generation }, connectionAad(h, server), generation);
      const result = Number(await this.script('bffPutConnection', [this.sessionKey(h)], [server, String(generation), sealed]));
      if (result === -1) throw new Error('no such session');
      if (result === 0) {
        this.changes.listeners.changed(h, server);
        return;
      }
      generation = result;
    }
    throw new StoreUnavailable('token store busy: the connection kept being written by others');
  }

  async replaceConnection(sessionId: string, server: string, expectedGeneration: number, record: TokenRecord): Promise<boolean> {
    const h = storageKey(sessionId);
    const generation = expectedGeneration + 1;
    const sealed = this.sealer.seal({ ...record, generation }, connectionAad(h, server), generation);
    const result = await this.script(
      'bffReplaceConnection',
      [this.sessionKey(h)],
      [server, String(expectedGeneration), String(generation), sealed],
    );
    if (result === 1) this.changes.listeners.changed(h, server);
    return result === 1;
  }

  async deleteConnection(sessionId: string, server: string, expectedGeneration?: number, fence?: LockFence): Promise<boolean> {
    const h = storageKey(sessionId);
    const key = this.sessionKey(h);
    const generation = expectedGeneration === undefined ? '' : String(expectedGeneration);
    const deleted = fence
      ? await this.script('bffDeleteConnectionFenced', [key, this.lockKey(fence.name)], [server, generation, fence.token])
      : await this.script('bffDeleteConnection', [key], [server, generation]);
    if (Number(deleted) > 0) this.changes.listeners.changed(h, server);
    return Number(deleted) > 0;
  }

  async bindMcpSession(mcpSessionId: string, owner: McpSessionOwner): Promise<void> {
    const sessionH = storageKey(owner.sessionId);
    const mcpH = storageKey(mcpSessionId);
    const sealed = this.sealer.seal(owner, mcpOwnerAad(mcpH));
    await this.script('bffBindMcp', [this.sessionKey(sessionH), this.mcpKey(mcpH)], [mcpH, sessionH, sealed]);
    this.changes.listeners.mcpChanged(mcpH);
  }

  async getMcpSessionOwner(mcpSessionId: string): Promise<McpSessionOwner | undefined> {
    const mcpH = storageKey(mcpSessionId);
    const [sessionH, sealed] = await this.op(() => this.redis.hmget(this.mcpKey(mcpH), 's', 'o'));
    if (sessionH == null || sealed == null) return undefined;
    if (!(await this.op(() => this.redis.exists(this.sessionKey(sessionH))))) return undefined;
    const opened = this.sealer.open<McpSessionOwner>(sealed, mcpOwnerAad(mcpH));
    if (opened?.stale) {
      await this.script('bffReseal', [this.mcpKey(mcpH)], ['o', sealed, this.sealer.seal(opened.value, mcpOwnerAad(mcpH))]);
    }
    return opened?.value;
  }

  async unbindMcpSession(mcpSessionId: string): Promise<void> {
    const mcpH = storageKey(mcpSessionId);
    await this.script('bffUnbindMcp', [this.mcpKey(mcpH)], [`${this.prefix}s:`, mcpH]);
    this.changes.listeners.mcpChanged(mcpH);
  }

  async consumeOnce(key: string, ttlMs: number): Promise<boolean> {
    const result = await this.op(() => this.redis.set(`${this.prefix}once:${storageKey(key)}`, '1', 'PX', ttlMs, 'NX'));
    return result === 'OK';
  }

  async acquireLock(name: string, ttlMs: number): Promise<string | undefined> {
    const token = randomBytes(16).toString('base64url');
    const result = await this.op(() => this.redis.set(this.lockKey(name), token, 'PX', ttlMs, 'NX'));
    return result === 'OK' ? token : undefined;
  }

  async releaseLock(name: string, token: string): Promise<void> {
    await this.script('bffRelease', [this.lockKey(name)], [token]);
  }

  async extendLock(name: string, token: string, ttlMs: number): Promise<boolean> {
    return Number(await this.script('bffExtend', [this.lockKey(name)], [token, String(ttlMs)])) === 1;
  }

  async getRegisteredClient(issuer: string): Promise<Record<string, unknown> | undefined> {
    const key = this.clientKey(issuer);
    const sealed = await this.op(() => this.redis.hget(key, 'o'));
    if (sealed == null) return undefined;
    const opened = this.sealer.open<Record<string, unknown>>(sealed, clientAad(issuer));
    if (opened?.stale) await this.script('bffReseal', [key], ['o', sealed, this.sealer.seal(opened.value, clientAad(issuer))]);
    return opened?.value;
  }

  async putRegisteredClient(issuer: string, client: Record<string, unknown>): Promise<void> {
    const key = this.clientKey(issuer);
    await this.op(() => this.redis.hset(key, { issuer, o: this.sealer.seal(client, clientAad(issuer)) }));
  }

  async putNote(key: string, value: Record<string, unknown>, ttlMs: number): Promise<void> {
    const hashed = storageKey(key);
    await this.op(() => this.redis.set(`${this.prefix}note:${hashed}`, this.sealer.seal(value, noteAad(hashed)), 'PX', ttlMs));
  }

  async getNote(key: string): Promise<Record<string, unknown> | undefined> {
    const hashed = storageKey(key);
    const sealed = await this.op(() => this.redis.get(`${this.prefix}note:${hashed}`));
    return sealed == null ? undefined : this.sealer.open<Record<string, unknown>>(sealed, noteAad(hashed))?.value;
  }

  /** Redis expires ended sessions, markers, locks and notes by itself. */
  async purgeExpired(): Promise<number> {
    return 0;
  }

  async reencryptAll(): Promise<ReencryptReport> {
    const report: ReencryptReport = { reencrypted: 0, unreadable: 0 };
    const reseal = async (key: string, field: string, sealed: string, aad: string) => {
      const opened = this.sealer.open<unknown>(sealed, aad);
      if (!opened) report.unreadable++;
      else if (opened.stale) {
        if ((await this.script('bffReseal', [key], [field, sealed, this.sealer.seal(opened.value, aad)])) === 1) {
          report.reencrypted++;
        }
      }
    };
    for await (const key of this.scan(`${this.prefix}s:*`)) {
      const h = key.slice(`${this.prefix}s:`.length);
      const fields = await this.op(() => this.redis.hgetall(key));
      for (const [field, sealed] of Object.entries(fields)) {
        if (!field.startsWith('c:')) continue;
        const server = field.slice(2);
        const generation = fields[`g:${server}`];
        if (generation === undefined || !(await this.openConnection(h, server, Number(generation), sealed, report))) report.unreadable++;
      }
    }
    for await (const key of this.scan(`${this.prefix}m:*`)) {
      const sealed = await this.op(() => this.redis.hget(key, 'o'));
      if (sealed != null) await reseal(key, 'o', sealed, mcpOwnerAad(key.slice(`${this.prefix}m:`.length)));
    }
    for await (const key of this.scan(`${this.prefix}client:*`)) {
      const [issuer, sealed] = await this.op(() => this.redis.hmget(key, 'issuer', 'o'));
      if (issuer != null && sealed != null) await reseal(key, 'o', sealed, clientAad(issuer));
    }
    return report;
  }

  /** PING; fails at once while the connection is down or being re-established. */
  async ping(): Promise<void> {
    if (this.redis.status !== 'ready' && this.redis.status !== 'wait') throw new StoreUnavailable('token store unavailable');
    await this.op(() => this.redis.ping());
  }

  async close(): Promise<void> {
    if (this.changes instanceof RedisInvalidation) this.changes.close();
    this.redis.disconnect(false);
  }

  private sessionKey(h: string): string {
    return `${this.prefix}s:${h}`;
  }
  private mcpKey(h: string): string {
    return `${this.prefix}m:${h}`;
  }
  private lockKey(name: string): string {
    return `${this.prefix}lock:${storageKey(name)}`;
  }
  private clientKey(issuer: string): string {
    return `${this.prefix}client:${storageKey(issuer)}`;
  }

  private async *scan(pattern: string): AsyncGenerator<string> {
    let cursor = '0';
    do {
      const [next, keys] = await this.op(() => this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500));
      cursor = next;
      yield* keys;
    } while (cursor !== '0');
  }

  /**
   * Opens a connection, writing it back under the newest key (and format) when it was under an older
   * one. The ciphertext must be for the hash's generation field, the one compare-and-set uses.
   */
  private async openConnection(
    h: string,
    server: string,
    generation: number,
    sealed: string,
    report?: ReencryptReport,
  ): Promise<TokenRecord | undefined> {
    const aad = connectionAad(h, server);
    const opened = this.sealer.open<TokenRecord>(sealed, aad, generation);
    if (!opened) return undefined;
    // A v1 record written by putConnection may hold an older generation than the field: the field wins.
    const record = { ...opened.value, generation };
    if (opened.stale) {
      // Only if nobody wrote meanwhile: an unchanged ciphertext means an unchanged generation.
      const resealed = this.sealer.seal(record, aad, generation);
      if ((await this.script('bffReseal', [this.sessionKey(h)], [`c:${server}`, sealed, resealed])) === 1 && report) report.reencrypted++;
    }
    return record;
  }

  private script(name: ScriptName, keys: string[], args: string[]): Promise<unknown> {
    const command = (this.redis as unknown as Record<ScriptName, (...a: string[]) => Promise<unknown>>)[name];
    return this.op(() => command.call(this.redis, ...keys, ...args));
  }

  /** Every Redis failure (refused, reset, timed out, not ready, LOADING, READONLY) is an unavailable store. */
  private async op<T>(fn: () => Promise<T>): Promise<T> {
    // Never connected yet (no connect() call): connect first, or the command fails at once.
    if (this.redis.status === 'wait') await this.connect();
    try {
      return await fn();
    } catch (error) {
      throw new StoreUnavailable('token store unavailable', { cause: error });
    }
  }
}

function checkExec(results: Array<[Error | null, unknown]> | null): void {
  if (!results) throw new Error('transaction aborted');
  for (const [error] of results) if (error) throw error;
}
