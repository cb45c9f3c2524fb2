import type { ConnectionDetails, LoginErrorCode } from '@mcp-bff/shared';
import { Hono } from 'hono';
import { z } from 'zod';
import type { Config } from '../config.js';
import { requireSameOriginApi } from '../http/csrf.js';
import { ApiFailure } from '../http/errors.js';
import type { Logger } from '../log.js';
import { LOGIN_ERROR_ADVICE, } from '../oauth/login-trace.js';
import { refreshNoteKey } from '../oauth/tokens.js';
import type { CookieJar } from '../session/cookies.js';
import type { Sessions } from '../session/session.js';
import type { TokenRecord, TokenStore } from '../store/types.js';
import type { AppEnv } from './env.js';

export interface ConnectionRouteDeps {
  config: Config;
  store: TokenStore;
  log: Logger;
  cookies: CookieJar;
  sessions: Sessions;
}

const refreshNoteSchema = z.object({ at: z.number(), outcome: z.literal('failed'), detail: z.string() });

/**
 * GET /bff/servers/:server/connection: the connection details view's data. What the login found and
 * did, the client, scopes, token lifetimes and refreshes, the last failed login of this browser, and
 * (when the deployment allows it) the access token's decoded claims. Same session and CSRF rules as
 * every /bff endpoint; never a token, refresh token, client secret, code or verifier.
 */
export function connectionRoutes(deps: ConnectionRouteDeps): Hono<AppEnv> {
  const { config, store, cookies, sessions, log } = deps;
  const app = new Hono<AppEnv>();
  const sameOrigin = requireSameOriginApi({ origin: config.publicOrigin, log });

  app.get('/servers/:server/connection', sameOrigin, async (c) => {
    const server = config.servers.find((s) => s.id === c.req.param('server'));
    if (!server) throw new ApiFailure('not_found', 'No MCP server with that id.');
    const session = await sessions.current(c);
    const record = session ? await store.getConnection(session.id, server.id) : undefined;

    const refreshNote = session ? refreshNoteSchema.safeParse(await store.getNote(refreshNoteKey(session.id, server.id))) : undefined;
    const refreshFailure = refreshNote?.success && (!record || refreshNote.data.at >= record.issuedAt) ? refreshNote.data : undefined;

    const failed = await cookies.readFailedLogin(c);
    const stored = failed?.server === server.id ? failed.report : undefined;
    const failedLogin = stored?.outcome === 'failed' && (!record || stored.at > (record.login?.at ?? record.issuedAt)) ? stored : undefined;

    const refreshed = record?.refreshedAt !== undefined ? { at: record.refreshedAt, outcome: 'ok' as const, detail: 'The access token was renewed with the refresh token.' } : undefined;
    const lastRefresh = [refreshed, refreshFailure].filter((r) => r !== undefined).sort((a, b) => b.at - a.at)[0] ?? null;

    let login: ConnectionDetails['login'] = null;
    if (failedLogin) {
      const error = (failedLogin.error ?? null) as LoginErrorCode | null;
      const steps = failedLogin.steps.some((s) => s.status === 'failed') || !error
        ? failedLogin.steps
        : // A failure outside any step (the transaction cookie, the store): said in the error code's words.
          [...failedLogin.steps, { step: 'authorization_response' as const, status: 'failed' as const, at: failedLogin.at, detail: LOGIN_ERROR_ADVICE[error] }];
      login = { outcome: 'failed', at: failedLogin.at, error, steps };
    } else if (record?.login) {
      login = { outcome: 'succeeded', at: record.login.at, error: null, steps: record.login.steps };
    }

    const body: ConnectionDetails = {
      server: server.id,
      name: server.name,
      status: record ? 'connected' : 'login_required',
      // A record stored before logins were traced does not say what was found, nor how its client came about.
      discovery: record ? (record.login?.discovery ?? null) : (failedLogin?.discovery ?? null),
      client: record ? (record.login?.client ?? null) : (failedLogin?.client ?? null),
      scopes: record ? { requested: record.requestedScopes ?? [], granted: record.scopes } : null,
      token: record ? tokenTimes(record) : null,
      lastRefresh,
      claims: {
        enabled: config.connectionClaims,
        ...(config.connectionClaims && record ? decodeJwt(record.accessToken) : { header: null, payload: null }),
      },
      login,
    };
    return c.json(body);
  });

  return app;
}

/** Lifetimes and the next refresh, as TokenManager decides it (needsRefresh). */
function tokenTimes(record: TokenRecord): NonNullable<ConnectionDetails['token']> {
  const lifetime = record.expiresAt !== undefined ? record.expiresAt - record.issuedAt : undefined;
  return {
    issuedAt: record.issuedAt,
    expiresAt: record.expiresAt ?? null,
    lifetimeSeconds: lifetime !== undefined ? Math.round(lifetime / 1000) : null,
    refreshable: record.refreshToken !== undefined,
    nextRefreshAt: record.expiresAt !== undefined && lifetime !== undefined ? record.expiresAt - Math.min(5 * 60 * 1000, lifetime / 2) : null,
  };
}

/**
 * The header and payload of a JWS compact serialization, decoded (not verified: the MCP server does
 * that; this is for a person to read). The signature is never read, and the token itself never leaves.
 * An opaque or encrypted token has no claims to show.
 */
export function decodeJwt(token: string): { header: Record<string, unknown> | null; payload: Record<string, unknown> | null } {
  const none = { header: null, payload: null };
  const parts = token.split('.');
  if (parts.length !== 3) return none;
  const header = parseSegment(parts[0] as string);
  const payload = parseSegment(parts[1] as string);
  if (!header || !payload || typeof header.alg !== 'string') return none;
  return { header, payload };
}

function parseSegment(segment: string): Record<string, unknown> | null {
  if (!/^[A-Za-z0-9_-]+$/.test(segment)) return null;
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
