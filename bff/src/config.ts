import { isIP } from 'node:net';
import { PROTOCOL_PREFERENCES, type ProtocolPreference } from '@mcp-bff/shared';
import { z } from 'zod';
import { readServiceCredentials, type ServiceCredentials } from './service-config.js';
import { type EnterpriseIdpConfig, readEnterpriseIdp, SERVER_AUTHORIZATIONS, type ServerAuthorization } from './enterprise/config.js';

/**
 * The only reader of process.env. Parses everything once, reports every problem at once, and hands the
 * rest of the BFF a typed, frozen object.
 */

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || hostname.endsWith('.localhost');
}

export interface SessionSecret {
  id: number;
  secret: string;
}

export interface ServerConfig {
  /** Route id: the `:server` of /mcp/:server. */
  id: string;
  name: string;
  /** The MCP server's URL. Its protected resource metadata must name exactly this resource. */
  url: string;
  /** Pre-registered client; without it the BFF uses a client ID metadata document or registers itself. */
  clientId: string | undefined;
  clientSecret: string | undefined;
  /**
   * The AS the configured client belongs to. Without it, the first AS the credentials are used with
   * is remembered, and no other ever receives them.
   */
  issuer: string | undefined;
  /** Scopes to request; empty means "what the challenge or the resource metadata says". */
  scopes: string[];
  /**
   * Send RFC 8707 `resource` in authorization, token and refresh requests; off only for authorization
   * servers known to reject it (Microsoft Entra ID). Registration requests never carry it.
   */
  resourceIndicator: boolean;
  /**
   * Extra parameters for the authorization request (Auth0's `audience`, `prompt`, ...). Never one the
   * protocol sets itself (RESERVED_AUTHORIZATION_PARAMS): config.ts refuses those.
   */
  authorizationParams: Record<string, string>;
  /**
   * RFC 7591 §3.1 initial access token, sent as a bearer token with dynamic client registration at
   * this server's authorization server (Okta, Keycloak). A secret: read from an environment variable,
   * never logged.
   */
  initialAccessToken: string | undefined;
  /**
   * Which MCP revision the SPA speaks to this server ('auto' negotiates). The BFF itself is era-neutral:
   * it only hands this to the SPA in /bff/session.
   */
  protocol: ProtocolPreference;
  /**
   * `"grant": "client_credentials"`: the deployment's own client identity, shared by every signed-in
   * person (service-config.ts). Undefined for servers people sign in to themselves.
   */
  service?: ServiceCredentials | undefined;
  /**
   * DPoP (RFC 9449): bind this server's tokens to a key the BFF holds when its authorization server
   * supports it (`dpop_signing_alg_values_supported`). On unless false.
   */
  dpop?: boolean;
  /**
   * "enterprise": tokens for this server come from the enterprise IdP (ENTERPRISE_IDP_*) by token
   * exchange and the JWT bearer grant (enterprise/), never from a consent screen. Absent: OAuth as usual.
   */
  authorization?: ServerAuthorization;
}

export interface Config {
  publicUrl: string;
  /** How the BFF names itself to authorization servers (client_name). */
  clientName: string;
  /** An externally hosted client ID metadata document to use as client_id (default: the BFF's own). */
  clientMetadataUrl: string | undefined;
  /** Origin of PUBLIC_URL: what Origin headers must equal. */
  publicOrigin: string;
  secureCookies: boolean;
  host: string;
  port: number;
  servers: ServerConfig[];
  sessionSecrets: SessionSecret[];
  allowHttpLoopback: boolean;
  /** Let the BFF contact private-network addresses named in metadata (an AS inside the same network). */
  allowPrivateNetworks: boolean;
  /**
   * CONNECTION_CLAIMS: the connection details view shows the access token's decoded JWT claims (who the
   * person is there, their scopes, audience, expiry). Off by default; the demo turns it on.
   */
  connectionClaims: boolean;
  staticDir: string | undefined;
  logLevel: string;
  /** Absolute lifetime of a browser session, seconds. */
  sessionTtlSeconds: number;
  /** Largest request body the proxy accepts, bytes. */
  maxBodyBytes: number;
  /** Time allowed for the MCP server to answer with headers, ms. */
  upstreamTimeoutMs: number;
  /** Time allowed for each request to the authorization server, ms. */
  authServerTimeoutMs: number;
  /** Time a client gets to send a request's headers, ms (slow clients are cut off). */
  headersTimeoutMs: number;
  /** Time a client gets to send a whole request, body included, ms. */
  requestTimeoutMs: number;
  /**
   * The longest a SIGTERM'd process takes to exit, ms: in-flight requests finish within it, open
   * streams are closed with a retry hint, held refresh locks are released (bff/src/http/drain.ts).
   */
  shutdownTimeoutMs: number;
  /** Requests per client address and window; 0 turns a limit off. */
  rateLimits: RateLimitConfig;
  /**
   * Addresses (IPs or CIDR ranges) of reverse proxies whose X-Forwarded-For is believed. Empty (the
   * default): the client address is the socket's peer, and X-Forwarded-For is ignored.
   */
  trustedProxies: string[];
  /** Open SSE answers from /mcp/* per browser session. */
  maxStreamsPerSession: number;
  /** Open SSE answers from /mcp/* per client address, for requests without a session. */
  maxAnonymousStreamsPerAddress: number;

  // Token vault: where sessions and tokens live, the keys they are encrypted with, session lifetime.
  tokenStore: TokenStoreConfig;
  /** Keys for records at rest, newest first: the first encrypts, every one decrypts. */
  tokenEncryptionKeys: EncryptionKey[];
  /** A session unused for this long ends, seconds (SESSION_TTL_SECONDS is the absolute end). */
  sessionIdleTimeoutSeconds: number;

  /** GET /metrics (Prometheus): off unless one of these is set. */
  metrics: MetricsConfig;

  /** The enterprise identity provider of enterprise-managed servers (ENTERPRISE_IDP_*); absent when none is configured. */
  enterpriseIdp?: EnterpriseIdpConfig;
}

export interface MetricsConfig {
  /** METRICS_TOKEN: /metrics is served on the app's port to requests bearing this token. */
  token: string | undefined;
  /** METRICS_PORT: /metrics is served on a listener of its own on 127.0.0.1 (main.ts starts it). */
  port: number | undefined;
}

export interface RateLimitConfig {
  /** Length of one window, seconds: each limit is a number of requests per window. */
  windowSeconds: number;
  /** GET /bff/login. */
  login: number;
  /** GET /bff/callback. */
  callback: number;
  /** /mcp/* requests that have no connection to the server they go to (nobody's tokens are used). */
  anonymousMcp: number;
  /** POST /bff/backchannel-logout (authorization servers, OpenID Connect Back-Channel Logout). */
  backchannelLogout: number;
}

/**
 * Why `secret` cannot be a session secret, or undefined. iron-session takes any 32 characters, but a
 * readable phrase that long holds far less than 256 bits: a secret must be at least 32 bytes in base64
 * (standard or URL-safe alphabet) that look random. One sample cannot prove randomness; this refuses
 * what plainly is not random (a repetitive string, one without both upper- and lower-case letters,
 * base64 of plain text) and lets through what `openssl rand -base64 48` prints, but for a chance
 * below 10⁻⁹. The value itself is never echoed.
 */
function sessionSecretProblem(secret: string): string | undefined {
  const digits = secret.replace(/=+$/, '');
  if (!/^(?:[A-Za-z0-9+/]+|[A-Za-z0-9_-]+)={0,2}$/.test(secret) || digits.length % 4 === 1) return 'is not base64';
  const bytes = Buffer.from(digits, 'base64');
  if (bytes.length < 32) return `is ${bytes.length} bytes in base64, fewer than 32`;
  const plainText = /^[\x20-\x7e\t\r\n]*$/.test(bytes.toString('latin1'));
  if (new Set(digits).size < 16 || !/[A-Z]/.test(digits) || !/[a-z]/.test(digits) || plainText) return 'does not look random';
  return undefined;
}

const secretsSchema = z
  .string({ error: 'SESSION_SECRET is required' })
  .transform((raw, ctx): SessionSecret[] => {
    // "secret" or "2:newer-secret,1:older-secret": ids let old cookies keep unsealing after rotation.
    const parts = raw.split(',').map((p) => p.trim()).filter(Boolean);
    const secrets: SessionSecret[] = [];
    parts.forEach((part, index) => {
      const match = /^(\d{1,6}):(.*)$/s.exec(part);
      const id = match ? Number(match[1]) : parts.length - index;
      const secret = match ? (match[2] ?? '') : part;
      const problem = sessionSecretProblem(secret);
      if (problem) {
        ctx.addIssue({
          code: 'custom',
          message: `SESSION_SECRET entry ${index + 1} ${problem}: it must be at least 32 random bytes in base64, made with e.g. \`openssl rand -base64 48\``,
        });
      }
      secrets.push({ id, secret });
    });
    if (secrets.length === 0) ctx.addIssue({ code: 'custom', message: 'SESSION_SECRET must not be empty' });
    if (new Set(secrets.map((s) => s.id)).size !== secrets.length) {
      ctx.addIssue({ code: 'custom', message: 'SESSION_SECRET ids must be unique' });
    }
    return secrets;
  });

const intFromEnv = (name: string, def: number, min: number, max: number) =>
  z.coerce
    .number({ error: `${name} must be a number` })
    .int(`${name} must be an integer`)
    .min(min, `${name} must be at least ${min}`)
    .max(max, `${name} must be at most ${max}`)
    .default(def);

const PROTOCOL_CHOICES = PROTOCOL_PREFERENCES.join(', ');
const protocolSchema = (name: string) =>
  z.enum(PROTOCOL_PREFERENCES, { error: `${name} must be one of ${PROTOCOL_CHOICES}` }).default('auto');

/** RFC 6749 §3.3 scope tokens, space-separated. */
const SCOPE_LIST = /^[\x21\x23-\x5B\x5D-\x7E ]*$/;

/**
 * Authorization request parameters the BFF sets itself: an extra parameter may not replace them. Besides
 * the protocol's own (OAuth 2.1 §4.1.1, PKCE, RFC 8707), `request`/`request_uri` (JAR: a request object
 * would override every one of them) and `response_mode` (the answer must come back as a query to the
 * callback).
 */
export const RESERVED_AUTHORIZATION_PARAMS = [
  'response_type',
  'client_id',
  'redirect_uri',
  'state',
  'code_challenge',
  'code_challenge_method',
  'scope',
  'resource',
  'request',
  'request_uri',
  'response_mode',
] as const;

/** Why `params` cannot be extra authorization parameters, for `label`; empty when they can. */
function authorizationParamProblems(params: Record<string, string>, label: string): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(params)) {
    if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(name)) {
      problems.push(`${label}: parameter name "${name.slice(0, 64)}" must be 1-64 letters, digits, "_", ".", ":" or "-"`);
    } else if ((RESERVED_AUTHORIZATION_PARAMS as readonly string[]).includes(name)) {
      const instead = name === 'scope' ? ' (use scopes instead)' : name === 'resource' ? ' (see resourceIndicator)' : '';
      problems.push(`${label}: "${name}" is set by the BFF itself and cannot be overridden${instead}`);
    }
    if (value.length > 2048) problems.push(`${label}: the value of "${name}" is longer than 2048 characters`);
  }
  return problems;
}

/** OAUTH_AUTHORIZATION_PARAMS: form-encoded, `audience=https%3A%2F%2Fapi.example.com&prompt=consent`. */
function readAuthorizationParamsEnv(raw: string | undefined, problems: string[]): Record<string, string> {
  if (!raw) return {};
  const params = new URLSearchParams(raw);
  const out: Record<string, string> = {};
  for (const [name, value] of params) {
    if (name in out) problems.push(`OAUTH_AUTHORIZATION_PARAMS: "${name}" is given twice`);
    out[name] = value;
  }
  problems.push(...authorizationParamProblems(out, 'OAUTH_AUTHORIZATION_PARAMS'));
  return out;
}

/** The initial access token named by `envName`, which must be set and non-empty. The value is never echoed. */
function readInitialAccessToken(
  envName: string | undefined,
  env: Record<string, string | undefined>,
  label: string,
  problems: string[],
): string | undefined {
  if (envName === undefined) return undefined;
  const value = env[envName];
  if (!value) problems.push(`${label}: the environment variable ${envName} it names is not set`);
  else if (!/^[\x21-\x7e]+$/.test(value)) problems.push(`${label}: ${envName} must be a token of visible ASCII characters`);
  return value || undefined;
}

const serverEntrySchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'id must be 1-32 lower-case letters, digits, "-" or "_"'),
    url: z.url({ error: 'url must be an absolute URL' }),
    name: z.string().min(1).max(100).optional(),
    clientId: z.string().min(1).optional(),
    clientSecret: z.string().min(1).optional(),
    issuer: z.url({ error: 'issuer must be an absolute URL' }).optional(),
    scopes: z
      .union([z.string(), z.array(z.string())])
      .optional()
      .refine((v) => v === undefined || SCOPE_LIST.test(Array.isArray(v) ? v.join(' ') : v), 'scopes must be scope tokens'),
    resourceIndicator: z.boolean().default(true),
    authorizationParams: z.record(z.string(), z.string({ error: 'authorizationParams values must be strings' })).default({}),
    /** The name of the environment variable holding the initial access token (never the token itself). */
    initialAccessTokenEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'initialAccessTokenEnv must name an environment variable, e.g. "OKTA_INITIAL_ACCESS_TOKEN"')
      .optional(),
    protocol: protocolSchema('protocol'),
    /** "client_credentials": a service server (service-config.ts); default: people sign in. */
    grant: z.enum(['authorization_code', 'client_credentials'], { error: 'grant must be "authorization_code" or "client_credentials"' }).optional(),
    clientSecretEnv: z.string().optional(),
    privateKeyEnv: z.string().optional(),
    privateKeyFile: z.string().min(1).optional(),
    signingAlg: z.string().optional(),
    tokenEndpointAuthMethod: z.string().optional(),
    dpop: z.boolean().default(true),
    authorization: z.enum(SERVER_AUTHORIZATIONS, { error: `authorization must be one of ${SERVER_AUTHORIZATIONS.join(', ')}` }).optional(),
  })
  .strict()
  .refine((s) => !s.clientSecret || s.clientId, 'clientSecret needs a clientId');

const envSchema = z.object({
  PUBLIC_URL: z.url({ error: 'PUBLIC_URL must be an absolute URL, e.g. https://mcp.example.com' }),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: intFromEnv('PORT', 3000, 0, 65535),
  MCP_SERVER_URL: z.url({ error: 'MCP_SERVER_URL must be an absolute URL, e.g. https://mcp.example.com/mcp' }).optional(),
  MCP_SERVER_NAME: z.string().min(1).max(100).default('MCP server'),
  MCP_SERVERS: z.string().optional(),
  // Empty is unset, as with the other optional variables.
  MCP_PROTOCOL: z.preprocess((v) => (v === '' ? undefined : v), protocolSchema('MCP_PROTOCOL')),
  OAUTH_CLIENT_NAME: z.string().min(1).max(100).default('MCP BFF'),
  OAUTH_CLIENT_METADATA_URL: z
    .url({ error: 'OAUTH_CLIENT_METADATA_URL must be an absolute https URL' })
    .refine((u) => u.startsWith('https://'), 'OAUTH_CLIENT_METADATA_URL must be an https URL')
    .optional(),
  OAUTH_CLIENT_ID: z.string().min(1, 'OAUTH_CLIENT_ID must not be empty').optional(),
  OAUTH_CLIENT_SECRET: z.string().min(1, 'OAUTH_CLIENT_SECRET must not be empty').optional(),
  OAUTH_ISSUER: z.url({ error: 'OAUTH_ISSUER must be an absolute URL (the issuer of OAUTH_CLIENT_ID)' }).optional(),
  OAUTH_SCOPES: z.string().default('').refine((s) => SCOPE_LIST.test(s), 'OAUTH_SCOPES must be space-separated scope tokens'),
  SESSION_SECRET: secretsSchema,
  ALLOW_HTTP_LOOPBACK: z.enum(['0', '1', 'true', 'false', '']).default('0'),
  ALLOW_PRIVATE_NETWORKS: z.enum(['0', '1', 'true', 'false', '']).default('0'),
  CONNECTION_CLAIMS: z.enum(['0', '1', 'true', 'false', ''], { error: 'CONNECTION_CLAIMS must be 1 or 0' }).default('0'),
  STATIC_DIR: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SESSION_TTL_SECONDS: intFromEnv('SESSION_TTL_SECONDS', 8 * 3600, 60, 30 * 24 * 3600),
  MAX_BODY_BYTES: intFromEnv('MAX_BODY_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
  UPSTREAM_TIMEOUT_MS: intFromEnv('UPSTREAM_TIMEOUT_MS', 30_000, 100, 600_000),
  AUTH_SERVER_TIMEOUT_MS: intFromEnv('AUTH_SERVER_TIMEOUT_MS', 10_000, 100, 120_000),
  HEADERS_TIMEOUT_MS: intFromEnv('HEADERS_TIMEOUT_MS', 10_000, 100, 120_000),
  REQUEST_TIMEOUT_MS: intFromEnv('REQUEST_TIMEOUT_MS', 30_000, 100, 600_000),
  SHUTDOWN_TIMEOUT_MS: intFromEnv('SHUTDOWN_TIMEOUT_MS', 25_000, 1_000, 600_000),
  RATE_LIMIT_WINDOW_SECONDS: intFromEnv('RATE_LIMIT_WINDOW_SECONDS', 60, 1, 3600),
  RATE_LIMIT_LOGIN: intFromEnv('RATE_LIMIT_LOGIN', 30, 0, 1_000_000),
  RATE_LIMIT_CALLBACK: intFromEnv('RATE_LIMIT_CALLBACK', 30, 0, 1_000_000),
  RATE_LIMIT_ANONYMOUS_MCP: intFromEnv('RATE_LIMIT_ANONYMOUS_MCP', 600, 0, 1_000_000),
  RATE_LIMIT_BACKCHANNEL_LOGOUT: intFromEnv('RATE_LIMIT_BACKCHANNEL_LOGOUT', 120, 0, 1_000_000),
  TRUSTED_PROXIES: z.string().default(''),
  MAX_STREAMS_PER_SESSION: intFromEnv('MAX_STREAMS_PER_SESSION', 8, 1, 10_000),
  MAX_ANONYMOUS_STREAMS_PER_ADDRESS: intFromEnv('MAX_ANONYMOUS_STREAMS_PER_ADDRESS', 32, 1, 100_000),
  // Empty is unset. A token is compared in constant time; it must be long enough not to be guessed.
  METRICS_TOKEN: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z
      .string()
      .regex(/^[\x21-\x7e]{32,256}$/, 'METRICS_TOKEN must be 32-256 visible characters without spaces, e.g. from openssl rand -hex 32')
      .optional(),
  ),
  METRICS_PORT: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.coerce
      .number({ error: 'METRICS_PORT must be a number' })
      .int('METRICS_PORT must be an integer')
      .min(0, 'METRICS_PORT must be at least 0')
      .max(65535, 'METRICS_PORT must be at most 65535')
      .optional(),
  ),
});

/**
 * TRUSTED_PROXIES: "10.0.0.5, 10.1.0.0/16, ::1". Each entry an IP address or a CIDR range; an entry is
 * never a host name (it would have to be resolved, and then believed).
 */
function readTrustedProxies(raw: string | undefined, problems: string[]): string[] {
  const entries = (raw ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  const out: string[] = [];
  entries.forEach((entry, index) => {
    const [address = '', prefix, extra] = entry.split('/');
    const family = isIP(address);
    const maxPrefix = family === 6 ? 128 : 32;
    const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= maxPrefix);
    if (family === 0 || !prefixOk || extra !== undefined) {
      problems.push(`TRUSTED_PROXIES entry ${index + 1} ("${entry}") must be an IP address or a CIDR range, e.g. 10.0.0.5 or 10.0.0.0/8`);
      return;
    }
    out.push(entry);
  });
  return out;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function checkUrl(name: string, value: string, allowHttpLoopback: boolean, problems: string[]): URL | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined; // already reported by the schema
  }
  if (url.username || url.password) problems.push(`${name} must not contain credentials`);
  if (url.hash) problems.push(`${name} must not contain a fragment`);
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:') {
    if (!isLoopbackHost(url.hostname)) problems.push(`${name} must use https (http is only allowed for loopback hosts)`);
    else if (!allowHttpLoopback) problems.push(`${name} uses http: set ALLOW_HTTP_LOOPBACK=1 to allow http on loopback hosts`);
    return url;
  }
  problems.push(`${name} must be an https URL`);
  return undefined;
}

function splitScopes(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : value.split(' ')).filter(Boolean);
}

/** MCP_SERVERS (JSON, several servers) or MCP_SERVER_URL (one server, id "default"). */
function readServers(
  e: z.infer<typeof envSchema>,
  env: Record<string, string | undefined>,
  allowHttpLoopback: boolean,
  problems: string[],
): ServerConfig[] {
  if (e.OAUTH_CLIENT_SECRET && !e.OAUTH_CLIENT_ID) problems.push('OAUTH_CLIENT_SECRET needs OAUTH_CLIENT_ID');
  if (e.MCP_SERVERS && e.MCP_SERVER_URL) {
    problems.push('set either MCP_SERVERS or MCP_SERVER_URL, not both');
    return [];
  }
  if (e.MCP_SERVERS && env.MCP_PROTOCOL) {
    problems.push('MCP_PROTOCOL goes with MCP_SERVER_URL; in MCP_SERVERS give each server a "protocol"');
  }
  if (e.MCP_SERVER_URL) {
    checkUrl('MCP_SERVER_URL', e.MCP_SERVER_URL, allowHttpLoopback, problems);
    const initialAccessToken = env.OAUTH_INITIAL_ACCESS_TOKEN;
    if (initialAccessToken && !/^[\x21-\x7e]+$/.test(initialAccessToken)) {
      problems.push('OAUTH_INITIAL_ACCESS_TOKEN must be a token of visible ASCII characters');
    }
    const grant = env.OAUTH_GRANT || undefined;
    if (grant !== undefined && grant !== 'authorization_code' && grant !== 'client_credentials') {
      problems.push('OAUTH_GRANT must be authorization_code or client_credentials');
    }
    const service = readServiceCredentials(
      {
        grant: grant === 'client_credentials' ? grant : undefined,
        clientId: e.OAUTH_CLIENT_ID,
        // The variables' own names: OAUTH_CLIENT_SECRET and OAUTH_PRIVATE_KEY are the environment.
        clientSecretInConfig: false,
        // Without OAUTH_GRANT, OAUTH_CLIENT_SECRET is the secret of the client people sign in with.
        clientSecretEnv: grant === 'client_credentials' && e.OAUTH_CLIENT_SECRET !== undefined ? 'OAUTH_CLIENT_SECRET' : undefined,
        privateKeyEnv: env.OAUTH_PRIVATE_KEY ? 'OAUTH_PRIVATE_KEY' : undefined,
        privateKeyFile: env.OAUTH_PRIVATE_KEY_FILE || undefined,
        signingAlg: env.OAUTH_SIGNING_ALG || undefined,
        tokenEndpointAuthMethod: env.OAUTH_TOKEN_ENDPOINT_AUTH_METHOD || undefined,
        loginOnly: [
          ...(env.OAUTH_AUTHORIZATION_PARAMS ? ['OAUTH_AUTHORIZATION_PARAMS'] : []),
          ...(initialAccessToken ? ['OAUTH_INITIAL_ACCESS_TOKEN'] : []),
        ],
      },
      env,
      'OAUTH_GRANT=client_credentials',
      problems,
    );
    return [
      {
        id: 'default',
        name: e.MCP_SERVER_NAME,
        url: e.MCP_SERVER_URL,
        clientId: e.OAUTH_CLIENT_ID,
        // A service server's secret lives in `service` only: nothing that signs people in may use it.
        clientSecret: service ? undefined : e.OAUTH_CLIENT_SECRET,
        issuer: e.OAUTH_ISSUER,
        scopes: splitScopes(e.OAUTH_SCOPES),
        resourceIndicator: env.OAUTH_RESOURCE_INDICATOR !== '0',
        authorizationParams: readAuthorizationParamsEnv(env.OAUTH_AUTHORIZATION_PARAMS, problems),
        initialAccessToken: initialAccessToken || undefined,
        protocol: e.MCP_PROTOCOL,
        service,
        dpop: env.OAUTH_DPOP !== '0',
        ...serverAuthorization(env.MCP_SERVER_AUTHORIZATION, 'MCP_SERVER_AUTHORIZATION', problems),
      },
    ];
  }
  if (!e.MCP_SERVERS) {
    problems.push('MCP_SERVER_URL (one server) or MCP_SERVERS (a JSON list of servers) is required');
    return [];
  }
  let raw: unknown;
  try {
    raw = JSON.parse(e.MCP_SERVERS);
  } catch {
    problems.push('MCP_SERVERS must be JSON: [{"id":"docs","url":"https://mcp.example.com/mcp"}, ...]');
    return [];
  }
  const parsed = z.array(serverEntrySchema).min(1, 'MCP_SERVERS must list at least one server').safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`MCP_SERVERS${issue.path.map((p) => `[${String(p)}]`).join('')}: ${issue.message}`);
    return [];
  }
  const seen = new Set<string>();
  return parsed.data.map((entry, i) => {
    if (seen.has(entry.id)) problems.push(`MCP_SERVERS[${i}]: duplicate id "${entry.id}"`);
    // Its redirect URI would be /bff/callback/complete, where every login's same-site bounce lands.
    if (entry.id === 'complete') problems.push(`MCP_SERVERS[${i}]: id "complete" is reserved`);
    seen.add(entry.id);
    checkUrl(`MCP_SERVERS[${i}].url`, entry.url, allowHttpLoopback, problems);
    problems.push(...authorizationParamProblems(entry.authorizationParams, `MCP_SERVERS[${i}].authorizationParams`));
    const service = readServiceCredentials(
      {
        grant: entry.grant,
        clientId: entry.clientId,
        clientSecretInConfig: entry.clientSecret !== undefined,
        clientSecretEnv: entry.clientSecretEnv,
        privateKeyEnv: entry.privateKeyEnv,
        privateKeyFile: entry.privateKeyFile,
        signingAlg: entry.signingAlg,
        tokenEndpointAuthMethod: entry.tokenEndpointAuthMethod,
        loginOnly: [
          ...(Object.keys(entry.authorizationParams).length > 0 ? ['authorizationParams'] : []),
          ...(entry.initialAccessTokenEnv !== undefined ? ['initialAccessTokenEnv'] : []),
        ],
      },
      env,
      `MCP_SERVERS[${i}] ("${entry.id}")`,
      problems,
    );
    return {
      id: entry.id,
      name: entry.name ?? entry.id,
      url: entry.url,
      clientId: entry.clientId,
      clientSecret: entry.clientSecret,
      issuer: entry.issuer,
      scopes: splitScopes(entry.scopes),
      resourceIndicator: entry.resourceIndicator,
      authorizationParams: entry.authorizationParams,
      initialAccessToken: readInitialAccessToken(entry.initialAccessTokenEnv, env, `MCP_SERVERS[${i}].initialAccessTokenEnv`, problems),
      protocol: entry.protocol,
      // A service server's secret lives in `service` only: nothing that signs people in may use it.
      ...(service ? { clientSecret: undefined, service } : {}),
      dpop: entry.dpop,
      ...serverAuthorization(entry.authorization, `MCP_SERVERS[${i}].authorization`, problems),
    };
  });
}

/** `"authorization": "enterprise"` (or MCP_SERVER_AUTHORIZATION=enterprise); "oauth" or nothing is the default. */
function serverAuthorization(value: string | undefined, label: string, problems: string[]): Pick<ServerConfig, 'authorization'> {
  if (value === undefined || value === '' || value === 'oauth') return {};
  if (value === 'enterprise') return { authorization: 'enterprise' };
  problems.push(`${label} must be one of ${SERVER_AUTHORIZATIONS.join(', ')}`);
  return {};
}

// Token vault configuration: TOKEN_STORE, REDIS_URL, TOKEN_ENCRYPTION_KEYS, SESSION_IDLE_TIMEOUT_SECONDS.

export type TokenStoreConfig =
  /** Tests only: everything is lost with the process. */
  | { kind: 'memory' }
  | { kind: 'sqlite'; path: string }
  /** The URL may hold a password: never log it. */
  | { kind: 'redis'; url: string };

export interface EncryptionKey {
  /** Written in front of every ciphertext, so that the right key opens it after a rotation. */
  id: string;
  /** 32 bytes (AES-256). */
  key: Buffer;
}

/**
 * What `pnpm serve` (main.ts) uses without TOKEN_STORE or REDIS_URL. Embedders and tests that call
 * loadConfig without `defaultTokenStore` get memory, and pass their own store to createApp.
 */
export const DEFAULT_TOKEN_STORE = 'sqlite:./data/bff.db';

export interface LoadConfigOptions {
  /** TOKEN_STORE when the environment names none (and no REDIS_URL); default "memory". */
  defaultTokenStore?: string;
}

type VaultConfig = Pick<Config, 'tokenStore' | 'tokenEncryptionKeys' | 'sessionIdleTimeoutSeconds'>;

function readTokenStore(env: Record<string, string | undefined>, fallback: string, problems: string[]): TokenStoreConfig {
  const raw = env.TOKEN_STORE?.trim() || (env.REDIS_URL ? 'redis' : fallback);
  if (raw === 'memory') return { kind: 'memory' };
  if (raw.startsWith('sqlite:')) {
    const path = raw.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (!path) problems.push('TOKEN_STORE sqlite:<file> needs a file, e.g. sqlite:./data/bff.db');
    return { kind: 'sqlite', path };
  }
  const url = raw === 'redis' ? env.REDIS_URL : raw;
  if (raw === 'redis' || raw.startsWith('redis://') || raw.startsWith('rediss://')) {
    let parsed: URL | undefined;
    try {
      parsed = url ? new URL(url) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!url || !parsed || (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') || !parsed.hostname) {
      // The value is not echoed: it may contain a password.
      problems.push(`${raw === 'redis' ? 'REDIS_URL' : 'TOKEN_STORE'} must be a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379`);
    }
    return { kind: 'redis', url: url ?? '' };
  }
  problems.push('TOKEN_STORE must be memory, sqlite:<file> or a redis:// URL (e.g. sqlite:./data/bff.db)');
  return { kind: 'memory' };
}

/** "k2:<base64 of 32 bytes>,k1:<...>": newest first. Values are never echoed in problems. */
function readEncryptionKeys(raw: string | undefined, store: TokenStoreConfig, problems: string[]): EncryptionKey[] {
  const entries = (raw ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  if (entries.length === 0) {
    if (store.kind !== 'memory') {
      problems.push('TOKEN_ENCRYPTION_KEYS is required for a persistent TOKEN_STORE: id:<32 bytes in base64>, e.g. k1:$(openssl rand -base64 32)');
    }
    return [];
  }
  const keys: EncryptionKey[] = [];
  entries.forEach((entry, index) => {
    const colon = entry.indexOf(':');
    const id = colon > 0 ? entry.slice(0, colon) : '';
    const value = colon > 0 ? entry.slice(colon + 1) : '';
    const label = `TOKEN_ENCRYPTION_KEYS entry ${index + 1}`;
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(id)) {
      problems.push(`${label} must be id:key with an id of 1-32 letters, digits, "-" or "_"`);
      return;
    }
    const key = /^[A-Za-z0-9+/_-]+={0,2}$/.test(value) ? Buffer.from(value, 'base64') : Buffer.alloc(0);
    if (key.length !== 32) {
      problems.push(`${label} ("${id}") must be 32 bytes in base64, e.g. from openssl rand -base64 32`);
      return;
    }
    keys.push({ id, key });
  });
  if (new Set(keys.map((k) => k.id)).size !== keys.length) problems.push('TOKEN_ENCRYPTION_KEYS ids must be unique');
  return keys;
}

function readVaultConfig(env: Record<string, string | undefined>, options: LoadConfigOptions, problems: string[]): VaultConfig {
  const tokenStore = readTokenStore(env, options.defaultTokenStore ?? 'memory', problems);
  const tokenEncryptionKeys = readEncryptionKeys(env.TOKEN_ENCRYPTION_KEYS, tokenStore, problems);
  const idle = intFromEnv('SESSION_IDLE_TIMEOUT_SECONDS', 3600, 60, 30 * 24 * 3600).safeParse(env.SESSION_IDLE_TIMEOUT_SECONDS);
  if (!idle.success) for (const issue of idle.error.issues) problems.push(issue.message);
  return { tokenStore, tokenEncryptionKeys, sessionIdleTimeoutSeconds: idle.success ? idle.data : 3600 };
}

export function loadConfig(env: Record<string, string | undefined> = process.env, options: LoadConfigOptions = {}): Config {
  const parsed = envSchema.safeParse(env);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = issue.path.join('.');
      problems.push(issue.message.includes(key) || !key ? issue.message : `${key}: ${issue.message}`);
    }
  }
  const e = parsed.success ? parsed.data : undefined;
  const allowHttpLoopback = env.ALLOW_HTTP_LOOPBACK === '1' || env.ALLOW_HTTP_LOOPBACK === 'true';
  const publicUrl = env.PUBLIC_URL ? checkUrl('PUBLIC_URL', env.PUBLIC_URL, allowHttpLoopback, problems) : undefined;
  if (publicUrl && (publicUrl.pathname !== '/' || publicUrl.search)) {
    problems.push('PUBLIC_URL must be an origin only (no path or query), e.g. https://mcp.example.com');
  }
  // Even when other variables are wrong, check the servers too, so that every problem is listed at once.
  const serverEnv =
    e ??
    ({
      ...env,
      MCP_SERVER_NAME: env.MCP_SERVER_NAME ?? 'MCP server',
      MCP_PROTOCOL: 'auto',
      OAUTH_SCOPES: env.OAUTH_SCOPES ?? '',
    } as unknown as z.infer<typeof envSchema>);
  const servers = readServers(serverEnv, env, allowHttpLoopback, problems);
  const vault = readVaultConfig(env, options, problems);
  const trustedProxies = readTrustedProxies(env.TRUSTED_PROXIES, problems);
  const enterpriseIdp = readEnterpriseIdp(env, servers, { allowHttpLoopback, trustedProxies, checkUrl }, problems);
  if (problems.length > 0 || !e || !publicUrl) throw new ConfigError(problems);

  const config: Config = {
    publicUrl: publicUrl.origin,
    clientName: e.OAUTH_CLIENT_NAME,
    clientMetadataUrl: e.OAUTH_CLIENT_METADATA_URL,
    publicOrigin: publicUrl.origin,
    secureCookies: publicUrl.protocol === 'https:',
    host: e.HOST,
    port: e.PORT,
    servers,
    sessionSecrets: e.SESSION_SECRET,
    allowHttpLoopback,
    allowPrivateNetworks: e.ALLOW_PRIVATE_NETWORKS === '1' || e.ALLOW_PRIVATE_NETWORKS === 'true',
    connectionClaims: e.CONNECTION_CLAIMS === '1' || e.CONNECTION_CLAIMS === 'true',
    staticDir: e.STATIC_DIR,
    logLevel: e.LOG_LEVEL,
    sessionTtlSeconds: e.SESSION_TTL_SECONDS,
    maxBodyBytes: e.MAX_BODY_BYTES,
    upstreamTimeoutMs: e.UPSTREAM_TIMEOUT_MS,
    authServerTimeoutMs: e.AUTH_SERVER_TIMEOUT_MS,
    headersTimeoutMs: e.HEADERS_TIMEOUT_MS,
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    rateLimits: {
      windowSeconds: e.RATE_LIMIT_WINDOW_SECONDS,
      login: e.RATE_LIMIT_LOGIN,
      callback: e.RATE_LIMIT_CALLBACK,
      anonymousMcp: e.RATE_LIMIT_ANONYMOUS_MCP,
      backchannelLogout: e.RATE_LIMIT_BACKCHANNEL_LOGOUT,
    },
    trustedProxies,
    maxStreamsPerSession: e.MAX_STREAMS_PER_SESSION,
    maxAnonymousStreamsPerAddress: e.MAX_ANONYMOUS_STREAMS_PER_ADDRESS,
    ...vault,
    metrics: { token: e.METRICS_TOKEN, port: e.METRICS_PORT },
    ...(enterpriseIdp ? { enterpriseIdp } : {}),
  };
  return Object.freeze(config);
}
