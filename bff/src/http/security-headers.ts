import type { Context, MiddlewareHandler } from 'hono';

/** The SPA needs nothing beyond its own origin: scripts, styles, fetches and images all come from it. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers every answer carries; the proxy writes them itself on the answers it streams through. */
export function securityHeaderList(options: { hsts: boolean }): Array<[string, string]> {
  const list: Array<[string, string]> = [
    ['Content-Security-Policy', CONTENT_SECURITY_POLICY],
    ['X-Content-Type-Options', 'nosniff'],
    ['Referrer-Policy', 'no-referrer'],
    ['X-Frame-Options', 'DENY'],
    ['Cross-Origin-Opener-Policy', 'same-origin'],
    ['Cross-Origin-Resource-Policy', 'same-origin'],
    ['Permissions-Policy', 'camera=(), microphone=(), geolocation=()'],
  ];
  if (options.hsts) list.push(['Strict-Transport-Security', 'max-age=31536000; includeSubDomains']);
  return list;
}

export function securityHeaders(options: { hsts: boolean }): MiddlewareHandler {
  const apply = securityHeadersSetter(options);
  return async function setSecurityHeaders(c, next) {
    await next();
    apply(c);
  };
}

/**
 * What securityHeaders does once the answer is there, as a plain function: app.ts calls it from its
 * request middleware, one async layer fewer on every request.
 */
export function securityHeadersSetter(options: { hsts: boolean }): (c: Context) => void {
  const list = securityHeaderList(options);
  return function setSecurityHeaders(c) {
    // An answer the proxy streamed straight to the Node response already carries them.
    if (c.get('sentStatus' as never) !== undefined) return;
    const h = c.res.headers;
    for (const [name, value] of list) h.set(name, value);
    // An error is about this request only (and may describe this user's session): no cache keeps it.
    if (c.res.status >= 400) h.set('Cache-Control', 'no-store');
  };
}
