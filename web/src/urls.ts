/**
 * Every URL the SPA uses: its own routes and the BFF's. Nothing else builds paths by hand.
 */
import { bffRoutes, LOGIN_ERROR_PARAM, LOGIN_REFERENCE_PARAM, LOGOUT_PARAM } from '@mcp-bff/shared';

/** Route patterns, for the router. */
export const routePatterns = {
  home: '/',
  server: '/servers/:server',
  tools: 'tools',
  tool: 'tools/:tool',
  resources: 'resources',
  resource: 'resources/read',
  prompts: 'prompts',
  prompt: 'prompts/:prompt',
  log: 'log',
  protocol: 'protocol',
  /** Outside the server frame: it must show a server that cannot be connected to. */
  connection: '/servers/:server/connection',
} as const;

export const homePath = routePatterns.home;

export function serverPath(server: string): string {
  return `/servers/${encodeURIComponent(server)}`;
}

export function toolsPath(server: string): string {
  return `${serverPath(server)}/tools`;
}

export function toolPath(server: string, tool: string): string {
  return `${toolsPath(server)}/${encodeURIComponent(tool)}`;
}

export function resourcesPath(server: string): string {
  return `${serverPath(server)}/resources`;
}

/** A resource's URI goes in the query: it has slashes and a scheme of its own. */
export function resourcePath(server: string, uri: string): string {
  return `${resourcesPath(server)}/read?${new URLSearchParams({ uri })}`;
}

export function promptsPath(server: string): string {
  return `${serverPath(server)}/prompts`;
}

export function promptPath(server: string, prompt: string): string {
  return `${promptsPath(server)}/${encodeURIComponent(prompt)}`;
}

export function logPath(server: string): string {
  return `${serverPath(server)}/log`;
}

export function protocolPath(server: string): string {
  return `${serverPath(server)}/protocol`;
}

export function connectionPath(server: string): string {
  return `${serverPath(server)}/connection`;
}

/**
 * The path and query to come back to after a login: the given location without the
 * `login_error` left by an earlier failed attempt (or a logout's outcome), and never an origin.
 */
export function returnToFor(location: { pathname: string; search: string }): string {
  const params = new URLSearchParams(location.search);
  params.delete(LOGIN_ERROR_PARAM);
  params.delete(LOGIN_REFERENCE_PARAM);
  params.delete(LOGOUT_PARAM);
  const search = params.toString();
  return search ? `${location.pathname}?${search}` : location.pathname;
}

/** Where the browser navigates (top level, never fetch) to connect `server`. */
export function loginHref(server: string, location: { pathname: string; search: string }): string {
  return bffRoutes.login(server, returnToFor(location));
}

/**
 * A login URL handed out by the BFF (e.g. a step-up with more scopes), pointed back at the current
 * page. Anything that is not a same-origin /bff/login URL is replaced by a plain login for `server`.
 */
export function bffLoginHref(
  loginUrl: string | undefined,
  server: string,
  location: { pathname: string; search: string },
): string {
  if (loginUrl) {
    try {
      const url = new URL(loginUrl, window.location.origin);
      const plain = new URL(bffRoutes.login(server, '/'), window.location.origin);
      if (url.origin === window.location.origin && url.pathname === plain.pathname) {
        url.searchParams.set('returnTo', returnToFor(location));
        return `${url.pathname}${url.search}`;
      }
    } catch {
      // Not a URL at all: fall through to the plain login.
    }
  }
  return loginHref(server, location);
}

/**
 * A sign-out offer's link (from the BFF's logout answer): only the BFF's own end-session route on this
 * origin, as a path; anything else is dropped (undefined).
 */
export function endSessionHref(url: string): string | undefined {
  try {
    const parsed = new URL(url, window.location.origin);
    const expected = new URL(bffRoutes.endSession('x'), window.location.origin);
    if (parsed.origin !== window.location.origin || parsed.pathname !== expected.pathname) return undefined;
    return `${parsed.pathname}${parsed.search}`;
  } catch {
    return undefined;
  }
}

export const sessionUrl = bffRoutes.session;
export const logoutUrl = bffRoutes.logout;

/** Absolute URL of the BFF's MCP endpoint for `server`, as the SDK transport wants it. */
export function mcpUrl(server: string): URL {
  return new URL(bffRoutes.mcp(server), window.location.origin);
}
