import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawHttp, startVariantApp, type VariantApp } from './hostile-support.js';

/**
 * The SPA's files as the BFF serves them (STATIC_DIR): the document gets a CSP that allows no inline or
 * eval'd script and no framing, no referrer and no sniffing; nothing outside the directory is reachable.
 * (e2e/hostile.spec.ts checks the same on the real build, in Chromium.)
 */

const MARKER = 'outside-the-static-root-5b1e';
let dir: string;
let app: VariantApp;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mcp-bff-static-'));
  const root = join(dir, 'dist');
  mkdirSync(join(root, 'assets'), { recursive: true });
  writeFileSync(join(root, 'index.html'), '<!doctype html><html><head><script type="module" src="/assets/app-1234.js"></script></head><body><div id="root"></div></body></html>');
  writeFileSync(join(root, 'assets', 'app-1234.js'), 'console.log("app")');
  writeFileSync(join(root, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  writeFileSync(join(root, '.env'), `SECRET=${MARKER}`);
  writeFileSync(join(dir, 'secret.txt'), MARKER);
  writeFileSync(join(dir, 'package.json'), `{"name":"${MARKER}"}`);
  app = await startVariantApp({}, { STATIC_DIR: root });
});
afterAll(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

function scriptSources(csp: string): string[] {
  const directives = new Map(csp.split(';').map((d) => d.trim().split(/\s+/) as [string, ...string[]]).map(([name, ...values]) => [name, values]));
  return directives.get('script-src') ?? directives.get('default-src') ?? [];
}

describe('the SPA document', () => {
  it.each(['/', '/servers/default/tools/add', '/index.html'])('%s: strict CSP, no framing, no referrer, nosniff', async (path) => {
    const res = await fetch(`${app.origin}${path}`, { headers: { cookie: 'mcp_session=whatever' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = res.headers.get('content-security-policy') as string;
    const scripts = scriptSources(csp);
    expect(scripts).toContain("'self'");
    for (const unsafe of ["'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "'wasm-unsafe-eval'", '*', 'data:', 'blob:', 'http:', 'https:']) {
      expect(scripts).not.toContain(unsafe);
    }
    expect(csp).toMatch(/(^|;\s*)frame-ancestors 'none'(;|$)/);
    expect(csp).toMatch(/(^|;\s*)object-src 'none'(;|$)/);
    expect(csp).toMatch(/(^|;\s*)base-uri 'none'(;|$)/);
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.getSetCookie()).toEqual([]);
    // The document depends on nothing in the request: the same bytes with or without a cookie.
    const anonymous = await (await fetch(`${app.origin}${path}`)).text();
    expect(await res.text()).toBe(anonymous);
  });

  it('assets: immutable, typed, nosniff', async () => {
    const res = await fetch(`${app.origin}/assets/app-1234.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/javascript/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('cache-control')).toMatch(/immutable/);
  });
});

describe('nothing outside the static directory, and no dotfiles', () => {
  it.each([
    '/../secret.txt',
    '/..%2fsecret.txt',
    '/%2e%2e/secret.txt',
    '/%2e%2e%2fsecret.txt',
    '/assets/../../secret.txt',
    '/assets/..%2f..%2fsecret.txt',
    '/assets/%2e%2e/%2e%2e/package.json',
    '/..%5c..%5csecret.txt',
    '/assets/..%5c..%5cpackage.json',
    '/%252e%252e/secret.txt',
    '/.env',
    '/%2eenv',
    '/assets/../.env',
    '/secret.txt%00.js',
    '//secret.txt',
    '/assets//../../secret.txt',
  ])('%s', async (target) => {
    const res = await rawHttp(app.port, `GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
    expect(res.raw).not.toContain(MARKER);
    expect([200, 400, 404]).toContain(res.status);
  });
});
