/**
 * Turns a caller-supplied `returnTo` into a path on the app's own origin, or `/`.
 * Only plain absolute paths survive: anything a browser could read as another origin (scheme-relative
 * `//host`, backslashes, control characters, schemes) falls back to `/`.
 */
export function safeReturnTo(value: string | undefined | null, origin: string): string {
  if (!value || value.length > 2048) return '/';
  if (!value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return '/';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\\\u0000-\u001F\u007F]/.test(value)) return '/';
  let url: URL;
  try {
    url = new URL(value, origin);
  } catch {
    return '/';
  }
  if (url.origin !== origin) return '/';
  return `${url.pathname}${url.search}${url.hash}`;
}
