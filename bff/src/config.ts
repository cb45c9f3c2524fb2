import { z } from 'zod';

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
  /** The MCP server's URL, used verbatim as the OAuth `resource`. */
  url: string;
  clientId: string;
  clientSecret: string;
  /** Scopes to request; empty means "what the protected resource metadata lists". */
  scopes: string[];
}

export interface Config {
  publicUrl: string;
  /** Origin of PUBLIC_URL: what Origin headers must equal. */
  publicOrigin: string;
  secureCookies: boolean;
  host: string;
  port: number;
  servers: ServerConfig[];
  sessionSecrets: SessionSecret[];
  allowHttpLoopback: boolean;
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
      if (secret.length < 32) {
        ctx.addIssue({ code: 'custom', message: `SESSION_SECRET entry ${index + 1} must be at least 32 characters` });
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

const envSchema = z.object({
  PUBLIC_URL: z.url({ error: 'PUBLIC_URL must be an absolute URL, e.g. https://mcp.example.com' }),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: intFromEnv('PORT', 3000, 0, 65535),
  MCP_SERVER_URL: z.url({ error: 'MCP_SERVER_URL must be an absolute URL, e.g. https://mcp.example.com/mcp' }),
  MCP_SERVER_NAME: z.string().min(1).max(100).default('MCP server'),
  OAUTH_CLIENT_ID: z.string({ error: 'OAUTH_CLIENT_ID is required' }).min(1, 'OAUTH_CLIENT_ID is required'),
  OAUTH_CLIENT_SECRET: z.string({ error: 'OAUTH_CLIENT_SECRET is required' }).min(1, 'OAUTH_CLIENT_SECRET is required'),
  OAUTH_SCOPES: z
    .string()
    .default('')
    .refine((s) => /^[\x21\x23-\x5B\x5D-\x7E ]*$/.test(s), 'OAUTH_SCOPES must be space-separated scope tokens'),
  SESSION_SECRET: secretsSchema,
  ALLOW_HTTP_LOOPBACK: z.enum(['0', '1', 'true', 'false', '']).default('0'),
  STATIC_DIR: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SESSION_TTL_SECONDS: intFromEnv('SESSION_TTL_SECONDS', 8 * 3600, 60, 30 * 24 * 3600),
  MAX_BODY_BYTES: intFromEnv('MAX_BODY_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
  UPSTREAM_TIMEOUT_MS: intFromEnv('UPSTREAM_TIMEOUT_MS', 30_000, 100, 600_000),
  AUTH_SERVER_TIMEOUT_MS: intFromEnv('AUTH_SERVER_TIMEOUT_MS', 10_000, 100, 120_000),
});

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

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
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
  if (env.MCP_SERVER_URL) checkUrl('MCP_SERVER_URL', env.MCP_SERVER_URL, allowHttpLoopback, problems);
  if (problems.length > 0 || !e || !publicUrl) throw new ConfigError(problems);

  const config: Config = {
    publicUrl: publicUrl.origin,
    publicOrigin: publicUrl.origin,
    secureCookies: publicUrl.protocol === 'https:',
    host: e.HOST,
    port: e.PORT,
    servers: [
      {
        id: 'default',
        name: e.MCP_SERVER_NAME,
        url: e.MCP_SERVER_URL,
        clientId: e.OAUTH_CLIENT_ID,
        clientSecret: e.OAUTH_CLIENT_SECRET,
        scopes: e.OAUTH_SCOPES.split(' ').filter(Boolean),
      },
    ],
    sessionSecrets: e.SESSION_SECRET,
    allowHttpLoopback,
    staticDir: e.STATIC_DIR,
    logLevel: e.LOG_LEVEL,
    sessionTtlSeconds: e.SESSION_TTL_SECONDS,
    maxBodyBytes: e.MAX_BODY_BYTES,
    upstreamTimeoutMs: e.UPSTREAM_TIMEOUT_MS,
    authServerTimeoutMs: e.AUTH_SERVER_TIMEOUT_MS,
  };
  return Object.freeze(config);
}
