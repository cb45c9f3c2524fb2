/**
 * The smallest cookie jar that lets fetch() walk through a login like a browser: remembers cookies per
 * host, honours Path, Max-Age and Expires (oidc-provider clears its interaction cookies with an
 * Expires in the past). Not a general implementation: no Domain attribute matching beyond the exact
 * host, no public-suffix rules; good for test servers on 127.0.0.1 and localhost.
 */
interface StoredCookie {
  name: string;
  value: string;
  host: string;
  path: string;
  expiresAt: number | undefined; // ms epoch; undefined = session cookie
}

export class CookieJar {
  readonly #cookies = new Map<string, StoredCookie>();

  /** Stores every Set-Cookie of a response received from `url`. */
  store(url: string | URL, headers: Headers): void {
    const { host, pathname } = new URL(url);
    for (const line of headers.getSetCookie()) {
      const [pair = '', ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const cookie: StoredCookie = {
        name: pair.slice(0, eq).trim(),
        value: pair.slice(eq + 1).trim(),
        host,
        path: defaultPath(pathname),
        expiresAt: undefined,
      };
      let maxAge: number | undefined;
      for (const attr of attrs) {
        const i = attr.indexOf('=');
        const key = (i < 0 ? attr : attr.slice(0, i)).trim().toLowerCase();
        const val = i < 0 ? '' : attr.slice(i + 1).trim();
        if (key === 'path' && val.startsWith('/')) cookie.path = val;
        else if (key === 'max-age' && /^-?\d+$/.test(val)) maxAge = Number(val);
        else if (key === 'expires') {
          const t = Date.parse(val);
          if (!Number.isNaN(t)) cookie.expiresAt = t;
        }
      }
      if (maxAge !== undefined) cookie.expiresAt = Date.now() + maxAge * 1000; // Max-Age wins over Expires
      const key = `${cookie.host} ${cookie.path} ${cookie.name}`;
      if (cookie.expiresAt !== undefined && cookie.expiresAt <= Date.now()) this.#cookies.delete(key);
      else this.#cookies.set(key, cookie);
    }
  }

  /** The Cookie header a browser would send to `url`, or undefined when there is none. */
  header(url: string | URL): string | undefined {
    const { host, pathname } = new URL(url);
    const now = Date.now();
    const matching = [...this.#cookies.values()]
      .filter((c) => c.host === host && pathMatches(pathname, c.path) && (c.expiresAt === undefined || c.expiresAt > now))
      .sort((a, b) => b.path.length - a.path.length); // longer paths first, as browsers do
    return matching.length ? matching.map((c) => `${c.name}=${c.value}`).join('; ') : undefined;
  }

  /** Names of the cookies currently held for `url` (for tests). */
  names(url: string | URL): string[] {
    return (this.header(url) ?? '').split('; ').filter(Boolean).map((p) => p.slice(0, p.indexOf('=')));
  }
}

function defaultPath(pathname: string): string {
  const last = pathname.lastIndexOf('/');
  return last <= 0 ? '/' : pathname.slice(0, last);
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}
