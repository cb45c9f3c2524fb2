import type { ApiError, ApiErrorCode } from '@mcp-bff/shared';

const STATUS: Record<ApiErrorCode, number> = {
  login_required: 401,
  insufficient_scope: 403,
  csrf_failed: 403,
  not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  bad_request: 400,
  upstream_unavailable: 502,
  upstream_timeout: 504,
  authorization_server_unavailable: 503,
  service_unavailable: 503,
  rate_limited: 429,
  too_many_streams: 429,
  service_credentials_failed: 502,
  enterprise_access_denied: 403,
  internal_error: 500,
};

/**
 * The one error type API routes throw. Callers branch on `code`, never on the message; the message is
 * safe to show (it never contains upstream text or secrets).
 */
export class ApiFailure extends Error {
  readonly status: number;
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly extra: Omit<ApiError, 'error' | 'message'> = {},
    readonly headers: Record<string, string> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ApiFailure';
    this.status = STATUS[code];
  }

  toJSON(): ApiError {
    return { error: this.code, message: this.message, ...this.extra };
  }
}

export function loginRequired(loginUrl: string, message = 'Sign in to this MCP server to continue.'): ApiFailure {
  return new ApiFailure('login_required', message, { loginUrl });
}

export function authServerUnavailable(cause?: unknown): ApiFailure {
  return new ApiFailure(
    'authorization_server_unavailable',
    'The authorization server is unavailable; try again shortly.',
    {},
    { 'Retry-After': '5' },
    { cause },
  );
}

/** Too many requests from this address for now; `retryAfterSeconds` until the next is counted. */
export function rateLimited(retryAfterSeconds: number): ApiFailure {
  return new ApiFailure('rate_limited', 'Too many requests; try again shortly.', {}, { 'Retry-After': String(retryAfterSeconds) });
}

/** The BFF's own session and token store cannot be reached: nothing about the session is decided. */
export function serviceUnavailable(): ApiFailure {
  return new ApiFailure('service_unavailable', 'The service is briefly unavailable; try again shortly.', {}, { 'Retry-After': '2' });
}
