/**
 * Turns a caller-supplied `returnTo` into a path on the app's own origin, or `/`.
 * Only plain absolute paths survive: anything a browser could read as another origin (scheme-relative
 * `//host`, backslashes, control characters, schemes) falls back to `/`. The check is repeated on the
 * normalised result, because dot segments can produce what the input did not show: `/..//evil.example`
 * and `/%2e%2e//evil.example` both normalise to the scheme-relative `//evil.example`.
 */
const MAX_LENGTH = 2048;

export function safeReturnTo(value: string | undefined | null, origin: string): string {
  if (!value || value.length > MAX_LENGTH) return '/';
  if (!isPlainPath(value)) return '/';
  let url: URL;
  try {
    url = new URL(value, origin);
  } catch {
    return '/';
  }
  if (url.origin !== origin) return '/';
  const path = `${url.pathname}${url.search}${url.hash}`;
  // Percent-encoding can grow a short value several times over; it must still fit in the login cookie.
  return path.length <= MAX_LENGTH && isPlainPath(path) ? path : '/';
}

function isPlainPath(value: string): boolean {
  if (!value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return false;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  return !/[\\\u0000-\u001F\u007F]/.test(value);
}
