import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono } from 'hono';
import type { AppEnv } from './env.js';

/**
 * Serves the built SPA. Hashed assets are immutable; any other GET that wants HTML gets index.html
 * (history fallback), which depends on nothing in the request: the page fetches what needs a session.
 */
export function spaRoutes(root: string): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const indexHtml = readFileSync(join(root, 'index.html'), 'utf8');

  // Hidden files (.env, .git, editor leftovers) are never part of the build: not served even if present.
  app.use('*', async function noHiddenFiles(c, next) {
    if (hasHiddenSegment(c.req.path)) return c.notFound();
    await next();
  });
  app.use(
    '/assets/*',
    serveStatic({
      root,
      onFound: (_path, c) => {
        c.header('Cache-Control', 'public, max-age=31536000, immutable');
      },
    }),
  );
  app.use('*', serveStatic({ root, onFound: (_p, c) => c.header('Cache-Control', 'no-cache') }));
  app.get('*', (c) => {
    const path = c.req.path;
    // Unknown files (with an extension) are 404s, not the SPA.
    if (/\.[A-Za-z0-9]+$/.test(path)) return c.notFound();
    c.header('Cache-Control', 'no-cache');
    return c.html(indexHtml);
  });
  return app;
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
