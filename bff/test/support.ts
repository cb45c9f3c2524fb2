import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CookieJar } from '../../demo/src/cookie-jar.js';
import { loginThroughForms } from '../../demo/src/login-driver.js';
import { unsealData } from 'iron-session';
import { DEMO_SESSION_SECRET, type Stack } from '../../demo/src/stack.js';

/**
 * A browser stand-in for API tests: a cookie jar per "browser", requests with manual redirects, and the
 * same headers the SPA sends.
 */
export class TestBrowser {
  readonly jar = new CookieJar();
  /** A separate jar for the authorization server's own cookies (its login session). */
  readonly asJar = new CookieJar();

  /** Headers an authenticating proxy in front of the BFF adds to every request (the person it signed in). */
  proxyHeaders: Record<string, string> = {};

  constructor(readonly appUrl: string) {}

  async request(path: string, init: RequestInit & { csrf?: boolean } = {}): Promise<Response> {
    const url = new URL(path, this.appUrl);
    const headers = new Headers(init.headers);
    for (const [name, value] of Object.entries(this.proxyHeaders)) if (!headers.has(name)) headers.set(name, value);
    const cookie = this.jar.header(url);
    if (cookie && !headers.has('cookie')) headers.set('cookie', cookie);
    if (init.csrf !== false && !headers.has('x-csrf')) headers.set('x-csrf', '1');
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.jar.store(url, res.headers);
    return res;
  }

  /** GET /bff/login, then the AS's pages; returns the callback URL the AS redirected to (not yet fetched). */
  async authorize(options: { returnTo?: string; user?: string; consent?: 'allow' | 'deny' } = {}): Promise<URL> {
    const res = await this.request(`/bff/login?server=default&returnTo=${encodeURIComponent(options.returnTo ?? '/')}`, {
      csrf: false,
    });
    if (res.status !== 302) throw new Error(`login answered ${res.status}`);
    const location = res.headers.get('location') as string;
    const user = options.user ?? 'alice';
    return loginThroughForms(location, user, `${user}-demo-password`, options.consent ?? 'allow', this.asJar);
  }

  /** The whole login: authorize, then let the BFF's callback finish it. */
  async login(options: { returnTo?: string; user?: string } = {}): Promise<Response> {
    return this.finishLogin(await this.authorize(options));
  }

  /**
   * What a browser does at the callback: load it (a small page on the app's origin), follow its
   * same-site bounce to /bff/callback/complete, and get redirected to returnTo.
   */
  async finishLogin(callback: URL): Promise<Response> {
    const res = await this.request(callback.pathname + callback.search, { csrf: false });
    if (res.status !== 200) throw new Error(`callback answered ${res.status}: ${await res.text()}`);
    const next = /http-equiv="refresh" content="0;url=([^"]+)"/.exec(await res.text())?.[1];
    if (!next) throw new Error('callback page has no bounce');
    const done = await this.request(next, { csrf: false });
    if (done.status !== 302) throw new Error(`completion answered ${done.status}: ${await done.text()}`);
    return done;
  }

  /** The server-side session id inside the sealed cookie (tests know the demo secret). */
  async sessionId(): Promise<string> {
    const sealed = this.jar.header(this.appUrl)?.match(/mcp_session=([^;]+)/)?.[1];
    if (!sealed) throw new Error('no session cookie');
    const { sid } = await unsealData<{ sid: string }>(sealed, { password: { 1: DEMO_SESSION_SECRET } });
    return sid;
  }

  async session(): Promise<{
    authenticated: boolean;
    connections: Array<{ server: string; status: string; scopes: string[]; expiresAt: number | null }>;
  }> {
    const res = await this.request('/bff/session');
    return res.json();
  }

  /** The official MCP client, talking to /mcp/default through the BFF with this browser's cookies. */
  async mcpClient(server = 'default'): Promise<Client> {
    const transport = new StreamableHTTPClientTransport(new URL(`/mcp/${server}`, this.appUrl), {
      fetch: async (input, init) => {
        const url = new URL(input instanceof Request ? input.url : String(input));
        const headers = new Headers(init?.headers);
        for (const [name, value] of Object.entries(this.proxyHeaders)) headers.set(name, value);
        headers.set('x-csrf', '1');
        const cookie = this.jar.header(url);
        if (cookie) headers.set('cookie', cookie);
        const res = await fetch(url, { ...init, headers });
        this.jar.store(url, res.headers);
        return res;
      },
    });
    const client = new Client({ name: 'bff-test', version: '1.0.0' });
    await client.connect(transport);
    return client;
  }
}

/** JSON-RPC over plain fetch, for tests that look at raw HTTP answers. */
export function rpc(method: string, params: Record<string, unknown> = {}, id = 1): string {
  return JSON.stringify({ jsonrpc: '2.0', id, method, params });
}

/** The body of an MCP initialize request. */
export const INITIALIZE = rpc('initialize', {
  protocolVersion: '2025-11-25',
  capabilities: {},
  clientInfo: { name: 'bff-test', version: '1' },
});

/** Opens an MCP session through the BFF with a raw initialize; returns the id the server handed out. */
export async function initializeMcp(browser: TestBrowser, server = 'default'): Promise<string> {
  const res = await browser.request(`/mcp/${server}`, { method: 'POST', headers: MCP_HEADERS, body: INITIALIZE });
  if (res.status !== 200) throw new Error(`initialize answered ${res.status}`);
  await res.text();
  return res.headers.get('mcp-session-id') as string;
}

export const MCP_HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2025-11-25',
};

export function grants(stack: Stack, grantType: string): number {
  return stack.as.tokenRequests.filter((r) => r.grantType === grantType).length;
}

/** Makes the stored access token look nearly expired, so the next use must refresh it. */
export async function expireSoon(stack: Stack, sessionId: string): Promise<void> {
  const record = await stack.store.getConnection(sessionId, 'default');
  if (!record) throw new Error('no connection to expire');
  const now = Date.now();
  await stack.store.putConnection(sessionId, 'default', { ...record, issuedAt: now - 600_000, expiresAt: now + 1_000 });
}
