import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectSameOriginPath, loginAtVariant, setCookieLine, startVariantApp, type VariantApp } from './hostile-support.js';

/**
 * Open redirects through returnTo: whatever a link to /bff/login carries, the browser ends up on a path
 * of the app — after a completed login, and on every login_error redirect.
 */

const EVIL = 'evil.example';

/** Known open-redirect shapes (collected from the usual payload lists), before any encoding. */
const BASE_PAYLOADS: string[] = [
  // absolute and scheme-relative
  `https://${EVIL}`,
  `http://${EVIL}/`,
  `HTTPS://${EVIL}`,
  `https:${EVIL}`,
  `https:/${EVIL}`,
  `//${EVIL}`,
  `///${EVIL}`,
  `////${EVIL}`,
  `//${EVIL}/%2f..`,
  `//${EVIL}@localhost`,
  `//localhost@${EVIL}`,
  `/%2f${EVIL}`,
  `/%2F%2F${EVIL}`,
  `%2f%2f${EVIL}`,
  `//${EVIL}%2f%2e%2e`,
  `${EVIL}`,
  `@${EVIL}`,
  `.${EVIL}`,
  // backslashes (browsers read them as slashes in http(s) URLs)
  `\\\\${EVIL}`,
  `/\\${EVIL}`,
  `\\/${EVIL}`,
  `/\\/${EVIL}`,
  `/%5c${EVIL}`,
  `/%5C%5C${EVIL}`,
  `%5c%5c${EVIL}`,
  `/\\\\${EVIL}`,
  // dot segments that normalise into a scheme-relative URL
  `/..//${EVIL}`,
  `/.//${EVIL}`,
  `/./..//${EVIL}`,
  `/a/..//${EVIL}`,
  `/a/../..//${EVIL}`,
  `/%2e%2e//${EVIL}`,
  `/%2E%2E//${EVIL}`,
  `/%2e//${EVIL}`,
  `/.%2e//${EVIL}`,
  `/%2e./\\${EVIL}`,
  `/..;//${EVIL}`,
  `/..%2f/${EVIL}`,
  `/..%252f/${EVIL}`,
  // tabs, newlines, spaces and other characters URL parsers strip or treat specially
  `/\t/${EVIL}`,
  `/\n/${EVIL}`,
  `/\r/${EVIL}`,
  `\t//${EVIL}`,
  ` //${EVIL}`,
  `/ /${EVIL}`,
  `/%09/${EVIL}`,
  `/%0a/${EVIL}`,
  `/%0d/${EVIL}`,
  `/\u0000/${EVIL}`,
  `/\u000b/${EVIL}`,
  `/\u007f/${EVIL}`,
  `/\u00a0/${EVIL}`,
  // javascript:, data:, vbscript: in cases and encodings
  'javascript:alert(1)',
  'JavaScript:alert(1)',
  'JAVASCRIPT:alert(document.cookie)',
  'java\tscript:alert(1)',
  'java\nscript:alert(1)',
  '\u0001javascript:alert(1)',
  ' javascript:alert(1)',
  'javascript://%0aalert(1)',
  'javascript:%61lert(1)',
  '&#106;avascript:alert(1)',
  '%6a%61%76%61%73%63%72%69%70%74:alert(1)',
  'data:text/html,<script>alert(1)</script>',
  'DATA:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==',
  'Data:,alert(1)',
  'vbscript:msgbox(1)',
  '/javascript:alert(1)',
  '/data:text/html,x',
  // CRLF injection into the Location header
  `/%0d%0aSet-Cookie:%20mcp_session=attacker`,
  `/\r\nSet-Cookie: mcp_session=attacker`,
  `/\r\nLocation: https://${EVIL}`,
  `/%0D%0ALocation:%20https://${EVIL}`,
  `/%E5%98%8A%E5%98%8DSet-Cookie:x=1`,
  `/\u560a\u560dSet-Cookie:x=1`,
  // unicode look-alikes of / and . and @
  `/\uff0f${EVIL}`,
  `\uff0f\uff0f${EVIL}`,
  `/\u2215${EVIL}`,
  `\u2044\u2044${EVIL}`,
  `/\u3002${EVIL}`,
  `/\u2028/${EVIL}`,
  `/\u2029/${EVIL}`,
  `/\ufeff/${EVIL}`,
  `/\u200b/${EVIL}`,
  `\u202e//${EVIL}`,
  `/%E2%80%AE//${EVIL}`,
  // very long values
  `/${'a'.repeat(3000)}`,
  `//${EVIL}/${'a'.repeat(3000)}`,
  `/${'\u3000'.repeat(300)}`,
  `/${'%2e%2e/'.repeat(400)}/${EVIL}`,
];

/** Already in URL form: invalid UTF-8, overlong slashes, broken escapes (what decoders trip over). */
const RAW_PAYLOADS = ['/%ED%A0%80/evil.example', '/%C0%AF%C0%AFevil.example', '%C0%AF%C0%AFevil.example', '/%E0%80%AF/evil.example', '/%FF/evil.example', '%', '/%', '/%2', '%%32%66%%32%66evil.example', '/%%2f/evil.example', '//evil.example', '/\\evil.example', 'https:evil.example'];

/** Each payload as the server sees it after one decoding, and once more encoded (double encoding). */
const PAYLOADS: Array<[string, string]> = [
  ...BASE_PAYLOADS.flatMap((p): Array<[string, string]> => [
    [`${JSON.stringify(p).slice(0, 60)} (encoded once)`, encodeURIComponent(p)],
    [`${JSON.stringify(p).slice(0, 60)} (encoded twice)`, encodeURIComponent(encodeURIComponent(p))],
  ]),
  ...RAW_PAYLOADS.map((p): [string, string] => [`${p} (as is)`, p]),
];

let app: VariantApp;
beforeAll(async () => {
  app = await startVariantApp();
});
afterAll(() => app.close());

describe('returnTo never leads off the app', () => {
  it(`after a completed login: ${PAYLOADS.length} payloads`, async () => {
    const failures: string[] = [];
    for (const [name, raw] of PAYLOADS) {
      const done = await loginAtVariant(app.browser(), '/', raw);
      try {
        expect(done.status).toBe(302);
        expectSameOriginPath(done.headers.get('location'), app.origin);
      } catch (error) {
        failures.push(`${name}: ${(error as Error).message.split('\n')[0]}`);
      }
    }
    expect(failures).toEqual([]);
  }, 120_000);

  it('on a login_error redirect from /bff/login (refused step-up scope)', async () => {
    const failures: string[] = [];
    for (const [name, raw] of PAYLOADS) {
      const res = await app.browser().request(`/bff/login?server=default&scope=%00&returnTo=${raw}`, { csrf: false });
      try {
        expect(res.status).toBe(302);
        const location = res.headers.get('location');
        expectSameOriginPath(location, app.origin);
        expect(new URL(location as string, app.origin).searchParams.get('login_error')).toBe('authorization_failed');
        expect(setCookieLine(res, 'mcp_login')).toBeUndefined();
      } catch (error) {
        failures.push(`${name}: ${(error as Error).message.split('\n')[0]}`);
      }
    }
    expect(failures).toEqual([]);
  }, 60_000);

  it('on a login_error redirect from the callback (the AS answered access_denied)', async () => {
    const failures: string[] = [];
    for (const [name, raw] of PAYLOADS) {
      const browser = app.browser();
      const login = await browser.request(`/bff/login?server=default&returnTo=${raw}`, { csrf: false });
      const state = new URL(login.headers.get('location') as string).searchParams.get('state') as string;
      const denied = new URLSearchParams({ error: 'access_denied', state, iss: app.variant.issuer });
      const res = await browser.request(`/bff/callback/default?${denied}`, { csrf: false });
      try {
        expect(res.status).toBe(302);
        const location = res.headers.get('location');
        expectSameOriginPath(location, app.origin);
        expect(new URL(location as string, app.origin).searchParams.get('login_error')).toBe('access_denied');
      } catch (error) {
        failures.push(`${name}: ${(error as Error).message.split('\n')[0]}`);
      }
    }
    expect(failures).toEqual([]);
  }, 60_000);

  it('on a login_error redirect for an unknown server', async () => {
    for (const [, raw] of PAYLOADS.slice(0, 40)) {
      const res = await app.browser().request(`/bff/login?server=${raw}&returnTo=${raw}`, { csrf: false });
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toMatch(/^\/\?login_error=authorization_failed&login_ref=[0-9a-f-]{36}$/);
    }
  });

  it('keeps real app paths, query and fragment included; the longest accepted one survives the login cookie', async () => {
    for (const path of ['/', '/servers/default/tools/add?x=1&y=%2F#frag', '/servers/default/resources?uri=file%3A%2F%2F%2Fa', '/@user', '/a:b']) {
      const done = await loginAtVariant(app.browser(), path);
      expect(done.headers.get('location')).toBe(path);
    }
    const longest = `/${'a'.repeat(2047)}`;
    const done = await loginAtVariant(app.browser(), longest);
    expect(done.headers.get('location')).toBe(longest);
    // Past the limit (also after percent-encoding grows it): the app's root, never a failed login.
    const grown = `/${'\u00e9'.repeat(400)}`;
    const fallback = await loginAtVariant(app.browser(), grown);
    expect(fallback.headers.get('location')).toBe('/');
  });

  it('a returnTo too long for a request line is refused before the BFF acts on it', async () => {
    const before = app.variant.authorizeRequests.length;
    const res = await app.browser().request(`/bff/login?server=default&returnTo=/${'a'.repeat(20_000)}`, { csrf: false });
    expect([302, 414, 431]).toContain(res.status);
    if (res.status === 302) {
      const location = res.headers.get('location') as string;
      if (!location.startsWith(app.variant.issuer)) expectSameOriginPath(location, app.origin);
    } else {
      expect(app.variant.authorizeRequests.length).toBe(before);
    }
  });
});
