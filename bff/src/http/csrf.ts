import type { Context, MiddlewareHandler } from 'hono';
import { CSRF_HEADER, CSRF_VALUE } from '@mcp-bff/shared';
import type { Logger } from '../log.js';
import { ApiFailure } from './errors.js';
import { requestHeader } from './node.js';

export interface CsrfOptions {
  /** The app's own origin; any Origin header present must equal it. */
  origin: string;
  log: Logger;
}

/**
 * Requires the custom header that a cross-site page cannot send without a CORS preflight (which this
 * BFF never grants), and refuses requests a browser labels as coming from elsewhere.
 */
const CSRF_HEADER_NAME = CSRF_HEADER.toLowerCase();

export function requireSameOriginApi(options: CsrfOptions): MiddlewareHandler {
  const check = sameOriginCheck(options);
  return async function sameOriginApi(c, next) {
    check(c);
    await next();
  };
}

/**
 * The same check as a plain function that throws (ApiFailure csrf_failed), for a route that calls it
 * first thing instead of going through one more middleware layer (the proxied /mcp/:server route).
 */
export function sameOriginCheck({ origin, log }: CsrfOptions): (c: Context) => void {
  return function checkSameOrigin(c) {
    const reason = csrfProblem(requestHeader(c, CSRF_HEADER_NAME), requestHeader(c, 'origin'), requestHeader(c, 'sec-fetch-site'), origin);
    if (reason) {
      log.warn({ event: 'security', kind: 'csrf_rejected', reason, path: c.req.path, reqId: c.get('requestId' as never) });
      throw new ApiFailure('csrf_failed', 'This request must come from the app itself.');
    }
  };
}

export function csrfProblem(
  csrf: string | undefined,
  requestOrigin: string | undefined,
  secFetchSite: string | undefined,
  origin: string,
): string | undefined {
  if (csrf !== CSRF_VALUE) return 'missing X-CSRF header';
  if (requestOrigin !== undefined && requestOrigin !== origin) return 'foreign Origin';
  if (secFetchSite !== undefined && secFetchSite !== 'same-origin') return 'Sec-Fetch-Site is not same-origin';
  return undefined;
}
