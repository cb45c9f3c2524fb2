import * as oauth from 'oauth4webapi';
import { isLoopbackHost } from '../config.js';
import { OAuthFailure } from './errors.js';

export interface OutboundPolicy {
  allowHttpLoopback: boolean;
  timeoutMs: number;
  /** The guarded fetch (see outbound.ts) every request to an AS or to metadata goes through. */
  fetch: typeof fetch;
}

/**
 * Options every oauth4webapi request gets: a timeout (the policy's, or less when the caller has less
 * time left), and plain http only towards loopback hosts when the deployment allows it (the demo).
 * Everything else must be https, which oauth4webapi enforces.
 */
export function requestOptions(
  url: string,
  policy: OutboundPolicy,
  timeoutMs = policy.timeoutMs,
): {
  signal: AbortSignal;
  [oauth.allowInsecureRequests]?: boolean;
  [oauth.customFetch]: typeof fetch;
} {
  const u = new URL(url);
  const insecureOk = policy.allowHttpLoopback && u.protocol === 'http:' && isLoopbackHost(u.hostname);
  return {
    signal: AbortSignal.timeout(Math.max(1, Math.min(timeoutMs, policy.timeoutMs))),
    [oauth.customFetch]: policy.fetch,
    ...(insecureOk ? { [oauth.allowInsecureRequests]: true } : {}),
  };
}

/** Checks a URL read from metadata before the BFF sends anything to it. */
export function checkOutboundUrl(url: string, policy: OutboundPolicy, what: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new OAuthFailure('discovery_failed', `${what} is not a URL`);
  }
  if (u.username || u.password) throw new OAuthFailure('discovery_failed', `${what} must not contain credentials`);
  if (u.protocol === 'https:') return u;
  if (u.protocol === 'http:' && policy.allowHttpLoopback && isLoopbackHost(u.hostname)) return u;
  throw new OAuthFailure('discovery_failed', `${what} must be https`);
}

/** Network failures, timeouts, 5xx and 429 are worth one more try; anything else is an answer. */
export function isTransient(error: unknown): boolean {
  if (error instanceof oauth.ResponseBodyError) return error.status >= 500 || error.status === 429;
  if (error instanceof oauth.OperationProcessingError) {
    const status = (error.cause as Response | undefined)?.status;
    return typeof status === 'number' && (status >= 500 || status === 429);
  }
  if (error instanceof Error) {
    return error.name === 'TimeoutError' || error.name === 'AbortError' || error instanceof TypeError;
  }
  return false;
}

const MAX_JSON_BYTES = 256 * 1024;

/**
 * GETs a small JSON document: redirects are not followed, the body is capped, and only a 200 counts.
 * Undefined for "not here" (4xx, not JSON, too big); throws as_unavailable for 5xx, 429 and network
 * failures.
 */
export async function fetchJson(url: string, policy: OutboundPolicy): Promise<unknown> {
  let response: Response;
  try {
    response = await policy.fetch(url, { headers: { accept: 'application/json' }, redirect: 'manual', signal: AbortSignal.timeout(policy.timeoutMs) });
  } catch (error) {
    throw new OAuthFailure('as_unavailable', `${new URL(url).origin} could not be reached`, { cause: error });
  }
  if (response.status >= 500 || response.status === 429) {
    await response.body?.cancel();
    throw new OAuthFailure('as_unavailable', `${new URL(url).origin} answered ${response.status}`);
  }
  if (response.status !== 200 || !response.body) {
    await response.body?.cancel();
    return undefined;
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_JSON_BYTES) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return undefined;
  }
}
