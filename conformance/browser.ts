import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { CookieJar } from '../demo/src/cookie-jar.js';
import type { LoginRecord } from './outcome.js';

/**
 * A stand-in for the SPA in a browser, driving the real BFF the way web/src/mcp.ts does: cookies kept
 * per host, `X-CSRF: 1`, `Origin` and `Sec-Fetch-Site: same-origin` on every /mcp request, and top-level
 * navigations (manual redirects) through /bff/login → the authorization server → /bff/callback/<id> when
 * the BFF says a login is needed. Where the SPA shows a "reconnect" banner and waits for a click, this
 * follows the BFF's loginUrl at once and retries the request.
 *
 * The conformance scenarios' servers listen on http://localhost:<port>, the same site as the BFF's
 * PUBLIC_URL (ports do not make a site), so a browser sends every cookie, SameSite=Strict included,
 * along the whole redirect chain; the jar does the same.
 */

/** GET /bff/login did not lead to the authorization server: the BFF refused to start a login. */
export class LoginRefused extends Error {
  constructor(
    readonly loginError: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'LoginRefused';
  }
}

/** The authorization server or the BFF's callback did not end the login successfully. */
export class LoginFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LoginFailed';
  }
}

/** A JSON error body the BFF itself produced for an /mcp request (not the MCP server's). */
export interface BffErrorBody {
  error: string;
  message?: string;
  loginUrl?: string;
  scope?: string;
}

/** The BFF's last answer that the browser did not turn into a login (for the adapter's report). */
export interface BffRefusal {
  status: number;
  body: BffErrorBody;
  reason: 'no_login_url' | 'login_limit';
}

const LOGIN_ERROR_PARAM = 'login_error';
const MAX_REDIRECTS = 10;

export interface BrowserOptions {
  /** Hard stop for this stand-in, far above any sane BFF limit: a BFF that never stops is reported, not looped on. */
  maxLogins?: number;
  log?: (message: string) => void;
  /**
   * Headers an authenticating reverse proxy in front of the app adds to every request that reaches the
   * BFF (ENTERPRISE_IDP_ID_TOKEN_HEADER: the ID token of the person it signed in). Never sent elsewhere.
   */
  proxyHeaders?: Record<string, string>;
}

export class Browser {
  readonly jar = new CookieJar();
  readonly logins: LoginRecord[] = [];
  /** Set when the BFF answered 401/403 with one of its own errors and the browser gave up. */
  lastRefusal: BffRefusal | undefined;

  private readonly maxLogins: number;
  private readonly log: (message: string) => void;
  private readonly proxyHeaders: Record<string, string>;
  /** Bumped after every login, so that a request that was already under way is retried, not re-logged-in. */
  private generation = 0;
  private loginInFlight: Promise<void> | undefined;

  constructor(
    readonly appUrl: string,
    options: BrowserOptions = {},
  ) {
    this.maxLogins = options.maxLogins ?? 8;
    this.log = options.log ?? (() => {});
    this.proxyHeaders = options.proxyHeaders ?? {};
  }

  /** What the proxy in front of the app adds, on requests to the app only. */
  private addProxyHeaders(url: URL, headers: Headers): void {
    if (url.origin !== new URL(this.appUrl).origin) return;
    for (const [name, value] of Object.entries(this.proxyHeaders)) headers.set(name, value);
  }

  /** The SDK transport's fetch: the SPA's same-origin request, plus the login-and-retry loop. */
  readonly mcpFetch: FetchLike = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    for (;;) {
      const sentAt = this.generation;
      const res = await this.sameOriginFetch(url, init);
      if (res.status !== 401 && res.status !== 403) return res;
      const body = await bffErrorBody(res);
      if (!body || (body.error !== 'login_required' && body.error !== 'insufficient_scope')) return res;
      // Only requests that carry a JSON-RPC message lead to a login, as in the SPA, where a failed
      // call shows the banner; the background GET stream's failure is left to the SDK.
      if ((init?.method ?? 'GET').toUpperCase() !== 'POST') return res;
      if (this.generation !== sentAt || this.loginInFlight) {
        // A login finished, or is under way, since this request was sent: wait for it and retry.
        await res.body?.cancel();
        await this.loginInFlight?.catch(() => {});
        continue;
      }
      if (!body.loginUrl) {
        this.lastRefusal = { status: res.status, body, reason: 'no_login_url' };
        this.log(`BFF answered ${res.status} ${body.error} without a loginUrl: not logging in again`);
        return res;
      }
      if (this.logins.length >= this.maxLogins) {
        this.lastRefusal = { status: res.status, body, reason: 'login_limit' };
        this.log(`BFF still asks for a login after ${this.logins.length} logins: the adapter gives up`);
        return res;
      }
      this.log(`BFF answered ${res.status} ${body.error}${body.scope ? ` (scope "${body.scope}")` : ''}: following ${body.loginUrl}`);
      this.loginInFlight = this.login(body.loginUrl).finally(() => {
        this.loginInFlight = undefined;
        this.generation++;
      });
      await res.body?.cancel();
      await this.loginInFlight; // a refused or failed login ends the scenario: the error propagates
    }
  };

  /** A top-level navigation to `loginUrl` and everything that follows, up to the callback's redirect. */
  async login(loginUrl: string): Promise<void> {
    const record: LoginRecord = { loginUrl };
    this.logins.push(record);
    const start = new URL(loginUrl, this.appUrl);
    if (start.origin !== new URL(this.appUrl).origin) {
      throw new LoginFailed(`loginUrl ${loginUrl} is not on the app's origin`);
    }
    // 1. The SPA navigates to /bff/login; the BFF answers with the authorization request.
    const first = await this.navigate(start, 'same-origin');
    const toAs = redirectTarget(first, start);
    if (!toAs) throw new LoginFailed(`GET ${start.pathname} answered ${first.status}, not a redirect`);
    if (toAs.origin === start.origin) {
      record.loginError = toAs.searchParams.get(LOGIN_ERROR_PARAM) ?? undefined;
      record.returnedTo = `${toAs.pathname}${toAs.search}`;
      // Straight back to the app without an error: connected with no page in between (an
      // enterprise-managed server, whose tokens came from the person's sign-in at their IdP).
      if (record.loginError === undefined && !toAs.pathname.startsWith('/bff/')) {
        this.log(`connected without a sign-in page, back at ${record.returnedTo}`);
        return;
      }
      throw new LoginRefused(record.loginError, `the BFF refused to start a login: it redirected to ${record.returnedTo}`);
    }
    record.authorizationUrl = toAs.href;
    record.scope = toAs.searchParams.get('scope') ?? undefined;
    this.log(`authorization request: ${toAs.origin}${toAs.pathname} scope=${record.scope ?? '(none)'}`);

    // 2. The authorization server (the scenario's mock approves at once) redirects back to the app.
    let at = toAs;
    let res = await this.navigate(at, 'same-origin');
    for (let hops = 0; ; hops++) {
      const next = redirectTarget(res, at);
      if (!next) throw new LoginFailed(`${at.origin}${at.pathname} answered ${res.status} instead of redirecting back`);
      at = next;
      if (at.origin === start.origin || hops >= MAX_REDIRECTS) break;
      res = await this.navigate(at, 'same-site');
    }
    if (at.origin !== start.origin) throw new LoginFailed('the authorization server never redirected back to the app');

    // 3. The callback, and whatever same-origin hops the BFF adds (a redirect, or a same-site bounce
    //    page with a meta refresh), until the browser lands on an app page (returnTo) outside /bff/.
    let page = at;
    res = await this.navigate(page, 'same-site');
    for (let hops = 0; ; hops++) {
      const next = redirectTarget(res, page) ?? (await metaRefreshTarget(res, page));
      if (!next) {
        const text = (await res.text()).slice(0, 300).replace(/\s+/g, ' ');
        throw new LoginFailed(`${page.pathname} answered ${res.status} without sending the browser on: ${text}`);
      }
      if (next.origin !== start.origin) throw new LoginFailed(`${page.pathname} sent the browser off the app, to ${next.origin}`);
      if (!next.pathname.startsWith('/bff/')) {
        record.returnedTo = `${next.pathname}${next.search}`;
        const error = next.searchParams.get(LOGIN_ERROR_PARAM);
        if (error) {
          record.loginError = error;
          throw new LoginFailed(`the BFF sent the browser back with ${LOGIN_ERROR_PARAM}=${error}`);
        }
        break;
      }
      if (hops >= MAX_REDIRECTS) throw new LoginFailed('too many hops after the callback');
      page = next;
      res = await this.navigate(page, 'same-origin');
    }
    this.log(`login done, back at ${record.returnedTo}`);
  }

  /** A document navigation, cookies from the jar, redirects not followed. */
  private async navigate(url: URL, site: 'same-origin' | 'same-site' | 'cross-site'): Promise<Response> {
    const headers = new Headers({
      accept: 'text/html,application/xhtml+xml,*/*;q=0.8',
      'sec-fetch-mode': 'navigate',
      'sec-fetch-dest': 'document',
      'sec-fetch-site': site,
    });
    const cookie = this.jar.header(url);
    if (cookie) headers.set('cookie', cookie);
    this.addProxyHeaders(url, headers);
    const res = await fetch(url, { headers, redirect: 'manual' });
    this.jar.store(url, res.headers);
    return res;
  }

  /** What the SPA's bffFetch sends: same-origin, with the session cookie and the CSRF header. */
  private async sameOriginFetch(url: URL, init: RequestInit | undefined): Promise<Response> {
    const headers = new Headers(init?.headers);
    headers.set('x-csrf', '1');
    headers.set('origin', new URL(this.appUrl).origin);
    headers.set('sec-fetch-site', 'same-origin');
    headers.set('sec-fetch-mode', 'cors');
    const cookie = this.jar.header(url);
    if (cookie) headers.set('cookie', cookie);
    else headers.delete('cookie');
    this.addProxyHeaders(url, headers);
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.jar.store(url, res.headers);
    return res;
  }
}

/** `<meta http-equiv="refresh" content="0;url=...">` in an HTML page, which a browser follows. */
async function metaRefreshTarget(res: Response, from: URL): Promise<URL | undefined> {
  if (res.status !== 200 || !res.headers.get('content-type')?.includes('text/html')) return undefined;
  const html = await res.clone().text();
  const tag = /<meta\b[^>]*http-equiv\s*=\s*["']?refresh["']?[^>]*>/i.exec(html)?.[0];
  const content = tag ? /content\s*=\s*"([^"]*)"|content\s*=\s*'([^']*)'/i.exec(tag) : null;
  const url = (content?.[1] ?? content?.[2])?.match(/^\s*\d+(?:\.\d+)?\s*[;,]\s*url\s*=\s*['"]?([^'"]+)['"]?\s*$/i)?.[1];
  return url ? new URL(url.replaceAll('&amp;', '&'), from) : undefined;
}

function redirectTarget(res: Response, from: URL): URL | undefined {
  if (res.status < 300 || res.status > 399) return undefined;
  const location = res.headers.get('location');
  return location ? new URL(location, from) : undefined;
}

/**
 * The BFF's own JSON error (`{ error, message, ... }`, never an MCP server's body passed through), read
 * from a clone so that the SDK still gets an unread body.
 */
export async function bffErrorBody(res: Response): Promise<BffErrorBody | undefined> {
  if (!res.headers.get('content-type')?.includes('application/json')) return undefined;
  try {
    const body = (await res.clone().json()) as Partial<BffErrorBody> | null;
    if (body && typeof body.error === 'string' && typeof body.message === 'string') return body as BffErrorBody;
  } catch {
    // not JSON after all
  }
  return undefined;
}
