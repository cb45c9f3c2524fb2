import type { MiddlewareHandler } from 'hono';
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

export function requireSameOriginApi({ origin, log }: CsrfOptions): MiddlewareHandler {
  return async function sameOriginApi(c, next) {
    const reason = csrfProblem(requestHeader(c, CSRF_HEADER_NAME), requestHeader(c, 'origin'), requestHeader(c, 'sec-fetch-site'), origin);
    if (reason) {
      log.warn({ event: 'security', kind: 'csrf_rejected', reason, path: c.req.path, reqId: c.get('requestId' as never) });
      throw new ApiFailure('csrf_failed', 'This request must come from the app itself.');
    }
    await next();
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
