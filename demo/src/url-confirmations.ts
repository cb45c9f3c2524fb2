import { randomBytes } from 'node:crypto';

/**
 * Where the demo's URL-mode elicitation sends the person: a harmless page on the MCP server's own origin
 * with one "Confirm" button, and the record of which pending confirmation was confirmed.
 *
 * Nothing sensitive happens here, so the page does not sign anyone in (the MCP server has no browser
 * session to check); a real server would, per the elicitation spec's phishing section, make sure the
 * person who opens the URL is the subject the elicitation was made for. The id is 128 random bits and
 * the tool only counts a confirmation for the subject that asked for it.
 */
export const CONFIRM_PATH = '/elicitation/confirm/';

/** Pending confirmations live this long; an unconfirmed one is forgotten afterwards. */
const TTL_MS = 10 * 60 * 1000;
/** At most this many are kept (the oldest go first): every call of the tool creates one. */
const MAX_PENDING = 1000;

interface Pending {
  sub: string;
  confirmed: boolean;
  expiresAt: number;
  /** Resolvers of the calls waiting for this confirmation. */
  waiters: Set<() => void>;
}

export class UrlConfirmations {
  readonly #pending = new Map<string, Pending>();

  /** A new pending confirmation for `sub`; returns its id (URL-safe). */
  create(sub: string): string {
    this.#prune();
    const id = randomBytes(16).toString('base64url');
    this.#pending.set(id, { sub, confirmed: false, expiresAt: Date.now() + TTL_MS, waiters: new Set() });
    return id;
  }

  /** Whether `id` exists, belongs to `sub` and has been confirmed. */
  isConfirmed(id: string, sub: string): boolean {
    const entry = this.#live(id);
    return entry?.sub === sub && entry.confirmed;
  }

  /** Whether `id` is still pending (or confirmed) for `sub`: false once it expired or for another subject. */
  belongsTo(id: string, sub: string): boolean {
    return this.#live(id)?.sub === sub;
  }

  /** Marks `id` confirmed (the person pressed the button); false when it is unknown or expired. */
  confirm(id: string): boolean {
    const entry = this.#live(id);
    if (!entry) return false;
    entry.confirmed = true;
    for (const wake of entry.waiters) wake();
    entry.waiters.clear();
    return true;
  }

  /**
   * Resolves true as soon as `id` is confirmed for `sub`, false after `timeoutMs` or when it cannot be
   * (unknown, expired, someone else's); rejects when `signal` aborts (the client gave up the call).
   */
  waitFor(id: string, sub: string, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    const entry = this.#live(id);
    if (!entry || entry.sub !== sub) return Promise.resolve(false);
    if (entry.confirmed) return Promise.resolve(true);
    return new Promise<boolean>((resolve, reject) => {
      const done = (confirmed: boolean) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        entry.waiters.delete(wake);
        resolve(confirmed);
      };
      const wake = () => done(true);
      const onAbort = () => {
        clearTimeout(timer);
        entry.waiters.delete(wake);
        reject(signal.reason ?? new Error('cancelled'));
      };
      if (signal.aborted) return onAbort();
      const timer = setTimeout(() => done(false), timeoutMs);
      entry.waiters.add(wake);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  #live(id: string): Pending | undefined {
    const entry = this.#pending.get(id);
    if (entry && entry.expiresAt <= Date.now()) {
      this.#pending.delete(id);
      return undefined;
    }
    return entry;
  }

  #prune(): void {
    const now = Date.now();
    for (const [id, entry] of this.#pending) if (entry.expiresAt <= now && entry.waiters.size === 0) this.#pending.delete(id);
    // Map order is insertion order: the first keys are the oldest.
    for (const id of this.#pending.keys()) {
      if (this.#pending.size < MAX_PENDING) break;
      this.#pending.delete(id);
    }
  }
}

const PAGE_HEADERS = {
  'Content-Type': 'text/html; charset=utf-8',
  'Cache-Control': 'no-store',
  // The page has no script and posts only to itself.
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

function page(status: number, body: string): Response {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Demo MCP server: confirm</title>
<style>body{font:16px system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}button{font:inherit;padding:.5rem 1rem}</style>
</head><body><h1>Demo MCP server</h1>${body}</body></html>`;
  return new Response(html, { status, headers: PAGE_HEADERS });
}

/**
 * Answers GET (the page with its button) and POST (the button) under CONFIRM_PATH; undefined for any
 * other path.
 */
export function confirmationPage(request: Request, pathname: string, confirmations: UrlConfirmations): Response | undefined {
  if (!pathname.startsWith(CONFIRM_PATH)) return undefined;
  const id = pathname.slice(CONFIRM_PATH.length);
  if (!/^[A-Za-z0-9_-]{22}$/.test(id)) return page(404, '<p>This confirmation link is not valid.</p>');
  if (request.method === 'GET' || request.method === 'HEAD') {
    return page(
      200,
      `<p>A tool of the demo MCP server asked you to confirm here. Nothing else happens when you do: this page exists to show a URL-mode elicitation.</p>
<form method="post"><button type="submit">Confirm</button></form>`,
    );
  }
  if (request.method === 'POST') {
    return confirmations.confirm(id)
      ? page(200, '<p>Confirmed. You can close this page and go back to your MCP client.</p>')
      : page(404, '<p>This confirmation expired or does not exist. Run the tool again.</p>');
  }
  return new Response(null, { status: 405, headers: { Allow: 'GET, HEAD, POST' } });
}
