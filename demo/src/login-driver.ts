import { CookieJar } from './cookie-jar.js';

/**
 * Drives the demo authorization server's login and consent pages without a browser: follows redirects
 * by hand, keeps cookies, and submits the forms a user would. Stops at the first redirect that leaves
 * the authorization server's origin (the client's redirect_uri) and returns it without fetching it, so
 * a test can hand the code to whatever plays the client (a test, or the BFF's /bff/callback).
 *
 * It only understands this demo's own pages (auth-pages.ts), on purpose: it is a test tool.
 */
export class LoginDriverError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly url: string,
  ) {
    super(message);
    this.name = 'LoginDriverError';
  }
}

const MAX_STEPS = 25;

export async function loginThroughForms(
  authorizationUrl: string,
  user = 'alice',
  password = 'alice-demo-password',
  consent: 'allow' | 'deny' = 'allow',
  cookieJar: CookieJar = new CookieJar(),
): Promise<URL> {
  const asOrigin = new URL(authorizationUrl).origin;
  let url = new URL(authorizationUrl);
  let method = 'GET';
  let body: URLSearchParams | undefined;
  let loginAttempts = 0;

  for (let step = 0; step < MAX_STEPS; step++) {
    const headers: Record<string, string> = { accept: 'text/html' };
    const cookie = cookieJar.header(url);
    if (cookie) headers.cookie = cookie;
    if (body) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(url, { method, headers, body, redirect: 'manual' });
    cookieJar.store(url, res.headers);

    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      await res.body?.cancel();
      const next = new URL(location, url);
      if (next.origin !== asOrigin) return next;
      // 301/302/303 turn into GET as in browsers; 307/308 repeat the request.
      if (res.status !== 307 && res.status !== 308) {
        method = 'GET';
        body = undefined;
      }
      url = next;
      continue;
    }

    const html = await res.text();
    if (res.status !== 200) throw new LoginDriverError(`authorization server answered ${res.status}: ${pageText(html)}`, res.status, url.href);
    const form = parseForm(html);
    if (!form) throw new LoginDriverError(`no form on the page: ${pageText(html)}`, res.status, url.href);

    const fields = new URLSearchParams(form.inputs.filter((i) => i.type === 'hidden').map((i) => [i.name, i.value]));
    if (form.inputs.some((i) => i.type === 'password')) {
      if (loginAttempts++ > 0) throw new LoginDriverError(`login as ${user} failed: ${pageText(html)}`, res.status, url.href);
      fields.set('username', user);
      fields.set('password', password);
    } else {
      const label = consent === 'allow' ? 'Allow' : 'Deny';
      const button = form.buttons.find((b) => b.text === label);
      if (!button) throw new LoginDriverError(`no "${label}" button on the page: ${pageText(html)}`, res.status, url.href);
      if (button.name) fields.set(button.name, button.value);
    }
    url = new URL(form.action, url);
    method = form.method;
    body = fields;
  }
  throw new LoginDriverError(`gave up after ${MAX_STEPS} steps`, 0, url.href);
}

interface ParsedForm {
  action: string;
  method: string;
  inputs: Array<{ name: string; value: string; type: string }>;
  buttons: Array<{ name: string; value: string; text: string }>;
}

function parseForm(html: string): ParsedForm | undefined {
  const match = /<form\b([^>]*)>([\s\S]*?)<\/form>/i.exec(html);
  if (!match) return undefined;
  const [, formAttrs = '', inner = ''] = match;
  const attrs = parseAttributes(formAttrs);
  return {
    action: attrs.action ?? '',
    method: (attrs.method ?? 'GET').toUpperCase(),
    inputs: [...inner.matchAll(/<input\b([^>]*)>/gi)].map((m) => {
      const a = parseAttributes(m[1] ?? '');
      return { name: a.name ?? '', value: a.value ?? '', type: (a.type ?? 'text').toLowerCase() };
    }),
    buttons: [...inner.matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button>/gi)].map((m) => {
      const a = parseAttributes(m[1] ?? '');
      return { name: a.name ?? '', value: a.value ?? '', text: pageText(m[2] ?? '') };
    }),
  };
}

function parseAttributes(source: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of source.matchAll(/([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g)) {
    const name = (m[1] ?? '').toLowerCase();
    out[name] = unescapeHtml(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return out;
}

function unescapeHtml(value: string): string {
  return value
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&amp;', '&');
}

/** The visible text of an HTML fragment, squeezed, for error messages. */
function pageText(html: string): string {
  return unescapeHtml(
    html
      .replace(/<(script|style|head)\b[\s\S]*?<\/\1>/gi, ' ')
      .replace(/<[^>]+>/g, ' ')
      .replace(/\s+/g, ' ')
      .trim(),
  ).slice(0, 300);
}
