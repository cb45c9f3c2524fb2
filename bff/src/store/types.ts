/** A browser session: only the random id travels in the (sealed) cookie. */
export interface SessionRecord {
  id: string;
  createdAt: number;
  /** Absolute end of the session, epoch ms. */
  expiresAt: number;
}

/** What the BFF holds for one (session, MCP server) connection. Never leaves the BFF. */
export interface TokenRecord {
  accessToken: string;
  refreshToken: string | undefined;
  /** Scopes granted (from the token response, else those requested). */
  scopes: string[];
  /** Epoch ms when the access token was obtained. */
  issuedAt: number;
  /** Epoch ms when the access token expires; undefined when the AS did not say. */
  expiresAt: number | undefined;
  /** The AS that issued the tokens, and the client they were issued to: refresh and revoke go back there. */
  issuer: string;
  clientId: string;
  /** The `resource` the tokens are bound to. */
  resource: string;
  /** Incremented on every write, so a writer can tell whether it raced another. */
  generation: number;
}

export interface McpSessionOwner {
  sessionId: string;
  server: string;
}

/**
 * Server-side state of the BFF. Implementations keep token records encrypted at rest.
 * Everything is async so that shared stores (Redis, SQL) fit behind the same interface.
 */
export interface TokenStore {
  createSession(session: SessionRecord): Promise<void>;
  getSession(id: string): Promise<SessionRecord | undefined>;
  /** Deletes the session with its connections and MCP session bindings. */
  deleteSession(id: string): Promise<void>;

  getConnection(sessionId: string, server: string): Promise<TokenRecord | undefined>;
  listConnections(sessionId: string): Promise<Map<string, TokenRecord>>;
  putConnection(sessionId: string, server: string, record: TokenRecord): Promise<void>;
  deleteConnection(sessionId: string, server: string): Promise<void>;

  bindMcpSession(mcpSessionId: string, owner: McpSessionOwner): Promise<void>;
  getMcpSessionOwner(mcpSessionId: string): Promise<McpSessionOwner | undefined>;
  unbindMcpSession(mcpSessionId: string): Promise<void>;

  /** True the first time `key` is seen within `ttlMs`; false afterwards (single-use markers). */
  consumeOnce(key: string, ttlMs: number): Promise<boolean>;
}
