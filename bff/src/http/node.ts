import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'hono';
import { tryDecodeURIComponent } from 'hono/utils/url';

/**
 * The hot path of a proxied MCP request reads what Node already parsed instead of the web Request view
 * @hono/node-server builds on demand (a Headers object, an AbortController and its EventTarget per
 * request). Without Node bindings (Hono's `app.request()` in tests, other runtimes) the web view is used.
 */
interface NodeBindings {
  incoming?: IncomingMessage;
  outgoing?: ServerResponse;
}

function bindings(c: Context): NodeBindings | undefined {
  return c.env as NodeBindings | undefined;
}

/** Node's request, when the app runs on Node. */
export function nodeRequest(c: Context): IncomingMessage | undefined {
  return bindings(c)?.incoming;
}

/** The Node response to write to directly, when the app runs on @hono/node-server. */
export function nodeResponse(c: Context): ServerResponse | undefined {
  return bindings(c)?.outgoing;
}

/** A request header by lower-case name; repeated headers are joined as the Fetch standard joins them. */
export function requestHeader(c: Context, name: string): string | undefined {
  const incoming = bindings(c)?.incoming;
  if (!incoming) return c.req.header(name);
  const value = incoming.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * The request's header lines as they arrived, `[name, value, name, value, …]`: names as the client
 * spelled them, a repeated header as several lines (requestHeader joins them, and "a, b" then reads the
 * same as one value with a comma). Without Node bindings, the web view's lines: lower-case, joined.
 */
export function requestHeaderLines(c: Context): readonly string[] {
  const incoming = bindings(c)?.incoming;
  if (incoming) return incoming.rawHeaders;
  const lines: string[] = [];
  c.req.raw.headers.forEach((value, name) => {
    lines.push(name, value);
  });
  return lines;
}

/** One cookie's value, from the Cookie header. */
export function requestCookie(c: Context, name: string): string | undefined {
  const header = requestHeader(c, 'cookie');
  if (!header) return undefined;
  return cookieValue(header, name);
}

/** Hono's test of a cookie value (hono/utils/cookie): what it does not pass is skipped. */
const COOKIE_VALUE = /^[ !#-:<-[\]-~]*$/;

function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/**
 * The value of the cookie `name` (a valid cookie name) in a Cookie header, read as hono's
 * `parse(header, name)[name]` reads it: the first pair of that name whose value is valid, trimmed,
 * without surrounding quotes, percent-decoded. Without splitting the header into every pair and
 * decoding every value, which on the proxied path was a measurable share of a call's CPU.
 */
export function cookieValue(header: string, name: string): string | undefined {
  for (let at = header.indexOf(name); at !== -1; at = header.indexOf(name, at + 1)) {
    // The name starts a pair: the header's start or a ';', then only spaces or tabs.
    let before = at - 1;
    while (before >= 0 && isSpace(header.charCodeAt(before))) before--;
    if (before >= 0 && header.charCodeAt(before) !== 0x3b) continue;
    // And it ends the pair's name: only spaces or tabs up to the '='.
    let after = at + name.length;
    while (after < header.length && isSpace(header.charCodeAt(after))) after++;
    if (header.charCodeAt(after) !== 0x3d) continue;
    let start = after + 1;
    let end = header.indexOf(';', start);
    if (end === -1) end = header.length;
    while (start < end && isSpace(header.charCodeAt(start))) start++;
    while (end > start && isSpace(header.charCodeAt(end - 1))) end--;
    let value = header.slice(start, end);
    if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (!COOKIE_VALUE.test(value)) continue;
    return value.includes('%') ? tryDecodeURIComponent(value) : value;
  }
  return undefined;
}

/** The request target's query string without the '?', or undefined when there is none. */
export function requestQuery(c: Context): string | undefined {
  const url = bindings(c)?.incoming?.url ?? c.req.url;
  const at = url.indexOf('?');
  return at === -1 ? undefined : url.slice(at + 1);
}

/** Calls `onGone` once when the client goes away (at once if it already has); returns a function that stops watching. */
export type ClientWatch = (onGone: () => void) => () => void;

/** A ClientWatch over an AbortSignal. */
export function watchSignal(signal: AbortSignal): ClientWatch {
  return (onGone) => {
    if (signal.aborted) {
      onGone();
      return () => {};
    }
    signal.addEventListener('abort', onGone, { once: true });
    return () => signal.removeEventListener('abort', onGone);
  };
}

/**
 * Watches for the browser going away before the answer is sent. On Node: the response's 'close' (before
 * anything is written only a closed connection emits it); elsewhere the request's AbortSignal.
 */
export function watchClient(c: Context): ClientWatch {
  const outgoing = nodeResponse(c);
  if (!outgoing) return watchSignal(c.req.raw.signal);
  return (onGone) => {
    if (outgoing.destroyed || outgoing.socket?.destroyed) {
      onGone();
      return () => {};
    }
    outgoing.once('close', onGone);
    return () => outgoing.off('close', onGone);
  };
}
