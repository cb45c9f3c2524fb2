import type { ClientDetails, DiscoveryDetails, LoginStep } from '@mcp-bff/shared';
import type { StoredDpopKey } from '../oauth/dpop.js';
import type { StoreChanges } from './changes.js';

/** A browser session: only the random id travels in the (sealed) cookie. */
export interface SessionRecord {
  id: string;
  createdAt: number;
  /** Absolute end of the session, epoch ms: never moves. */
  expiresAt: number;
  /** End of the session if it stays unused, epoch ms: pushed forward while it is used (idle timeout). */
  idleExpiresAt: number;
}

/** When a session ends if nothing else happens: the earlier of its idle and absolute ends. */
export function sessionEndsAt(session: SessionRecord): number {
  return Math.min(session.expiresAt, session.idleExpiresAt);
}

/** What the BFF holds for one (session, MCP server) connection. Never leaves the BFF. */
export interface TokenRecord {
  accessToken: string;
  refreshToken: string | undefined;
  /** Scopes granted (from the token response, else those requested). */
  scopes: string[];
  /**
   * Scopes the authorization request asked for (offline_access aside), kept across refreshes: a step-up
   * asks for them again with the new ones (MCP 2026-07-28, SEP-2350). Absent in records stored before.
   */
  requestedScopes?: string[];
  /** Epoch ms when the access token was obtained. */
  issuedAt: number;
  /** Epoch ms when the access token expires; undefined when the AS did not say. */
  expiresAt: number | undefined;
  /** The AS that issued the tokens, and the client they were issued to: refresh and revoke go back there. */
  issuer: string;
  clientId: string;
  /** The `resource` the tokens are bound to. */
  resource: string;
  /**
   * Incremented on every write, so a writer can tell whether it raced another: refreshes are written
   * with compare-and-set on it (`replaceConnection`).
   */
  generation: number;
  /** Step-up authorizations made for one need (a set of scopes the server asked for), to stop loops. */
  stepUp?: { scope: string; attempts: number };
  /**
   * The OpenID Connect ID token, when the login asked for `openid` and the AS issued one (the newest, a
   * refresh may bring another). Used only as `id_token_hint` at that AS's end_session_endpoint.
   */
  idToken?: string;
  /**
   * From the validated ID token of an `openid` login (kept across refreshes that bring none): who the
   * AS says logged in (`sub`) and its login session at the AS (`sid`, when it says). An OpenID Connect
   * Back-Channel Logout names one of them; an administrator lists sessions by them (admin.ts).
   */
  subject?: string;
  authSessionId?: string;
  /**
   * What the login that made this connection found and did, for the connection details view: never a
   * secret (URLs, the client's source and id, steps). Kept across refreshes; absent in records stored before.
   */
  login?: { at: number; steps: LoginStep[]; discovery: DiscoveryDetails | null; client: ClientDetails | null };
  /** When these tokens came from a refresh: when it was. */
  refreshedAt?: number;
  /**
   * 'DPoP' when the access token is DPoP-bound (token_type DPoP, RFC 9449): it is sent as
   * `Authorization: DPoP …` with a proof signed by `dpop`. Absent: a bearer token.
   */
  tokenType?: 'DPoP';
  /**
   * The connection's DPoP key pair (private JWK), when its tokens were requested with DPoP: every
   * proof for them is signed with it, refreshes included. Only ever stored inside this encrypted record.
   */
  dpop?: StoredDpopKey;
}

/** One stored session as an administrator, or a back-channel logout, sees it: a pass over the store. */
export interface StoredSession {
  /**
   * Where the session is stored: the SHA-256 of its id (`storageKey`). The id itself, which the cookie
   * carries, is never stored, so it cannot be listed.
   */
  key: string;
  createdAt: number;
  expiresAt: number;
  idleExpiresAt: number;
  /** The connections that open (an undecryptable one is left out, as everywhere). */
  connections: Map<string, TokenRecord>;
}

export interface SessionWithConnection {
  session: SessionRecord;
  record: TokenRecord | undefined;
}

/** A lock and the token its holder got: a write fenced with it happens only while that holder still holds it. */
export interface LockFence {
  name: string;
  token: string;
}

export interface McpSessionOwner {
  sessionId: string;
  server: string;
}

/** What a pass over every stored record found (`pnpm rekey`). */
export interface ReencryptReport {
  /** Records that were under an older key and now are under the newest one. */
  reencrypted: number;
  /** Records no configured key opens (their key was removed): they are left alone and read as absent. */
  unreadable: number;
}

/**
 * Server-side state of the BFF. Implementations keep token records (and anything else that would let a
 * dump be replayed: registered client secrets, session ids, MCP session ids) encrypted or hashed at
 * rest. Everything is async so that shared stores (Redis, SQL) fit behind the same interface.
 *
 * A store that cannot be reached throws `StoreUnavailable` (store/errors.ts); it never answers "absent"
 * for "unknown", so an outage cannot log anybody out.
 */
export interface TokenStore {
  /**
   * What tells a per-process cache (store/session-cache.ts) that a session or a connection changed, by
   * this process's writes at once and by other processes' as the store can. A store without it is not
   * cached.
   */
  readonly changes?: StoreChanges;
  createSession(session: SessionRecord): Promise<void>;
  /** The live session, or undefined when there is none or it has ended (idle or absolute). */
  getSession(id: string): Promise<SessionRecord | undefined>;
  /**
   * Sets the idle end of a live session (capped at its absolute end). Usually forward; backward when
   * the idle timeout was lowered, so that a new setting applies to existing sessions at their next use.
   */
  touchSession(id: string, idleExpiresAt: number): Promise<void>;
  /** Deletes the session with its connections and MCP session bindings. */
  deleteSession(id: string): Promise<void>;
  /** Like deleteSession, for the session stored under `key` (StoredSession.key); true when there was one. */
  deleteSessionByKey(key: string): Promise<boolean>;
  /**
   * Every live session with its connections, in no order: a pass over the whole store (SCAN on Redis),
   * for administration and back-channel logout, never for a request's own session.
   */
  listSessions(): AsyncIterable<StoredSession>;
  /**
   * A login's session rotation, in one step: creates `next`, moves every connection of the live session
   * `previousId` into it (same records, same generations) and deletes `previousId` with its MCP session
   * bindings, so that no refresh can write to the old session in between and be lost with it. Unless a
   * refresh lock (`refreshLockName`) of one of those connections is held: then nothing changes and the
   * answer is false (wait for that refresh to finish, and try again). Without a live `previousId`, just
   * creates `next`.
   */
  rotateSession(previousId: string | undefined, next: SessionRecord): Promise<boolean>;

  /** An undecryptable record (its key was removed) reads as absent. */
  getConnection(sessionId: string, server: string): Promise<TokenRecord | undefined>;
  /**
   * The live session and its connection to `server` (absent like getConnection's), read together in
   * one statement or round trip: what every proxied MCP call needs. Undefined when the session is not live.
   */
  getSessionWithConnection(id: string, server: string): Promise<SessionWithConnection | undefined>;
  /**
   * What getSessionWithConnection would answer, when this store can tell without waiting (a cache that
   * has it, current by the same rules): a live session with its connection to `server`. Undefined
   * means "ask getSessionWithConnection", never "not live". Only stores that hold such answers in
   * memory have it.
   */
  peekSessionWithConnection?(id: string, server: string): SessionWithConnection | undefined;
  listConnections(sessionId: string): Promise<Map<string, TokenRecord>>;
  /**
   * Unconditional write (a login). The stored generation is the larger of `record.generation` and one
   * more than the record it replaces, so generations only grow. Throws when the session does not exist.
   */
  putConnection(sessionId: string, server: string, record: TokenRecord): Promise<void>;
  /**
   * Compare-and-set (a refresh): writes `record` with generation `expectedGeneration + 1` only if the
   * stored record still has `expectedGeneration` and the session is still alive. False otherwise.
   */
  replaceConnection(sessionId: string, server: string, expectedGeneration: number, record: TokenRecord): Promise<boolean>;
  /**
   * Deletes the connection; with `expectedGeneration`, only if it is still that generation; with
   * `fence`, only while that lock is still held with that token (a refresher whose lock lapsed must not
   * end a connection that another is refreshing). True when a record was deleted.
   */
  deleteConnection(sessionId: string, server: string, expectedGeneration?: number, fence?: LockFence): Promise<boolean>;

  bindMcpSession(mcpSessionId: string, owner: McpSessionOwner): Promise<void>;
  getMcpSessionOwner(mcpSessionId: string): Promise<McpSessionOwner | undefined>;
  unbindMcpSession(mcpSessionId: string): Promise<void>;

  /** True the first time `key` is seen within `ttlMs`; false afterwards (single-use markers). */
  consumeOnce(key: string, ttlMs: number): Promise<boolean>;

  /**
   * A lock shared by everything that uses this store (every BFF instance on a shared store): returns a
   * random owner token, or undefined when someone else holds `name`. It lapses after `ttlMs`.
   */
  acquireLock(name: string, ttlMs: number): Promise<string | undefined>;
  /** Releases `name` only if `token` still owns it (a lapsed lock taken over by another is left alone). */
  releaseLock(name: string, token: string): Promise<void>;
  /** Makes `name` lapse `ttlMs` from now, only if `token` still owns it; false when it does not (any more). */
  extendLock(name: string, token: string, ttlMs: number): Promise<boolean>;

  /** A registered OAuth client (RFC 7591 response, client secret included), per authorization server. */
  getRegisteredClient(issuer: string): Promise<Record<string, unknown> | undefined>;
  putRegisteredClient(issuer: string, client: Record<string, unknown>): Promise<void>;

  /**
   * A short-lived note (what a login or a refresh did, for the connection details view), encrypted like
   * everything else, under the hash of `key`; it lapses after `ttlMs`. Never a secret's only copy: notes
   * are left out of key rotation (`reencryptAll`), and one under a removed key reads as absent.
   */
  putNote(key: string, value: Record<string, unknown>, ttlMs: number): Promise<void>;
  getNote(key: string): Promise<Record<string, unknown> | undefined>;

  /** Deletes ended sessions with everything they hold; returns how many. */
  purgeExpired(): Promise<number>;
  /** Re-encrypts every record that is not under the newest key (key rotation). */
  reencryptAll(): Promise<ReencryptReport>;
  /**
   * One cheap round trip to the store (readiness): resolves when it answers, throws StoreUnavailable
   * when it does not. Callers bound how long they wait.
   */
  ping(): Promise<void>;
  close(): Promise<void>;
}
