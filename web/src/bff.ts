/**
 * Talking to the BFF's own JSON routes (/bff/session, /bff/logout), and the one error type for
 * every failure the BFF reports, whether it came from /bff or from the /mcp proxy.
 */
import {
  type ApiErrorCode,
  type ConnectionDetails,
  CSRF_HEADER,
  CSRF_VALUE,
  type LoginErrorCode,
  type LogoutOutcome,
  type SessionInfo,
  type SignOutOffer,
} from '@mcp-bff/shared';
import { z } from 'zod';
import { bffRoutes } from '@mcp-bff/shared';
import { endSessionHref, logoutUrl, sessionUrl } from './urls';

/** The BFF's codes, plus two the SPA derives itself. */
export type BffErrorCode =
  | ApiErrorCode
  /** 404 on a request that carried an Mcp-Session-Id: the upstream MCP session is gone. */
  | 'mcp_session_expired'
  /** A non-2xx answer without a recognisable JSON error body. */
  | 'http_error';

export class BffError extends Error {
  override readonly name = 'BffError';
  readonly code: BffErrorCode;
  readonly status: number;
  /** For login_required and insufficient_scope. */
  readonly loginUrl: string | undefined;
  /** For insufficient_scope: the scopes asked for. */
  readonly scope: string | undefined;
  /** Seconds, from Retry-After, when the BFF sent it. */
  readonly retryAfter: number | undefined;
  /** The BFF's id for the request that failed: shown as the reference a person reports (it is in the BFF's log). */
  readonly requestId: string | undefined;

  constructor(
    code: BffErrorCode,
    status: number,
    extra: { loginUrl?: string; scope?: string; retryAfter?: number; requestId?: string; cause?: unknown } = {},
  ) {
    super(`BFF answered ${status} ${code}`, { cause: extra.cause });
    this.code = code;
    this.status = status;
    this.loginUrl = extra.loginUrl;
    this.scope = extra.scope;
    this.retryAfter = extra.retryAfter;
    this.requestId = extra.requestId;
  }

  /** A problem with the session as a whole, shown as a banner rather than next to one action. */
  get isSessionProblem(): boolean {
    return this.code === 'login_required' || this.code === 'insufficient_scope' || this.status === 503;
  }
}

const apiErrorCodes = [
  'login_required',
  'insufficient_scope',
  'csrf_failed',
  'not_found',
  'method_not_allowed',
  'payload_too_large',
  'bad_request',
  'upstream_unavailable',
  'upstream_timeout',
  'authorization_server_unavailable',
  'service_unavailable',
  'rate_limited',
  'too_many_streams',
  'service_credentials_failed',
  'enterprise_access_denied',
  'internal_error',
] as const satisfies readonly ApiErrorCode[];

const ApiErrorBody = z.looseObject({
  error: z.string(),
  loginUrl: z.string().optional(),
  scope: z.string().optional(),
  requestId: z.string().optional(),
});

/** The BFF's request ids are UUIDs; anything else (a proxy's page, a header someone added) is not shown. */
const REQUEST_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** `value` when it is a request id the BFF could have made, else undefined. */
export function requestIdOrUndefined(value: string | null | undefined): string | undefined {
  return value && REQUEST_ID.test(value) ? value : undefined;
}

/** Turns a non-2xx BFF response into a BffError. Reads (and so consumes) the body. */
export async function processErrorResponse(response: Response): Promise<BffError> {
  const retryAfterHeader = Number(response.headers.get('Retry-After'));
  const retryAfter = Number.isFinite(retryAfterHeader) && retryAfterHeader > 0 ? retryAfterHeader : undefined;
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  const parsed = ApiErrorBody.safeParse(body);
  const known = parsed.success
    ? apiErrorCodes.find((code) => code === parsed.data.error)
    : undefined;
  return new BffError(known ?? 'http_error', response.status, {
    loginUrl: parsed.success ? parsed.data.loginUrl : undefined,
    scope: parsed.success ? parsed.data.scope : undefined,
    retryAfter,
    // The body's, else the header's (an answer without a BFF body, e.g. an MCP server's own error).
    requestId: requestIdOrUndefined(parsed.success ? parsed.data.requestId : undefined) ?? requestIdOrUndefined(response.headers.get('X-Request-Id')),
  });
}

// Lenient on purpose: a status this page does not know yet is shown as it is, not a broken page.
const ConnectionInfoSchema = z.looseObject({
  server: z.string(),
  name: z.string(),
  status: z.string(),
  scopes: z.array(z.string()).catch([]),
  expiresAt: z.number().nullable().catch(null),
  loginUrl: z.string().catch(''),
});

const SessionInfoSchema = z.looseObject({
  authenticated: z.boolean(),
  connections: z.array(ConnectionInfoSchema),
});

function csrfHeaders(): Headers {
  return new Headers({ [CSRF_HEADER]: CSRF_VALUE, Accept: 'application/json' });
}

export async function sessionRequest(signal?: AbortSignal): Promise<Response> {
  return fetch(sessionUrl, { headers: csrfHeaders(), credentials: 'same-origin', signal: signal ?? null });
}

export async function processSessionResponse(response: Response): Promise<SessionInfo> {
  if (!response.ok) throw await processErrorResponse(response);
  const parsed = SessionInfoSchema.safeParse(await response.json());
  if (!parsed.success) throw new BffError('http_error', response.status, { cause: parsed.error });
  return parsed.data as SessionInfo;
}

export async function getSession(signal?: AbortSignal): Promise<SessionInfo> {
  return processSessionResponse(await sessionRequest(signal));
}

// Only what the page cannot do without is checked; the rest is shown as it came.
const ConnectionDetailsSchema = z.looseObject({
  server: z.string(),
  status: z.string(),
  claims: z.looseObject({ enabled: z.boolean() }),
});

/** How the BFF is connected to `server` (the connection details view): never a token or secret. */
export async function getConnectionDetails(server: string, signal?: AbortSignal): Promise<ConnectionDetails> {
  const response = await fetch(bffRoutes.connection(server), { headers: csrfHeaders(), credentials: 'same-origin', signal: signal ?? null });
  if (!response.ok) throw await processErrorResponse(response);
  const parsed = ConnectionDetailsSchema.safeParse(await response.json());
  if (!parsed.success) throw new BffError('http_error', response.status, { cause: parsed.error });
  return parsed.data as unknown as ConnectionDetails;
}

/** Ends one server's connection at the BFF (its tokens are revoked); the session and the rest stay. */
export async function disconnect(server: string): Promise<void> {
  const response = await fetch(bffRoutes.disconnect(server), {
    method: 'POST',
    headers: csrfHeaders(),
    credentials: 'same-origin',
  });
  if (!response.ok) throw await processErrorResponse(response);
  await response.body?.cancel();
}

const LogoutResultSchema = z.looseObject({
  signOut: z
    .array(z.object({ host: z.string().min(1), servers: z.array(z.string()), url: z.string() }))
    .optional()
    .catch(undefined),
});

/**
 * Ends the session at the BFF (every connection, tokens revoked). Answers the sign-outs at
 * authorization servers the BFF offers next: only links to the BFF's own end-session route survive.
 */
export async function logout(): Promise<SignOutOffer[]> {
  const response = await fetch(logoutUrl, {
    method: 'POST',
    headers: csrfHeaders(),
    credentials: 'same-origin',
  });
  if (!response.ok) throw await processErrorResponse(response);
  const parsed = LogoutResultSchema.safeParse(await response.json().catch(() => undefined));
  const offers = parsed.success ? (parsed.data.signOut ?? []) : [];
  return offers.flatMap((offer) => {
    const url = endSessionHref(offer.url);
    return url ? [{ ...offer, url }] : [];
  });
}

/** What the person is told on coming back from (or not getting to) an authorization server's sign-out. */
const logoutMessages: Record<LogoutOutcome, string> = {
  signed_out: 'You are logged out, and back from the authorization server’s sign-out page.',
  sign_out_unconfirmed:
    'You are logged out of this app. A sign-out at an authorization server did not match one started on this page, so nothing more was done.',
  sign_out_expired:
    'You are logged out of this app. The offer to sign out at the authorization server was already used or has expired; sign out on its own site.',
  sign_out_unavailable:
    'You are logged out of this app. The authorization server cannot be signed out of from here right now; sign out on its own site.',
};

/** The message for a `?logout=` code and whether it is good news; unknown codes get a neutral text. */
export function logoutOutcomeMessage(code: string): { text: string; ok: boolean } {
  return Object.hasOwn(logoutMessages, code)
    ? { text: logoutMessages[code as LogoutOutcome], ok: code === 'signed_out' }
    : { text: 'You are logged out of this app.', ok: true };
}

/** Fixed text for each login failure code; the parameter's own value is never shown. */
const loginErrorMessages: Record<LoginErrorCode, string> = {
  access_denied: 'Access was denied, or the sign-in was cancelled.',
  authorization_failed: 'The authorization server could not complete the sign-in. Please try again.',
  login_expired: 'The sign-in took too long and expired. Please try again.',
  state_mismatch: 'The sign-in response did not match this browser session. Please try again.',
  token_exchange_failed: 'Signing in could not be completed. Please try again.',
  authorization_server_unavailable: 'The authorization server is unavailable. Try again shortly.',
  resource_mismatch: 'The MCP server described itself inconsistently, so signing in was refused for safety.',
  pkce_unsupported: 'The authorization server does not support secure sign-in (PKCE with S256), so signing in was refused.',
  registration_failed: 'This app could not register with the authorization server. Please try again later.',
  insufficient_scope: 'The extra permission was not granted, so the action still cannot be done.',
  rate_limited: 'Too many sign-in attempts came from your network. Wait a minute and try again.',
  enterprise_access_denied:
    "Your organisation's identity provider did not allow access to this server, or the server did not accept it. Ask your administrator if you need it.",
};

export function loginErrorMessage(code: string): string {
  return Object.hasOwn(loginErrorMessages, code)
    ? loginErrorMessages[code as LoginErrorCode]
    : 'Signing in failed. Please try again.';
}

/** Fixed, readable text for a BffError; never the server's own words. */
export function bffErrorMessage(error: BffError): string {
  switch (error.code) {
    case 'login_required':
      return 'Your session has ended.';
    case 'insufficient_scope':
      return 'This needs more permission than you have granted.';
    case 'authorization_server_unavailable':
      return 'The authorization server is unavailable. Try again shortly.';
    case 'service_unavailable':
      return 'The service is briefly unavailable. Try again shortly.';
    case 'upstream_unavailable':
      return 'The MCP server is unavailable. Try again shortly.';
    case 'upstream_timeout':
      return 'The MCP server did not answer in time. Try again shortly.';
    case 'mcp_session_expired':
      return 'The connection to the MCP server expired. Please try again.';
    case 'csrf_failed':
      return 'The request was refused as a possible cross-site request. Reload the page and try again.';
    case 'payload_too_large':
      return 'The request was too large.';
    case 'rate_limited':
      return 'Too many requests came from your network. Try again shortly.';
    case 'too_many_streams':
      return 'Too many live connections to MCP servers are open. Close another tab or wait, then try again.';
    case 'service_credentials_failed':
      return "This deployment's service identity was refused for this server (the BFF's log says why). Ask whoever runs this app.";
    case 'enterprise_access_denied':
      return "Your organisation's identity provider did not allow access to this server, or the server did not accept it. Ask your administrator if you need it.";
    case 'not_found':
      return 'Not found.';
    default:
      return error.status === 503
        ? 'The authorization server is unavailable. Try again shortly.'
        : `Something went wrong (HTTP ${error.status}).`;
  }
}
