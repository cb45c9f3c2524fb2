import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type AsymmetricSigningAlgorithm, type ClientMetadata, errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { PAGE_CSP, renderErrorPage, renderLogoutPage, renderSignedOutPage, STYLESHEET, STYLESHEET_PATH } from './auth-pages.js';
import { findDemoUser } from './demo-users.js';
import { type IdJagIssuerOptions, JWT_BEARER_GRANT, registerIdJagIssuer, registerJwtBearer, TOKEN_EXCHANGE_GRANT, type TrustedIdpOptions } from './id-jag.js';
import { createInteractionHandler, INTERACTION_PREFIX, sendPage } from './interactions.js';
import { createMemoryAdapterFactory } from './memory-adapter.js';
import type { ServiceClientRegistration } from './service-clients.js';

export interface AuthServerOptions {
  /** e.g. http://127.0.0.1:4000: the origin the caller bound with listen(); no path. */
  issuer: string;
  /** The MCP server's exact URL, e.g. http://127.0.0.1:4100/mcp: the only accepted resource indicator and the access tokens' audience. */
  resource: string;
  /** Pre-registered confidential clients (client_secret_basic). */
  clients: Array<{
    client_id: string;
    client_secret: string;
    redirect_uris: string[];
    /** Where the browser may be sent back after a sign-out here (OpenID Connect RP-Initiated Logout). */
    post_logout_redirect_uris?: string[];
    /** Where this AS posts logout tokens when a person signs out here (OpenID Connect Back-Channel Logout). */
    backchannel_logout_uri?: string;
    client_name?: string;
  }>;
  /**
   * Default 600; tests use a few seconds so that refresh really happens. A function gets the token
   * request's grant type ('authorization_code', 'refresh_token'), so that a test can have a short-lived
   * first token and a long-lived refreshed one.
   */
  accessTokenTtlSeconds?: AccessTokenTtl;
  /** Default 14 days. */
  refreshTokenTtlSeconds?: number;
  /** Resource scopes; default ['mcp:tools', 'mcp:admin']. */
  scopes?: string[];
  /**
   * Dynamically registered clients get a secret that expires this many seconds after registration
   * (RFC 7591 client_secret_expires_at); the token endpoint then refuses them with invalid_client.
   * Default: never.
   */
  registeredClientSecretTtlSeconds?: number;
  /**
   * Behave like Auth0 with an API: authorization requests must name this `audience`, or they are
   * refused (invalid_request, redirected back to the client).
   */
  requireAudience?: string;
  /**
   * Behave like Microsoft Entra ID: an explicit RFC 8707 `resource` is refused at the authorization
   * and token endpoints (invalid_target) and in a registration body (invalid_client_metadata, as
   * Keycloak does). Tokens are still issued for the MCP server, which is the default resource.
   */
  rejectResource?: boolean;
  /**
   * Behave like Okta or Keycloak: dynamic client registration needs this initial access token
   * (RFC 7591 §3.1) as a bearer token, else 401 (oidc-provider's `features.registration.initialAccessToken`).
   */
  registrationInitialAccessToken?: string;
  /**
   * Clients that use the client credentials grant (OAuth 2.1 §4.2) for themselves, with a secret or a
   * private_key_jwt assertion (demo/src/service-clients.ts). Their tokens are JWTs for `resource`,
   * like a person's. Without any, the grant is off.
   */
  serviceClients?: ServiceClientRegistration[];
  /**
   * Issue DPoP-bound access tokens (RFC 9449) to clients that send a proof (oidc-provider's
   * `features.dPoP`), advertising `dpop_signing_alg_values_supported`. `requireNonce` makes the token
   * endpoint ask for its nonce first (400 use_dpop_nonce with a DPoP-Nonce header). `algorithms`: the
   * proof algorithms it takes and advertises (oidc-provider's default: ES256 and EdDSA).
   */
  dpop?: { requireNonce?: boolean; algorithms?: AsymmetricSigningAlgorithm[] };
  /**
   * Enterprise-managed authorization, as the enterprise IdP: token exchange (RFC 8693) of the ID tokens
   * this server issues for ID-JAGs (id-jag.ts). Its clients may use the token exchange grant.
   */
  idJagIssuer?: IdJagIssuerOptions;
  /**
   * Enterprise-managed authorization, as an MCP server's AS: the JWT bearer grant (RFC 7523) with
   * ID-JAGs from this IdP (id-jag.ts). Its clients, configured and registered, may use that grant.
   */
  trustedIdp?: TrustedIdpOptions;
}

export type AccessTokenTtl = number | ((grantType: string) => number);

export interface AuthServer {
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** Every request that reached the token endpoint, in arrival order, failed ones included ('' when no grant_type could be read). */
  tokenRequests: Array<{ grantType: string; at: number }>;
  /** Every request that reached the revocation endpoint, with its token_type_hint if any. */
  revocations: Array<{ hint: string | undefined; at: number }>;
  /**
   * Every logout token this AS sent (OpenID Connect Back-Channel Logout), when the client answered:
   * ok, or the error it met.
   */
  backchannelLogouts: Array<{ clientId: string; sub: string; ok: boolean; error?: string }>;
  /** Every dynamic client registration (RFC 7591) that succeeded, in order. */
  registrations: Array<{ clientId: string; at: number }>;
  /**
   * Forgets a registered client, as an AS that purges registrations does: it is unknown from then on,
   * at the authorization, token and registration endpoints alike.
   */
  forgetClient(clientId: string): Promise<void>;
  /** The underlying oidc-provider instance, for tests that need to look deeper. */
  provider: Provider;
}

export const DEFAULT_RESOURCE_SCOPES = ['mcp:tools', 'mcp:admin'];

/** Routes pinned explicitly (they are oidc-provider's defaults) because the recording middleware matches on them. */
const ROUTES = {
  authorization: '/auth',
  token: '/token',
  revocation: '/token/revocation',
  introspection: '/token/introspection',
  registration: '/reg',
  jwks: '/jwks',
  userinfo: '/me',
  end_session: '/session/end',
} as const;

const OIDC_DISCOVERY = '/.well-known/openid-configuration';
const OAUTH_DISCOVERY = '/.well-known/oauth-authorization-server';

export async function createAuthServer(options: AuthServerOptions): Promise<AuthServer> {
  const issuerUrl = new URL(options.issuer);
  if (issuerUrl.pathname !== '/' || issuerUrl.search || issuerUrl.hash || options.issuer.endsWith('/')) {
    // The provider is mounted at the root of the listener and RFC 8414 path insertion is not wired up.
    throw new Error(`issuer must be a bare origin without a trailing slash, got ${options.issuer}`);
  }
  const ttlOption = options.accessTokenTtlSeconds ?? 600;
  const accessTokenTtl = (grantType: unknown): number =>
    typeof ttlOption === 'number' ? ttlOption : ttlOption(typeof grantType === 'string' ? grantType : '');
  const refreshTokenTtl = options.refreshTokenTtlSeconds ?? 14 * 24 * 60 * 60;
  const resourceScopes = options.scopes ?? DEFAULT_RESOURCE_SCOPES;

  // Fresh signing key per process: nothing outlives the demo, so there is nothing to persist or rotate.
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = randomUUID();
  const signingKey = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
  const signer = { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }, kid };
  // Enterprise-managed authorization adds a grant to every client (id-jag.ts).
  const grantTypes = [
    'authorization_code',
    'refresh_token',
    ...(options.idJagIssuer ? [TOKEN_EXCHANGE_GRANT] : []),
    ...(options.trustedIdp ? [JWT_BEARER_GRANT] : []),
  ];

  const adapter = createMemoryAdapterFactory();
  const clientStore = adapter('Client');
  const configuration: Configuration = {
    adapter,
    clients: [
      ...options.clients.map((c): ClientMetadata => ({
        ...c,
        grant_types: grantTypes,
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      })),
      ...(options.serviceClients ?? []).map(
        (c): ClientMetadata => ({
          ...c,
          grant_types: ['client_credentials'],
          response_types: [],
          redirect_uris: [],
          ...(c.token_endpoint_auth_method === 'private_key_jwt' ? { token_endpoint_auth_signing_alg: 'ES256' } : {}),
        }),
      ),
    ],
    // Applied to dynamically registered clients that do not say otherwise.
    clientDefaults: {
      grant_types: grantTypes,
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
    responseTypes: ['code'],
    // OAuth 2.1: PKCE for every client, S256 only ('plain' is not even listed, so it is refused).
    pkce: { methods: ['S256'], required: () => true },
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    claims: { openid: ['sub'], profile: ['name'], email: ['email'] },
    ...(options.rejectResource
      ? {
          // A registration (or update) body naming `resource` is refused, as Keycloak does.
          extraClientMetadata: {
            properties: ['resource'],
            validator(_ctx: unknown, key: string, value: unknown) {
              if (key === 'resource' && value !== undefined) throw new errors.InvalidClientMetadata('unrecognized client metadata: resource');
            },
          },
        }
      : {}),
    ...(options.requireAudience !== undefined
      ? {
          extraParams: {
            audience(_ctx: unknown, value: string | undefined) {
              if (value !== options.requireAudience) throw new errors.InvalidRequest('"audience" is missing or not an API this server knows');
            },
          },
        }
      : {}),
    async findAccount(_ctx, sub) {
      const user = findDemoUser(sub);
      if (!user) return undefined;
      return {
        accountId: user.username,
        claims: async () => ({ sub: user.username, name: user.name, email: user.email }),
      };
    },
    jwks: { keys: [signingKey] },
    cookies: {
      // DEMO-ONLY: random per process, so cookies die with the process; a real AS keeps rotated secret keys.
      keys: [randomBytes(32).toString('base64url')],
      // oidc-provider's default for the session cookie is SameSite=None, which browsers reject without
      // Secure, and this demo issuer is plain http on 127.0.0.1. Lax is what a top-level login needs.
      long: { httpOnly: true, sameSite: 'lax', signed: true },
      short: { httpOnly: true, sameSite: 'lax', signed: true },
    },
    interactions: { url: (_ctx, interaction) => `${INTERACTION_PREFIX}${interaction.uid}` },
    ...(options.dpop?.algorithms ? { enabledJWA: { dPoPSigningAlgValues: options.dpop.algorithms } } : {}),
    routes: ROUTES,
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      // OAuth client credentials, for the service clients only (their registrations allow the grant).
      clientCredentials: { enabled: (options.serviceClients ?? []).length > 0 },
      // OpenID Connect RP-Initiated Logout (end_session_endpoint, on by default): with this demo's pages.
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          ctx.type = 'html';
          ctx.set('Content-Security-Policy', PAGE_CSP);
          ctx.body = renderLogoutPage({
            form,
            username: ctx.oidc.session?.accountId ?? '',
            clientName: ctx.oidc.client ? (ctx.oidc.client.clientName ?? ctx.oidc.client.clientId) : undefined,
          });
        },
        async postLogoutSuccessSource(ctx) {
          ctx.type = 'html';
          ctx.set('Content-Security-Policy', PAGE_CSP);
          ctx.body = renderSignedOutPage();
        },
      },
      // OpenID Connect Back-Channel Logout: a sign-out here posts a logout token to every client of the
      // person's login that has a backchannel_logout_uri.
      backchannelLogout: { enabled: true },
      ...(options.dpop
        ? {
            dPoP: {
              enabled: true,
              nonceSecret: randomBytes(32),
              requireNonce: () => options.dpop?.requireNonce === true,
            },
          }
        : {}),
      // Open dynamic client registration (RFC 7591), fine for a demo; or behind an initial access token.
      registration: { enabled: true, ...(options.registrationInitialAccessToken ? { initialAccessToken: options.registrationInitialAccessToken } : {}) },
      resourceIndicators: {
        enabled: true,
        // Requests without `resource` get the MCP server; when several are in play, pick ours.
        defaultResource: (_ctx, _client, oneOf) => (oneOf ? (oneOf.includes(options.resource) ? options.resource : oneOf) : options.resource),
        // Token requests without `resource` still get an access token for the granted resource, even
        // with `openid` (otherwise oidc-provider would issue an opaque userinfo token).
        useGrantedResource: () => true,
        getResourceServerInfo(ctx, resourceIndicator) {
          // What the client sent, not ctx.oidc.params.resource (which holds the default resource).
          const sent = (ctx.oidc as { body?: Record<string, unknown> }).body?.resource ?? ctx.query.resource;
          if (options.rejectResource && sent !== undefined) {
            throw new errors.InvalidTarget('the resource parameter is not supported');
          }
          // Exact string match: the resource indicator is compared verbatim, never normalised.
          if (resourceIndicator !== options.resource) throw new errors.InvalidTarget();
          return {
            scope: resourceScopes.join(' '),
            audience: options.resource,
            accessTokenTTL: accessTokenTtl(ctx.oidc.params?.grant_type),
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    // The default only issues refresh tokens for `offline_access`, which oidc-provider drops unless the
    // request also has prompt=consent. Plain OAuth clients (the BFF) don't send either.
    issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    // Tokens must not die with the user's browser session at the AS: the BFF holds them, not the browser.
    expiresWithSession: () => false,
    ttl: {
      AccessToken: (ctx) => accessTokenTtl(ctx.oidc.params?.grant_type),
      AuthorizationCode: 60,
      RefreshToken: refreshTokenTtl,
      Grant: refreshTokenTtl,
      Session: 14 * 24 * 60 * 60,
      Interaction: 60 * 60,
      IdToken: 60 * 60,
      ClientCredentials: 10 * 60,
      DeviceCode: 10 * 60,
      BackchannelAuthenticationRequest: 10 * 60,
    },
    // Nobody calls this AS from a browser script: no CORS for anyone (also silences a "must change" notice).
    clientBasedCORS: () => false,
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.set('Content-Security-Policy', PAGE_CSP);
      ctx.body = renderErrorPage('Something went wrong', { error: out.error, error_description: out.error_description });
    },
  };

  const provider = new Provider(options.issuer, configuration);
  if (options.idJagIssuer) registerIdJagIssuer(provider, options.issuer, signer, options.idJagIssuer);
  if (options.trustedIdp) {
    registerJwtBearer(provider, {
      issuer: options.issuer,
      resource: options.resource,
      resourceScopes,
      trusted: options.trustedIdp,
      accessTokenTtlSeconds: accessTokenTtl,
      signer,
    });
  }

  // Server errors are real bugs: show them. Client errors (bad grants, bad requests) are expected and quiet.
  provider.on('server_error', (_ctx: unknown, err: Error) => {
    console.error('[demo-as] server_error:', err);
  });

  const tokenRequests: AuthServer['tokenRequests'] = [];
  const revocations: AuthServer['revocations'] = [];
  const registrations: AuthServer['registrations'] = [];
  const backchannelLogouts: AuthServer['backchannelLogouts'] = [];
  provider.on('backchannel.success', (_ctx: unknown, client: { clientId: string }, sub: string) => {
    backchannelLogouts.push({ clientId: client.clientId, sub, ok: true });
  });
  provider.on('backchannel.error', (_ctx: unknown, err: Error, client: { clientId: string }, sub: string) => {
    backchannelLogouts.push({ clientId: client.clientId, sub, ok: false, error: err.message });
  });

  // provider.use() runs before oidc-provider's own routing, so this sees every request, even failed ones.
  provider.use(async (koaCtx, next) => {
    const ctx = koaCtx as unknown as KoaContextWithOIDC;
    // Entries are pushed on arrival (order) and completed once the body has been parsed by the route.
    const tokenEntry = ctx.path === ROUTES.token ? { grantType: '', at: Date.now() } : undefined;
    const revocationEntry = ctx.path === ROUTES.revocation ? { hint: undefined as string | undefined, at: Date.now() } : undefined;
    if (tokenEntry) tokenRequests.push(tokenEntry);
    if (revocationEntry) revocations.push(revocationEntry);
    try {
      await next();
    } finally {
      const body = (ctx.oidc as { body?: Record<string, unknown> } | undefined)?.body;
      if (tokenEntry && typeof body?.grant_type === 'string') tokenEntry.grantType = body.grant_type;
      if (revocationEntry && typeof body?.token_type_hint === 'string') revocationEntry.hint = body.token_type_hint;
    }
    if (ctx.oidc?.route === 'registration' && ctx.status === 201 && ctx.body && typeof ctx.body === 'object') {
      const registered = ctx.body as { client_id?: unknown; client_secret?: unknown; client_secret_expires_at?: number };
      if (typeof registered.client_id === 'string') {
        registrations.push({ clientId: registered.client_id, at: Date.now() });
        // oidc-provider applies an expiry only through initial access token policies: set it on the
        // stored client (which the token endpoint checks) and in the answer.
        const ttl = options.registeredClientSecretTtlSeconds;
        const stored = ttl !== undefined && registered.client_secret ? await clientStore.find(registered.client_id) : undefined;
        if (stored && ttl !== undefined) {
          const expiresAt = Math.floor(Date.now() / 1000) + ttl;
          // The record itself stays until it is destroyed, as oidc-provider stores clients.
          await clientStore.upsert(registered.client_id, { ...stored, client_secret_expires_at: expiresAt }, Number.POSITIVE_INFINITY);
          registered.client_secret_expires_at = expiresAt;
        }
      }
    }
    // Advertise the resource scopes too (oidc-provider lists only its OpenID Connect scopes).
    if (ctx.oidc?.route === 'discovery' && ctx.body && typeof ctx.body === 'object') {
      const metadata = ctx.body as { scopes_supported?: string[] };
      metadata.scopes_supported = [...new Set([...(metadata.scopes_supported ?? []), ...resourceScopes])];
    }
  });

  const providerCallback = provider.callback();
  const handleInteraction = createInteractionHandler(provider);

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', options.issuer);
    if (url.pathname === OAUTH_DISCOVERY) {
      // RFC 8414 metadata: the very same document as OpenID discovery, served by the same code.
      req.url = OIDC_DISCOVERY + url.search;
      return providerCallback(req, res);
    }
    if (url.pathname === STYLESHEET_PATH) {
      res.setHeader('Content-Type', 'text/css; charset=utf-8');
      res.setHeader('Cache-Control', 'public, max-age=3600');
      res.end(STYLESHEET);
      return;
    }
    if (url.pathname.startsWith(INTERACTION_PREFIX)) return handleInteraction(req, res, url.pathname);
    return providerCallback(req, res);
  }

  return {
    handler(req, res) {
      route(req, res).catch((err: unknown) => {
        console.error('[demo-as] unhandled error:', err);
        if (!res.headersSent) sendPage(res, 500, renderErrorPage('Server error', {}));
        else res.destroy();
      });
    },
    tokenRequests,
    revocations,
    registrations,
    backchannelLogouts,
    forgetClient: (clientId) => clientStore.destroy(clientId),
    provider,
  };
}
