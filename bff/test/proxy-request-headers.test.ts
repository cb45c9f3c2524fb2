import { describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { ApiFailure } from '../src/http/errors.js';
import { createLogger } from '../src/log.js';
import { checkRequestHeaders, isValidMirroredValue, REQUEST_HEADER_LIMITS } from '../src/mcp/headers.js';
import { MemoryTokenStore } from '../src/store/memory.js';

/**
 * What the proxy lets through to the MCP server, checked without a network: the 2026-07-28 request
 * headers (MCP-Protocol-Version, Mcp-Method, Mcp-Name, Mcp-Param-*) as the Streamable HTTP transport
 * allows them, every forwarded header bounded, none repeated. The same rules over HTTP, against the real
 * demo stack, are in proxy-modern.test.ts.
 */

/** What the SPA sends with every 2026-07-28 POST. */
const MODERN = ['Content-Type', 'application/json', 'Accept', 'application/json, text/event-stream', 'MCP-Protocol-Version', '2026-07-28'];

function refusal(lines: string[]): string {
  try {
    checkRequestHeaders(lines);
  } catch (error) {
    expect(error).toBeInstanceOf(ApiFailure);
    const failure = error as ApiFailure;
    expect(failure.status).toBe(400);
    expect(failure.code).toBe('bad_request');
    return failure.message;
  }
  throw new Error('accepted');
}

describe('MCP request headers', () => {
  it('passes the 2026-07-28 headers on as sent, names lower-cased, and nothing else of the browser’s', () => {
    const out = checkRequestHeaders([
      ...MODERN,
      ...['Mcp-Method', 'tools/call', 'Mcp-Name', 'execute_sql', 'Mcp-Param-Region', 'us-west1', 'mcp-param-tenant_id', 'acme corp'],
      ...['Mcp-Param-Greeting', '=?base64?SGVsbG8sIOS4lueVjA==?=', 'Cookie', 'mcp_session=abc', 'Authorization', 'Bearer browser'],
      ...['Host', 'app.example.com', 'Mcp-Unknown', 'x', 'X-Mcp-Param-Region', 'x', 'Mcp-Params-Region', 'x'],
    ]);
    expect(out).toEqual({
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/call',
      'mcp-name': 'execute_sql',
      'mcp-param-region': 'us-west1',
      'mcp-param-tenant_id': 'acme corp',
      'mcp-param-greeting': '=?base64?SGVsbG8sIOS4lueVjA==?=',
    });
  });

  it.each([
    ['plain ASCII', 'us-west1'],
    ['inner spaces and tabs', 'a b\tc'],
    ['a resource URI', 'file:///projects/myapp/config.json?x=1#y'],
    ['the spec’s non-ASCII example', '=?base64?SGVsbG8sIOS4lueVjA==?='],
    ['the spec’s padded example', '=?base64?IHBhZGRlZCA=?='],
    ['the spec’s newline example', '=?base64?bGluZTEKbGluZTI=?='],
    ['the spec’s sentinel-lookalike example', '=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?='],
    ['an encoded empty string', '=?base64??='],
    ['a prefix without the suffix (plain)', '=?base64?abc'],
    ['a suffix without the prefix (plain)', 'abc?='],
    ['upper-case markers (they are case-sensitive: plain)', '=?BASE64?SGVsbG8=?='],
  ])('Mcp-Name and Mcp-Param-* accept %s', (_name, value) => {
    expect(isValidMirroredValue(value)).toBe(true);
    expect(checkRequestHeaders(['Mcp-Name', value, 'Mcp-Param-X', value])).toEqual({ 'mcp-name': value, 'mcp-param-x': value });
  });

  it.each([
    ['empty', ''],
    ['a leading space', ' abc'],
    ['a trailing tab', 'abc\t'],
    ['non-ASCII', 'caf\u00e9'],
    ['a control character', 'a\u0001b'],
    ['DEL', 'a\u007fb'],
    ['a sentinel with a space inside', '=?base64?SGVs bG8=?='],
    ['a sentinel with base64url inside', '=?base64?-_-_?='],
    ['a sentinel with a partial quantum', '=?base64?SGVsbG8?='],
    ['a sentinel with padding inside', '=?base64?SG=sbG8=?='],
    ['a sentinel with three padding characters', '=?base64?S===?='],
    ['the sentinel’s markers overlapping', '=?base64?='],
  ])('Mcp-Name and Mcp-Param-* refuse %s, naming the header but not repeating the value', (_name, value) => {
    expect(isValidMirroredValue(value)).toBe(false);
    const name = refusal([...MODERN, 'Mcp-Name', value]);
    expect(name).toMatch(/Mcp-Name/);
    const param = refusal([...MODERN, 'Mcp-Param-Region', value]);
    expect(param).toMatch(/Mcp-Param-region/);
    if (value.length > 3) for (const message of [name, param]) expect(message).not.toContain(value);
  });

  it.each([
    ['2025-11-25', true],
    ['2026-07-28', true],
    ['2024-11-05', true],
    ['2031-12-31', true],
    ['2026-7-28', false],
    ['2026-07-28 ', false],
    ['20260728', false],
    ['2026-13-01', false],
    ['2026-00-10', false],
    ['2026-07-32', false],
    ['2026-07-00', false],
    ['2026/07/28', false],
    ['２０２６-07-28', false],
    ['latest', false],
    ['DRAFT-2026-v1', false],
  ])('MCP-Protocol-Version %s: %s', (value, ok) => {
    const lines = ['MCP-Protocol-Version', value];
    if (ok) expect(checkRequestHeaders(lines)).toEqual({ 'mcp-protocol-version': value });
    else expect(refusal(lines)).toMatch(/MCP-Protocol-Version.*YYYY-MM-DD/);
  });

  it('Mcp-Method is a JSON-RPC method name: visible ASCII, bounded', () => {
    for (const method of ['tools/call', 'subscriptions/listen', 'notifications/resources/list_changed', 'x'.repeat(REQUEST_HEADER_LIMITS.method)]) {
      expect(checkRequestHeaders(['Mcp-Method', method])).toEqual({ 'mcp-method': method });
    }
    for (const method of ['', 'tools/ call', 'tools/call\u00e9', 'a\tb']) expect(refusal(['Mcp-Method', method])).toMatch(/Mcp-Method/);
    const long = refusal(['Mcp-Method', 'x'.repeat(REQUEST_HEADER_LIMITS.method + 1)]);
    expect(long).toBe(`The Mcp-Method header is longer than ${REQUEST_HEADER_LIMITS.method} characters.`);
  });

  it('Mcp-Param-{Name}: the name is an RFC 9110 token, bounded', () => {
    const longest = 'a'.repeat(REQUEST_HEADER_LIMITS.paramName);
    expect(checkRequestHeaders([`Mcp-Param-${longest}`, 'v'])).toEqual({ [`mcp-param-${longest}`]: 'v' });
    expect(checkRequestHeaders(["Mcp-Param-!#$%&'*+-.^_`|~09", 'v'])).toEqual({ "mcp-param-!#$%&'*+-.^_`|~09": 'v' });
    for (const name of ['Mcp-Param-', `Mcp-Param-${longest}a`, 'Mcp-Param-a b', 'Mcp-Param-a:b', 'Mcp-Param-(x)', 'Mcp-Param-\u00e9']) {
      const message = refusal([name, 'v']);
      expect(message).toMatch(/Mcp-Param-\{Name\}.*token/);
      // The offending name is not echoed either.
      expect(message).not.toContain(name.slice('Mcp-Param-'.length) || '\u0000');
    }
  });

  it(`at most ${REQUEST_HEADER_LIMITS.params} Mcp-Param-* headers`, () => {
    const params = (n: number) => Array.from({ length: n }, (_, i) => [`Mcp-Param-P${i}`, `v${i}`]).flat();
    expect(Object.keys(checkRequestHeaders(params(REQUEST_HEADER_LIMITS.params)))).toHaveLength(REQUEST_HEADER_LIMITS.params);
    expect(refusal(params(REQUEST_HEADER_LIMITS.params + 1))).toBe(`At most ${REQUEST_HEADER_LIMITS.params} Mcp-Param-* headers are allowed.`);
  });

  it('every forwarded header is bounded, alone and all together; too long is refused, never dropped', () => {
    const { mirroredValue, value, sessionId, total } = REQUEST_HEADER_LIMITS;
    expect(checkRequestHeaders(['Mcp-Name', 'n'.repeat(mirroredValue)])['mcp-name']).toHaveLength(mirroredValue);
    // The bound counts the Base64 sentinel's markers too.
    const encoded = `=?base64?${'QUJD'.repeat(Math.floor((mirroredValue - 11) / 4))}?=`;
    expect(checkRequestHeaders(['Mcp-Param-Q', encoded])['mcp-param-q']).toBe(encoded);
    expect(refusal(['Mcp-Param-Q', `=?base64?${'QUJD'.repeat(Math.ceil((mirroredValue - 10) / 4))}?=`])).toMatch(/longer than/);
    for (const [name, limit] of [
      ['Mcp-Name', mirroredValue],
      ['Mcp-Param-Q', mirroredValue],
      ['Content-Type', value],
      ['Accept', value],
      ['Last-Event-ID', value],
      ['Mcp-Session-Id', sessionId],
    ] as const) {
      const message = refusal([name, 'x'.repeat(limit + 1)]);
      expect(message).toBe(`The ${name.replace('Q', 'q')} header is longer than ${limit} characters.`);
    }
    // Each value within its bound, all of them together over the total.
    const wide = ['Mcp-Name', 'n'.repeat(mirroredValue), 'Mcp-Param-A', 'a'.repeat(mirroredValue - 200), 'Mcp-Param-B', 'b'.repeat(200)];
    expect(refusal(wide)).toBe(`The MCP request headers are longer than ${total} characters together.`);
    expect(Object.keys(checkRequestHeaders(wide.slice(0, 4)))).toHaveLength(2);
  });

  it('one value each: a repeated header is refused (an MCP server and a proxy between could each read another), but Accept is a list', () => {
    for (const [first, second] of [
      ['Mcp-Name', 'mcp-name'],
      ['Mcp-Method', 'Mcp-Method'],
      ['MCP-Protocol-Version', 'mcp-protocol-version'],
      ['Mcp-Param-Region', 'MCP-PARAM-REGION'],
      ['Mcp-Session-Id', 'Mcp-Session-Id'],
      ['Content-Type', 'content-type'],
      ['Last-Event-ID', 'Last-Event-Id'],
    ] as const) {
      // The same value twice too: still two lines where the spec has one.
      const value = first === 'MCP-Protocol-Version' ? '2026-07-28' : 'v1';
      expect(refusal([...MODERN.slice(2, 4), first, value, 'X-Other', 'y', second, value])).toMatch(/header is sent more than once\.$/);
    }
    expect(checkRequestHeaders(['Accept', 'application/json', 'accept', 'text/event-stream'])).toEqual({ accept: 'application/json, text/event-stream' });
  });

  it('Mcp-Session-Id stays visible ASCII', () => {
    expect(checkRequestHeaders(['Mcp-Session-Id', 'abc-123'])).toEqual({ 'mcp-session-id': 'abc-123' });
    for (const id of ['', 'a b', 'caf\u00e9']) expect(refusal(['Mcp-Session-Id', id])).toMatch(/Mcp-Session-Id/);
  });
});

describe('the proxy route', () => {
  it('answers a bad header with the BFF’s JSON 400 naming it, also without Node’s bindings (app.request)', async () => {
    // An upstream nobody could reach: the refusal comes before any attempt.
    const config = loadConfig({
      PUBLIC_URL: 'https://app.example.com',
      MCP_SERVER_URL: 'https://mcp.invalid/mcp',
      // Test-only, public in this repository.
      SESSION_SECRET: 'NJQA7l/CJUKp+wCOMZfFr1oEnfR1tDEyZd495OrN7qWg09pxMdYpbzvoRIFeukRC',
    });
    const app = createApp({ config, store: new MemoryTokenStore(), log: createLogger('silent') });
    const secret = `=?base64?${'c2VjcmV0'.repeat(3)}=?=`;
    const res = await app.request('/mcp/default', {
      method: 'POST',
      headers: { 'x-csrf': '1', 'content-type': 'application/json', 'mcp-protocol-version': '2026-07-28', 'mcp-param-token': secret },
      body: '{}',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = await res.json();
    expect(body).toEqual({ error: 'bad_request', message: expect.stringContaining('Mcp-Param-token'), requestId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(JSON.stringify(body)).not.toContain('c2VjcmV0');
  });
});
