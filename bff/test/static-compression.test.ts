import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVariantApp, type VariantApp } from './hostile-support.js';

/**
 * The SPA's files go over the wire as the build precompressed them (web/scripts/precompress.mjs):
 * brotli or gzip by the browser's Accept-Encoding, `Vary: Accept-Encoding`, identity otherwise; the
 * history fallback (index.html for any page) too; hashed assets stay immutable.
 */

const script = `console.log(${JSON.stringify('x'.repeat(4000))});`;
const html = `<!doctype html><html><head><script type="module" src="/assets/app-1234.js"></script></head><body>${'<p>hello</p>'.repeat(200)}</body></html>`;
let dir: string;
let app: VariantApp;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mcp-bff-compressed-'));
  mkdirSync(join(dir, 'assets'), { recursive: true });
  for (const [file, text] of [
    ['assets/app-1234.js', script],
    ['index.html', html],
  ] as const) {
    writeFileSync(join(dir, file), text);
    writeFileSync(join(dir, `${file}.br`), brotliCompressSync(text));
    writeFileSync(join(dir, `${file}.gz`), gzipSync(text));
  }
  app = await startVariantApp({}, { STATIC_DIR: dir });
});
afterAll(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A GET that keeps the bytes as sent (fetch would decode them). */
function raw(path: string, acceptEncoding?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    get(`${app.origin}${path}`, { headers: acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}

describe('precompressed static files', () => {
  it('an asset: brotli when accepted, gzip when only that is, identity otherwise; immutable either way', async () => {
    const br = await raw('/assets/app-1234.js', 'gzip, deflate, br');
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers.vary).toMatch(/Accept-Encoding/i);
    expect(brotliDecompressSync(br.body).toString()).toBe(script);
    expect(br.headers['content-type']).toMatch(/javascript/);
    expect(br.headers['cache-control']).toMatch(/immutable/);

    const gz = await raw('/assets/app-1234.js', 'gzip');
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).toString()).toBe(script);

    const plain = await raw('/assets/app-1234.js');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.toString()).toBe(script);
  });

  it('the document for any page (history fallback) is compressed too, and a refused coding (q=0) is not used', async () => {
    const page = await raw('/servers/default/tools', 'br');
    expect(page.status).toBe(200);
    expect(page.headers['content-encoding']).toBe('br');
    expect(page.headers.vary).toMatch(/Accept-Encoding/i);
    expect(page.headers['content-security-policy']).toBeDefined();
    expect(brotliDecompressSync(page.body).toString()).toBe(html);

    const refused = await raw('/servers/default/tools', 'br;q=0, gzip');
    expect(refused.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(refused.body).toString()).toBe(html);
    const none = await raw('/servers/default/tools', 'identity');
    expect(none.headers['content-encoding']).toBeUndefined();
    expect(none.body.toString()).toBe(html);
  });
});
