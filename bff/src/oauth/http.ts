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

/**
 * requestOptions for a token endpoint request: `Accept: application/json` is sent (oauth4webapi does),
 * and whatever the answer's content type, a token response in it is read (tokenResponseReader).
 */
export function tokenRequestOptions(url: string, policy: OutboundPolicy, timeoutMs = policy.timeoutMs): ReturnType<typeof requestOptions> {
  return { ...requestOptions(url, policy, timeoutMs), [oauth.customFetch]: tokenResponseReader(policy.fetch) };
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json$/;

/**
 * Wraps a fetch so that token endpoint answers read as JSON whatever they say they are. Some token
 * endpoints answer `application/x-www-form-urlencoded` (GitHub's OAuth apps, some older servers), or
 * JSON labelled text/plain or text/html; some answer an error with status 200 (GitHub again). The body
 * is handed on as JSON (with its own headers otherwise), and an error answered with 200 gets 400, so
 * that oauth4webapi sees the OAuth error it is. Anything else is handed on as it came.
 */
export function tokenResponseReader(inner: typeof fetch): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const response = await inner(input, init);
    const type = (response.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    if (!response.body || (response.status !== 200 && (response.status < 400 || response.status > 499))) return response;
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      // Too big, cut off: handed on failing the same way, for the caller to judge as before.
      const failing = new ReadableStream<Uint8Array>({ start: (controller) => controller.error(error) });
      const out = new Response(failing, { status: response.status, statusText: response.statusText, headers: response.headers });
      Object.defineProperty(out, 'url', { value: response.url });
      return out;
    }
    let body: Record<string, unknown> | undefined;
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
    } catch {
      if (!JSON_TYPE.test(type)) {
        const form = new URLSearchParams(text.trim());
        if (form.has('access_token') || form.has('error')) body = Object.fromEntries(form);
      }
    }
    const headers = new Headers(response.headers);
    headers.delete('content-length');
    headers.delete('content-encoding');
    let status = response.status;
    if (body) {
      headers.set('content-type', 'application/json');
      if (status === 200 && typeof body.error === 'string' && body.access_token === undefined) status = 400;
    }
    const out = new Response(body ? JSON.stringify(body) : text, { status, statusText: response.statusText, headers });
    Object.defineProperty(out, 'url', { value: response.url });
    return out;
  }) as typeof fetch;
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
