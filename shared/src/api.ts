/**
 * JSON shapes exchanged between the SPA (web/) and the BFF (bff/).
 * The only module both sides import; it holds types and constants, no behaviour.
 */

/** Header every state-changing or data request from the SPA must carry (CSRF defence). */
export const CSRF_HEADER = 'X-CSRF';
export const CSRF_VALUE = '1';

export type ConnectionStatus = 'connected' | 'login_required';

/**
 * Which MCP protocol revision the SPA speaks to a server: 'auto' negotiates as the 2026-07-28
 * versioning section says (a modern request first, `initialize` on a legacy answer); a dated
 * revision pins it. Set per server in MCP_SERVERS (`"protocol"`).
 */
export const PROTOCOL_PREFERENCES = ['auto', '2026-07-28', '2025-11-25'] as const;
export type ProtocolPreference = (typeof PROTOCOL_PREFERENCES)[number];

export interface ConnectionInfo {
  /** Route id of the MCP server: the `:server` in `/mcp/:server`. */
  server: string;
  /** Human name of the server, from configuration. */
  name: string;
  status: ConnectionStatus;
  /** Scopes granted to the current access token (space-separated in OAuth, split here). */
  scopes: string[];
  /** When the current access token expires, epoch milliseconds; null when unknown or not connected. */
  expiresAt: number | null;
  /** Where the browser goes to (re)connect this server. */
  loginUrl: string;
  /** The operator's protocol choice for this server. Optional: older BFFs omit it (then 'auto'). */
  protocol?: ProtocolPreference;
  /**
   * 'service': used with this deployment's own client identity (OAuth client credentials), the same
   * for every signed-in person; nobody signs in to it (no Connect). Absent: people sign in themselves.
   */
  identity?: 'service';
  /**
   * 'organisation': an enterprise-managed server. Access comes from the person's sign-in at their
   * organisation's identity provider, without a consent screen per server. Absent for ordinary servers.
   */
  managedBy?: 'organisation';
}

export interface SessionInfo {
  authenticated: boolean;
  connections: ConnectionInfo[];
  /**
   * When the browser session ends unless it is used again (the earlier of its idle timeout and its
   * absolute lifetime), epoch milliseconds; null without a session. Optional: older BFFs omit it.
   */
  sessionExpiresAt?: number | null;
}

/** Error codes the BFF answers as JSON `{ "error": code, ... }`. */
export type ApiErrorCode =
  | 'login_required'
  | 'insufficient_scope'
  | 'csrf_failed'
  | 'not_found'
  | 'method_not_allowed'
  | 'payload_too_large'
  | 'bad_request'
  | 'upstream_unavailable'
  /** The MCP server did not answer in time. */
  | 'upstream_timeout'
  | 'authorization_server_unavailable'
  /** 503: the BFF's session and token store is unreachable; retry (Retry-After). Nobody is logged out. */
  | 'service_unavailable'
  /** 429: too many requests without a connection from this address; retry after Retry-After seconds. */
  | 'rate_limited'
  /** 429: this session (or, without one, this address) already has the most open MCP streams allowed. */
  | 'too_many_streams'
  /**
   * 502: a server used with this deployment's service identity (client credentials) could not get a
   * token: the authorization server refused the credentials (its OAuth error code is in the message),
   * or the MCP server refused a fresh token. No sign-in helps; an operator must look.
   */
  | 'service_credentials_failed'
  /** 403: an enterprise-managed server: the organisation's identity provider, or the server's authorization server, refused access. */
  | 'enterprise_access_denied'
  | 'internal_error';

export interface ApiError {
  error: ApiErrorCode;
  message?: string;
  /** For login_required and insufficient_scope: where to send the browser to (re)authorize. */
  loginUrl?: string;
  /** For insufficient_scope: the scopes the server asked for. */
  scope?: string;
  /** The id of the request that failed, as in the BFF's log and its X-Request-Id header. */
  requestId?: string;
}

/**
 * Codes the BFF puts in `?login_error=` when it sends the browser back to the SPA after a failed
 * login. Never the authorization server's own text.
 */
export type LoginErrorCode =
  | 'access_denied'
  | 'authorization_failed'
  | 'login_expired'
  | 'state_mismatch'
  | 'token_exchange_failed'
  | 'authorization_server_unavailable'
  /** The server's protected resource metadata is about another resource. */
  | 'resource_mismatch'
  /** The authorization server does not support PKCE with S256. */
  | 'pkce_unsupported'
  /** No client could be had at the authorization server. */
  | 'registration_failed'
  /** More permission was asked for several times and still not granted. */
  | 'insufficient_scope'
  /** Too many sign-ins started (or finished) from this network address; wait and try again. */
  | 'rate_limited'
  /** An enterprise-managed server: the organisation's identity provider, or the server's authorization server, refused access. */
  | 'enterprise_access_denied';

export const LOGIN_ERROR_PARAM = 'login_error';
/** Next to `login_error`: the id of the BFF request the login failed in (its log lines carry it). */
export const LOGIN_REFERENCE_PARAM = 'login_ref';

/**
 * An authorization server the person can also sign out at after logging out of the app (OpenID Connect
 * RP-Initiated Logout 1.0): one that advertises an `end_session_endpoint`. One per authorization server.
 */
export interface SignOutOffer {
  /** The host of the authorization server's sign-out page, as shown to the person. */
  host: string;
  /** The names of the MCP servers the person was connected to through it. */
  servers: string[];
  /** A BFF path: a top-level navigation there sends the browser on to the sign-out page. */
  url: string;
}

/** POST /bff/logout's answer. */
export interface LogoutResult {
  ok: true;
  /** Present when some authorization server offers a sign-out; only one of them can be taken. */
  signOut?: SignOutOffer[];
}

/**
 * Codes the BFF puts in `?logout=` when the browser comes back from (or could not be sent to) an
 * authorization server's sign-out page. Never the authorization server's own text.
 */
export type LogoutOutcome =
  /** Back from the sign-out page with the state it was sent with. */
  | 'signed_out'
  /** Back, but the answer could not be matched to a sign-out started in this browser. */
  | 'sign_out_unconfirmed'
  /** The offer was used already, or is too old. */
  | 'sign_out_expired'
  /** The authorization server no longer offers a sign-out, or could not be reached. */
  | 'sign_out_unavailable';

export const LOGOUT_PARAM = 'logout';

/** The steps of a login, in order (the connection details view shows them). */
export const LOGIN_STEPS = [
  'resource_metadata',
  'authorization_server_metadata',
  'client',
  'authorization_request',
  'authorization_response',
  'token_exchange',
] as const;
export type LoginStepName = (typeof LOGIN_STEPS)[number];

export interface LoginStep {
  step: LoginStepName;
  status: 'ok' | 'failed';
  /** Epoch ms. */
  at: number;
  /** What was found or done; for a failure, what went wrong and what a person can do about it. */
  detail: string;
  /** Where: the metadata document's URL, the endpoint used. */
  url?: string;
}

/** How the BFF got its client at the authorization server. */
export type ClientSource = 'configuration' | 'metadata_document' | 'dynamic_registration';

/** What discovery found for a connection (MCP authorization: RFC 9728, then RFC 8414 / OIDC). */
export interface DiscoveryDetails {
  /** Where the protected resource metadata was found. */
  resourceMetadataUrl: string | null;
  /** The `resource` it names. */
  resource: string | null;
  /** The authorization servers it names; the first is used. */
  authorizationServers: string[];
  /** Where the authorization server's metadata was found. */
  authorizationServerMetadataUrl: string | null;
  issuer: string | null;
}

export interface ClientDetails {
  source: ClientSource;
  /** Not a secret: the client's public identifier. */
  clientId: string;
  /** When the BFF registered it (dynamic registration), or first used configured credentials at this issuer; null when unknown or not applicable. */
  since: number | null;
}

/**
 * GET /bff/servers/:server/connection: how the BFF is connected to one server, for a person debugging
 * it. Never a token, a refresh token, a client secret, a code or a verifier.
 */
export interface ConnectionDetails {
  server: string;
  name: string;
  status: ConnectionStatus;
  /** From the login that made the connection; null without one (or for a connection older than this view). */
  discovery: DiscoveryDetails | null;
  client: ClientDetails | null;
  scopes: { requested: string[]; granted: string[] } | null;
  token: {
    issuedAt: number;
    expiresAt: number | null;
    /** Seconds, as issued; null when the authorization server did not say. */
    lifetimeSeconds: number | null;
    /** Whether the BFF holds a refresh token (never the token itself). */
    refreshable: boolean;
    /** When the BFF renews the access token, at the first use from then on; null when it never needs to. */
    nextRefreshAt: number | null;
  } | null;
  lastRefresh: { at: number; outcome: 'ok' | 'failed'; detail: string } | null;
  /**
   * The access token's decoded JWT header and payload (decoded by the BFF; the signature and the token
   * itself never leave it). `enabled` is the deployment's switch (CONNECTION_CLAIMS); null parts when
   * it is off, or the token is not a JWT.
   */
  claims: { enabled: boolean; header: Record<string, unknown> | null; payload: Record<string, unknown> | null };
  /** The login that made the connection, or the last one that failed in this browser (the newer of the two). */
  login: { outcome: 'succeeded' | 'failed'; at: number; error: LoginErrorCode | null; steps: LoginStep[] } | null;
}

/** The BFF's routes, as the SPA sees them. */
export const bffRoutes = {
  login: (server: string, returnTo: string) =>
    `/bff/login?server=${encodeURIComponent(server)}&returnTo=${encodeURIComponent(returnTo)}`,
  session: '/bff/session',
  logout: '/bff/logout',
  /** POST: ends one server's connection (revoking its tokens) and keeps the rest of the session. */
  disconnect: (server: string) => `/bff/logout?server=${encodeURIComponent(server)}`,
  /** Top-level GET after a logout: on to the sign-out page of `server`'s authorization server. */
  endSession: (server: string) => `/bff/logout/end-session?server=${encodeURIComponent(server)}`,
  mcp: (server: string) => `/mcp/${encodeURIComponent(server)}`,
  /** GET: ConnectionDetails. */
  connection: (server: string) => `/bff/servers/${encodeURIComponent(server)}/connection`,
} as const;
