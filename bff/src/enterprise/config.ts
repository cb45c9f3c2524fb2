/**
 * Configuration of enterprise-managed authorization (the MCP extension
 * io.modelcontextprotocol/enterprise-managed-authorization, ext-auth): the enterprise identity provider
 * people sign in at once, and which servers get their tokens through it. Read by config.ts, the only
 * reader of the environment; nothing here imports it (config.ts imports this).
 */

export const SERVER_AUTHORIZATIONS = ['oauth', 'enterprise'] as const;
export type ServerAuthorization = 'enterprise';

export interface EnterpriseIdpConfig {
  /** The IdP's issuer: its OpenID Connect metadata is at <issuer>/.well-known/openid-configuration. */
  issuer: string;
  /** The BFF's client at the IdP (the `aud` of the ID tokens it gets). */
  clientId: string;
  /** Its secret (from the variable ENTERPRISE_IDP_CLIENT_SECRET_ENV names); none: a public client. */
  clientSecret: string | undefined;
  /** Scopes of the sign-in; always with `openid`. */
  scopes: string[];
  /**
   * A request header in which an authenticating reverse proxy in front of the BFF (one of
   * TRUSTED_PROXIES) forwards the ID token of the person it signed in: then /bff/login takes that ID
   * token instead of sending the person to the IdP a second time. Undefined: the BFF signs people in itself.
   */
  idTokenHeader: string | undefined;
  /**
   * How a forwarded ID token is checked before it decides anything (ENTERPRISE_IDP_ID_TOKEN_VERIFY):
   * "signature" (the default): its signature against the IdP's JWKS, and iss, aud, azp, exp, nbf;
   * "claims": those claims only, the signature being the authenticating proxy's to check (and the
   * IdP's, at every token exchange), for an IdP that publishes no JWKS.
   */
  idTokenVerify: 'signature' | 'claims';
}

interface Helpers {
  allowHttpLoopback: boolean;
  trustedProxies: string[];
  checkUrl: (name: string, value: string, allowHttpLoopback: boolean, problems: string[]) => URL | undefined;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const HEADER_NAME = /^[A-Za-z0-9-]{1,64}$/;
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
/** Headers a proxy or the browser sets for other reasons: never where an ID token is read from. */
const RESERVED_HEADERS = new Set(['authorization', 'cookie', 'host', 'origin', 'x-forwarded-for', 'x-csrf', 'content-type']);

/**
 * ENTERPRISE_IDP_ISSUER, ENTERPRISE_IDP_CLIENT_ID, ENTERPRISE_IDP_CLIENT_SECRET_ENV (the name of the
 * variable holding the secret, never the secret), ENTERPRISE_IDP_SCOPES, ENTERPRISE_IDP_ID_TOKEN_HEADER.
 * Every problem goes to `problems`; undefined when no IdP is configured.
 */
export function readEnterpriseIdp(
  env: Record<string, string | undefined>,
  servers: ReadonlyArray<{ id: string; authorization?: ServerAuthorization; clientId: string | undefined; issuer: string | undefined; service?: unknown }>,
  helpers: Helpers,
  problems: string[],
): EnterpriseIdpConfig | undefined {
  const managed = servers.filter((s) => s.authorization === 'enterprise').map((s) => s.id);
  // ext-auth §6.1: the IdP puts the BFF's client ID at the server's AS into the ID-JAG, from a mapping its
  // administrator made; a client registered on the fly could not be in it.
  for (const s of servers) {
    if (s.authorization === 'enterprise' && !s.clientId) {
      const where = servers.length === 1 && s.id === 'default' ? 'OAUTH_CLIENT_ID' : `"clientId" of ${s.id}`;
      problems.push(`${s.id} is enterprise-managed: it needs the client pre-registered at its authorization server (${where}), the one the IdP's administrator mapped the BFF to`);
    }
    // The ID-JAG is asked for with the AS as its audience: only the AS configured here may be that
    // audience, never one a server's metadata (or a 401 challenge) names (a server could name any).
    if (s.authorization === 'enterprise' && !s.issuer) {
      const where = servers.length === 1 && s.id === 'default' ? 'OAUTH_ISSUER' : `"issuer" of ${s.id}`;
      problems.push(`${s.id} is enterprise-managed: it needs the issuer of its authorization server (${where}), the only one the person's ID token is exchanged for`);
    }
    // A service server's tokens are the deployment's own, not a person's: the two cannot be combined.
    if (s.authorization === 'enterprise' && s.service) {
      problems.push(`${s.id} cannot be both enterprise-managed ("authorization": "enterprise") and a service server ("grant": "client_credentials"): choose one`);
    }
  }
  const issuer = env.ENTERPRISE_IDP_ISSUER || undefined;
  const clientId = env.ENTERPRISE_IDP_CLIENT_ID || undefined;
  if (!issuer) {
    if (managed.length > 0) {
      problems.push(`ENTERPRISE_IDP_ISSUER is required: ${managed.join(', ')} ${managed.length === 1 ? 'is' : 'are'} enterprise-managed (authorization "enterprise")`);
    }
    for (const name of ['ENTERPRISE_IDP_CLIENT_ID', 'ENTERPRISE_IDP_CLIENT_SECRET_ENV', 'ENTERPRISE_IDP_SCOPES', 'ENTERPRISE_IDP_ID_TOKEN_HEADER', 'ENTERPRISE_IDP_ID_TOKEN_VERIFY']) {
      if (env[name] && managed.length === 0) problems.push(`${name} goes with ENTERPRISE_IDP_ISSUER, which is not set`);
    }
    return undefined;
  }
  const url = helpers.checkUrl('ENTERPRISE_IDP_ISSUER', issuer, helpers.allowHttpLoopback, problems);
  if (url && (url.search || url.hash)) problems.push('ENTERPRISE_IDP_ISSUER must be an issuer URL without query or fragment');
  if (!url && !URL.canParse(issuer)) problems.push('ENTERPRISE_IDP_ISSUER must be an absolute URL, e.g. https://login.example.com');
  if (!clientId) problems.push('ENTERPRISE_IDP_CLIENT_ID is required with ENTERPRISE_IDP_ISSUER: the client registered for the BFF at the IdP');

  let clientSecret: string | undefined;
  const secretEnv = env.ENTERPRISE_IDP_CLIENT_SECRET_ENV || undefined;
  if (secretEnv !== undefined) {
    if (!ENV_NAME.test(secretEnv)) {
      problems.push('ENTERPRISE_IDP_CLIENT_SECRET_ENV must name an environment variable, e.g. "IDP_CLIENT_SECRET" (not the secret itself)');
    } else {
      clientSecret = env[secretEnv] || undefined;
      // The value is never echoed.
      if (!clientSecret) problems.push(`ENTERPRISE_IDP_CLIENT_SECRET_ENV: the environment variable ${secretEnv} it names is not set`);
    }
  }

  const scopes = (env.ENTERPRISE_IDP_SCOPES ?? '').split(' ').filter(Boolean);
  if (!scopes.every((s) => SCOPE_TOKEN.test(s))) problems.push('ENTERPRISE_IDP_SCOPES must be space-separated scope tokens');
  if (!scopes.includes('openid')) scopes.unshift('openid');

  const header = env.ENTERPRISE_IDP_ID_TOKEN_HEADER || undefined;
  if (header !== undefined) {
    if (!HEADER_NAME.test(header) || RESERVED_HEADERS.has(header.toLowerCase())) {
      problems.push('ENTERPRISE_IDP_ID_TOKEN_HEADER must be a header name of letters, digits and "-" that the proxy sets for this only, e.g. X-Forwarded-Id-Token');
    } else if (helpers.trustedProxies.length === 0) {
      problems.push('ENTERPRISE_IDP_ID_TOKEN_HEADER needs TRUSTED_PROXIES: the header is believed only from the proxies named there');
    }
  }
  const verify = env.ENTERPRISE_IDP_ID_TOKEN_VERIFY || undefined;
  if (verify !== undefined && verify !== 'signature' && verify !== 'claims') problems.push('ENTERPRISE_IDP_ID_TOKEN_VERIFY must be signature or claims');
  if (verify !== undefined && header === undefined) problems.push('ENTERPRISE_IDP_ID_TOKEN_VERIFY goes with ENTERPRISE_IDP_ID_TOKEN_HEADER, which is not set');
  if (managed.length === 0) problems.push('ENTERPRISE_IDP_ISSUER is set but no server is enterprise-managed: give one "authorization": "enterprise"');
  if (!clientId) return undefined;
  return { issuer, clientId, clientSecret, scopes, idTokenHeader: header?.toLowerCase(), idTokenVerify: verify === 'claims' ? 'claims' : 'signature' };
}
