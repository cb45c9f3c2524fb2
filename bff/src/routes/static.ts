import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono } from 'hono';
import type { AppEnv } from './env.js';

/**
 * Serves the built SPA. Hashed assets are immutable; any other GET that wants HTML gets index.html
 * (history fallback), which depends on nothing in the request: the page fetches what needs a session.
 * Files are sent as the build precompressed them (`.br`, `.gz`, web/scripts/precompress.mjs) when the
 * browser accepts that encoding, with `Vary: Accept-Encoding`; nothing is compressed per request.
 */
export function spaRoutes(root: string): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const indexHtml = readFileSync(join(root, 'index.html'), 'utf8');
  const indexEncoded = (['br', 'gzip'] as const).flatMap((encoding) => {
    const file = join(root, `index.html.${encoding === 'br' ? 'br' : 'gz'}`);
    return existsSync(file) ? [{ encoding, body: readFileSync(file) }] : [];
  });

  // Hidden files (.env, .git, editor leftovers) are never part of the build: not served even if present.
  app.use('*', async function noHiddenFiles(c, next) {
    if (hasHiddenSegment(c.req.path)) return c.notFound();
    await next();
  });
  app.use(
    '/assets/*',
    serveStatic({
      root,
      precompressed: true,
      onFound: (_path, c) => {
        c.header('Cache-Control', 'public, max-age=31536000, immutable');
      },
    }),
  );
  app.use('*', serveStatic({ root, precompressed: true, onFound: (_p, c) => c.header('Cache-Control', 'no-cache') }));
  app.get('*', (c) => {
    const path = c.req.path;
    // Unknown files (with an extension) are 404s, not the SPA.
    if (/\.[A-Za-z0-9]+$/.test(path)) return c.notFound();
    c.header('Cache-Control', 'no-cache');
    if (indexEncoded.length > 0) {
      c.header('Vary', 'Accept-Encoding');
      const accepted = acceptedEncodings(c.req.header('accept-encoding'));
      const variant = indexEncoded.find((v) => accepted.has(v.encoding));
      if (variant) {
        c.header('Content-Encoding', variant.encoding);
        c.header('Content-Type', 'text/html; charset=UTF-8');
        return c.body(new Uint8Array(variant.body));
      }
    }
    return c.html(indexHtml);
  });
  return app;
}

/** The codings an Accept-Encoding header allows (RFC 9110 §12.5.3): listed, and not with q=0. */
function acceptedEncodings(header: string | undefined): Set<string> {
  const out = new Set<string>();
  for (const part of (header ?? '').split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    if (!name) continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q !== undefined && Number(q.slice(2)) === 0) continue;
    out.add(name.trim());
  }
  return out;
}

function hasHiddenSegment(path: string): boolean {
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return true;
  }
  return decoded.split(/[/\\]/).some((segment) => segment.startsWith('.'));
}
