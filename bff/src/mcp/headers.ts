import { ApiFailure } from '../http/errors.js';

/**
 * Which headers cross the proxy, and in what shape. Allowlists both ways: the browser's Cookie and
 * Authorization never go upstream (only those checkRequestHeaders names do), the MCP server's Set-Cookie
 * and hop-by-hop headers never come back. What goes upstream is checked first: a request with a header
 * the MCP server (or anything between) could read differently from the browser is refused whole, never
 * forwarded with the header dropped.
 */
export const RESPONSE_HEADERS = ['content-type', 'mcp-session-id', 'mcp-protocol-version', 'cache-control'] as const;

/** Tool arguments annotated `x-mcp-header` travel as `Mcp-Param-{Name}` (2026-07-28, Streamable HTTP). */
export const MCP_PARAM_PREFIX = 'mcp-param-';

/**
 * Bounds on the request headers the proxy forwards, in characters (a byte each: only ASCII passes).
 * Node refuses a whole header block over 16 KB with 431 before any of this runs; these bounds keep what
 * the BFF sends on (plus its own Authorization, a few KB with some authorization servers) within what MCP
 * servers and the proxies in front of them take (16 KB per block in Node, 8 KB per line in nginx), so an
 * oversized request is refused here, naming the header, instead of by the MCP server with a bare 431.
 */
export const REQUEST_HEADER_LIMITS = {
  /** Content-Type, Accept, Last-Event-ID: far beyond any real value. */
  value: 1024,
  /** Mcp-Session-Id (MCP asks for visible ASCII; 256 is far beyond the UUIDs servers mint). */
  sessionId: 256,
  /** Mcp-Method: MCP's method names are under 40 characters. */
  method: 128,
  /**
   * Mcp-Name and each Mcp-Param-* value: a tool or prompt name, a resource URI, a string argument,
   * a third larger as Base64. Half the total, so that a long URI still leaves room for parameters.
   */
  mirroredValue: 4096,
  /** The {Name} of Mcp-Param-{Name}: an `x-mcp-header` name, in practice a word or two. */
  paramName: 64,
  /** Mcp-Param-* headers per request: tools annotate one or two arguments for routing, not dozens. */
  params: 32,
  /** Names and values of everything forwarded, together. */
  total: 8192,
} as const;

/**
 * Request headers checked by checkRequestHeaders, lower-case names: the only ones that go upstream.
 * The proxy adds `authorization`.
 */
export type UpstreamRequestHeaders = Record<string, string> & { readonly [checked]: true };
declare const checked: unique symbol;

const PROTOCOL_VERSION = 'MCP-Protocol-Version';
const BASE64_PREFIX = '=?base64?';
const BASE64_SUFFIX = '?=';

/** RFC 9110 §5.6.2 tchar, by character code. */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TCHAR[c.charCodeAt(0)] = 1;

/** RFC 4648 §4 Base64 alphabet, by character code ('=' only as padding, checked apart). */
const BASE64 = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') BASE64[c.charCodeAt(0)] = 1;

/** Visible ASCII only (0x21–0x7E), at least one character. */
function isVisibleAscii(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

/** Mcp-Session-Id: visible ASCII (0x21–0x7E), bounded (MCP transport spec). */
export function isValidMcpSessionId(value: string): boolean {
  return value.length <= REQUEST_HEADER_LIMITS.sessionId && isVisibleAscii(value);
}

/** The digit at `i`, or NaN. */
function digitAt(value: string, i: number): number {
  const d = value.charCodeAt(i) - 0x30;
  return d >= 0 && d <= 9 ? d : Number.NaN;
}

/** MCP revisions are dates: YYYY-MM-DD, month 01–12, day 01–31. Any such date passes, future ones too. */
function isRevisionDate(value: string): boolean {
  if (value.length !== 10 || value.charCodeAt(4) !== 0x2d || value.charCodeAt(7) !== 0x2d) return false;
  const year = digitAt(value, 0) + digitAt(value, 1) + digitAt(value, 2) + digitAt(value, 3);
  const month = digitAt(value, 5) * 10 + digitAt(value, 6);
  const day = digitAt(value, 8) * 10 + digitAt(value, 9);
  // NaN fails every comparison.
  return year >= 0 && month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

/** value[from, to) is Base64 (RFC 4648 §4): whole quanta, '=' padding only at the end. Empty is valid. */
function isBase64(value: string, from: number, to: number): boolean {
  if ((to - from) % 4 !== 0) return false;
  let end = to;
  if (end > from && value.charCodeAt(end - 1) === 0x3d) end--;
  if (end > from && value.charCodeAt(end - 1) === 0x3d) end--;
  for (let i = from; i < end; i++) {
    const c = value.charCodeAt(i);
    if (c > 0x7f || BASE64[c] !== 1) return false;
  }
  return true;
}

/**
 * A value of Mcp-Name or Mcp-Param-{Name} ("Value Encoding", 2026-07-28 Streamable HTTP): visible
 * ASCII with inner spaces or tabs only, or the sentinel `=?base64?…?=` with Base64 inside. A plain value
 * that looks like the sentinel must have been encoded by the client, so one that is not valid Base64 is
 * malformed, not plain.
 */
export function isValidMirroredValue(value: string): boolean {
  const n = value.length;
  if (n === 0) return false;
  if (value.startsWith(BASE64_PREFIX) && value.endsWith(BASE64_SUFFIX)) {
    return n >= BASE64_PREFIX.length + BASE64_SUFFIX.length && isBase64(value, BASE64_PREFIX.length, n - BASE64_SUFFIX.length);
  }
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c >= 0x21 && c <= 0x7e) continue;
    // Inner whitespace only: field parsing strips it at either end, so the value would change.
    if ((c === 0x20 || c === 0x09) && i > 0 && i < n - 1) continue;
    return false;
  }
  return true;
}

/** The {Name} of Mcp-Param-{Name}, from the lower-cased header name: an RFC 9110 token, bounded. */
function isParamName(name: string): boolean {
  const n = name.length;
  if (n <= MCP_PARAM_PREFIX.length || n > MCP_PARAM_PREFIX.length + REQUEST_HEADER_LIMITS.paramName) return false;
  for (let i = MCP_PARAM_PREFIX.length; i < n; i++) {
    const c = name.charCodeAt(i);
    if (c > 0x7f || TCHAR[c] !== 1) return false;
  }
  return true;
}

/** Messages name the header, never repeat its value (it may be long, or a secret argument). */
function badHeader(message: string): ApiFailure {
  return new ApiFailure('bad_request', message);
}

function tooLong(label: string, limit: number): ApiFailure {
  return badHeader(`The ${label} header is longer than ${limit} characters.`);
}

/**
 * The browser's headers that go to the MCP server, and only these: Content-Type, Accept, Last-Event-ID,
 * Mcp-Session-Id and MCP-Protocol-Version (2025-11-25), Mcp-Method, Mcp-Name and Mcp-Param-{Name}
 * (2026-07-28). MCP's own are checked as the Streamable HTTP transport allows them, every one is
 * bounded, none but Accept (a list) may be repeated. Throws a 400 ApiFailure naming the first bad header.
 *
 * @param lines the request's header lines, `[name, value, name, value, …]`, repeated headers unjoined
 *   (Node's rawHeaders): a joined "a, b" cannot be told from one value with a comma.
 */
export function checkRequestHeaders(lines: readonly string[]): UpstreamRequestHeaders {
  const out: Record<string, string> = {};
  let total = 0;
  let params = 0;
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const raw = lines[i] as string;
    // Most of a request's headers are none of MCP's: the first letter rules them out without a copy.
    const first = raw.charCodeAt(0) | 0x20;
    if (first !== 0x6d && first !== 0x61 && first !== 0x63 && first !== 0x6c) continue; // m, a, c, l
    const name = raw.toLowerCase();
    const value = lines[i + 1] as string;
    let label: string;
    let limit: number = REQUEST_HEADER_LIMITS.value;
    switch (name) {
      case 'accept':
        if (value.length > limit) throw tooLong('Accept', limit);
        total += name.length + value.length + (out.accept === undefined ? 0 : 2);
        if (total > REQUEST_HEADER_LIMITS.total) throw tooLarge();
        // A list: repeated lines mean one list, as HTTP joins them.
        out.accept = out.accept === undefined ? value : `${out.accept}, ${value}`;
        continue;
      case 'content-type':
        label = 'Content-Type';
        break;
      case 'last-event-id':
        label = 'Last-Event-ID';
        break;
      case 'mcp-session-id':
        label = 'Mcp-Session-Id';
        limit = REQUEST_HEADER_LIMITS.sessionId;
        if (value.length <= limit && !isVisibleAscii(value)) throw badHeader('The Mcp-Session-Id header must be visible ASCII characters.');
        break;
      case 'mcp-protocol-version':
        label = PROTOCOL_VERSION;
        if (!isRevisionDate(value)) throw badHeader(`The ${PROTOCOL_VERSION} header must be a revision date, YYYY-MM-DD.`);
        break;
      case 'mcp-method':
        label = 'Mcp-Method';
        limit = REQUEST_HEADER_LIMITS.method;
        if (value.length <= limit && !isVisibleAscii(value)) throw badHeader('The Mcp-Method header must be a JSON-RPC method name: visible ASCII, no spaces.');
        break;
      case 'mcp-name':
        label = 'Mcp-Name';
        limit = REQUEST_HEADER_LIMITS.mirroredValue;
        if (value.length <= limit && !isValidMirroredValue(value)) throw malformedMirrored(label);
        break;
      default:
        if (!name.startsWith(MCP_PARAM_PREFIX)) continue;
        if (!isParamName(name)) {
          throw badHeader(`An Mcp-Param-{Name} header needs a {Name} of 1 to ${REQUEST_HEADER_LIMITS.paramName} token characters (RFC 9110).`);
        }
        label = `Mcp-Param-${name.slice(MCP_PARAM_PREFIX.length)}`;
        limit = REQUEST_HEADER_LIMITS.mirroredValue;
        if (out[name] === undefined && ++params > REQUEST_HEADER_LIMITS.params) {
          throw badHeader(`At most ${REQUEST_HEADER_LIMITS.params} Mcp-Param-* headers are allowed.`);
        }
        if (value.length <= limit && !isValidMirroredValue(value)) throw malformedMirrored(label);
    }
    if (value.length > limit) throw tooLong(label, limit);
    // One value each: of two, the MCP server and anything between could each pick another.
    if (out[name] !== undefined) throw badHeader(`The ${label} header is sent more than once.`);
    total += name.length + value.length;
    if (total > REQUEST_HEADER_LIMITS.total) throw tooLarge();
    out[name] = value;
  }
  return out as UpstreamRequestHeaders;
}

function malformedMirrored(label: string): ApiFailure {
  return badHeader(`The ${label} header must be visible ASCII (inner spaces allowed) or =?base64?…?= with Base64 inside.`);
}

function tooLarge(): ApiFailure {
  return badHeader(`The MCP request headers are longer than ${REQUEST_HEADER_LIMITS.total} characters together.`);
}

/** Node's view of response headers: lower-case names, repeated ones as arrays. */
export type NodeHeaders = Record<string, string | string[] | undefined>;

export function headerValue(headers: NodeHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

export function downstreamResponseHeaders(upstream: NodeHeaders, status: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of RESPONSE_HEADERS) {
    const value = headerValue(upstream, name);
    if (value !== undefined) out[name] = value;
  }
  // The body passes through untouched, so its length holds; with it the browser's answer is not
  // chunked, and a JSON answer goes out in one write instead of two.
  // Not on 204 and 304, which have no body whatever the header says.
  const length = upstream['content-length'];
  if (typeof length === 'string' && /^\d{1,15}$/.test(length) && status !== 204 && status !== 304) out['content-length'] = length;
  if (out['content-type']?.startsWith('text/event-stream')) {
    out['cache-control'] = 'no-cache, no-transform';
    // Tells an nginx in front not to buffer the stream.
    out['x-accel-buffering'] = 'no';
  } else {
    out['cache-control'] = 'no-store';
  }
  return out;
}
