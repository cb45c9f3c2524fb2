/**
 * Reads the parameters of a Bearer challenge in a WWW-Authenticate header (RFC 6750 §3), enough for
 * `error` and `scope`. Tolerates garbage: an unparseable header yields no parameters.
 */
export function bearerChallengeParams(header: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header || header.length > 8192) return out;
  const start = header.search(/(^|[\s,])bearer(\s|$)/i);
  if (start < 0) return out;
  const rest = header.slice(start).replace(/^[\s,]*bearer/i, '');
  const re = /\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*,?/y;
  let m: RegExpExecArray | null = re.exec(rest);
  while (m) {
    const key = (m[1] as string).toLowerCase();
    if (!(key in out)) out[key] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '');
    m = re.exec(rest);
  }
  return out;
}
