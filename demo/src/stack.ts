import { createApp, nodeRequestListener } from '../../bff/src/app.js';
import { loadConfig } from '../../bff/src/config.js';
import { applyClientLimits, clientLimitOptions, DEFAULT_CLIENT_LIMITS } from '../../bff/src/http/server-limits.js';
import { createLogger, type Logger } from '../../bff/src/log.js';
import { MemoryTokenStore } from '../../bff/src/store/memory.js';
import type { TokenStore } from '../../bff/src/store/types.js';
import { type AuthServer, type AuthServerOptions, createAuthServer } from './auth-server.js';
import type { IdJagIssuerOptions } from './id-jag.js';

/** How a demo authorization server imitates a real identity provider's quirks (auth-server.ts). */
export type AuthServerQuirks = Pick<AuthServerOptions, 'requireAudience' | 'rejectResource' | 'registrationInitialAccessToken' | 'dpop'>;
import { listen } from './listen.js';
import { demoServiceClients, demoServiceServer, type ServiceClientAuth } from './service-clients.js';
import type { ListOptions } from './mcp-lists.js';
import { createMcpServer, type McpDemo, type McpProtocols } from './mcp-server.js';

/**
 * Demo-only client credentials, pre-registered at the demo authorization server. Never use them for
 * anything else: they are public in this repository.
 */
export const DEMO_CLIENT = {
  client_id: 'mcp-bff-demo',
  client_secret: 'demo-only-client-secret-not-for-production',
} as const;

/**
 * Demo-only cookie secret: public in this repository, so it protects nothing. Made like a real one
 * (`openssl rand -base64 48`), because the BFF refuses anything that does not look random.
 */
/**
 * Demo-only credentials of the BFF at the demo enterprise IdP (enterprise-managed authorization). Public
 * in this repository: never use them for anything else.
 */
export const DEMO_IDP_CLIENT = {
  client_id: 'mcp-bff-enterprise',
  client_secret: 'demo-only-idp-client-secret-not-for-production',
} as const;

export const DEMO_SESSION_SECRET = 'Iqi//AH7AvPUAHv5/PeSDHXTeoxhD/mEznKnVUB5ySnqHXTDQCwcIBQ39v4mi7u3';

export interface StackOptions {
  /** 0 picks free ports (tests); the demo uses 3000, 4000 and 4100. */
  appPort?: number;
  asPort?: number;
  mcpPort?: number;
  accessTokenTtlSeconds?: number;
  /** Directory of the built SPA; omitted in API-only tests. */
  staticDir?: string;
  logLevel?: string;
  log?: Logger;
  store?: TokenStore;
  /** Extra environment for the BFF's configuration (e.g. OAUTH_SCOPES). */
  env?: Record<string, string>;
  /** Replaces the BFF's guarded fetch for requests to authorization servers (tests that watch them). */
  outboundFetch?: typeof fetch;
  /**
   * Also start a second MCP server ("notes") behind its own authorization server, with no
   * pre-registered client: the BFF registers itself there (RFC 7591). It offers no completions (and
   * declares none), so a client can be seen not to ask a server that never said it could answer.
   */
  secondServer?: boolean;
  secondAsPort?: number;
  secondMcpPort?: number;
  /** Which MCP protocol eras the demo MCP servers (both, when there are two) speak; default both. */
  mcpProtocols?: McpProtocols;
  /** Quirks of the (first) authorization server, and of the second one. */
  authServer?: AuthServerQuirks;
  secondAuthServer?: AuthServerQuirks;
  /**
   * More settings of the MCP_SERVERS entries when there are two servers (e.g. resourceIndicator,
   * initialAccessTokenEnv), by server id.
   */
  serverSettings?: { default?: Record<string, unknown>; notes?: Record<string, unknown> };
  /** Whether the (first) demo MCP server offers completions and declares them; default true. */
  mcpCompletions?: boolean;
  /** The (first) demo MCP server's lists in pages, with made-up resources to page through; default off. */
  mcpLists?: ListOptions;
  /**
   * Also configure a server "service" (the same demo MCP server) used with the deployment's own
   * identity: client credentials with a demo-only secret or private key (service-clients.ts), which
   * the demo authorization server then accepts. Default off.
   */
  serviceCredentials?: ServiceClientAuth;
  /**
   * DPoP (RFC 9449) at the (first) authorization server and MCP server: DPoP-bound tokens, which the
   * MCP server takes only with a valid proof; `requireNonce` makes both ask for their nonces.
   */
  dpop?: { requireNonce?: boolean };
  /**
   * Enterprise-managed authorization: also start a demo enterprise IdP (another demo authorization
   * server, same sign-in pages and people) that issues ID-JAGs, make the authorization server accept
   * them (JWT bearer grant), and configure the (single) MCP server as enterprise-managed.
   */
  enterprise?: {
    idpPort?: number;
    /** The IdP's policy (default: everyone may use the server). */
    allow?: IdJagIssuerOptions['allow'];
    /** How long the IdP's refresh tokens last (default 14 days). */
    idpRefreshTokenTtlSeconds?: number;
    /**
     * The client ID the IdP's administrator mapped the BFF to at the authorization server (default: the
     * BFF's, DEMO_CLIENT): another one makes the authorization server refuse the ID-JAGs.
     */
    idJagClientId?: string;
  };
}

export interface Stack {
  /** The app as the browser sees it: http://localhost:<port> (a different site from 127.0.0.1). */
  appUrl: string;
  /** The authorization server's issuer: http://127.0.0.1:<port>. */
  issuer: string;
  /** The MCP server's URL: http://127.0.0.1:<port>/mcp. */
  mcpUrl: string;
  as: AuthServer;
  mcp: McpDemo;
  store: TokenStore;
  app: ReturnType<typeof createApp>;
  /** The second server and its authorization server, when asked for. */
  second?: { issuer: string; mcpUrl: string; as: AuthServer; mcp: McpDemo };
  /** The enterprise IdP, when asked for. */
  idp?: { issuer: string; as: AuthServer };
  /** Stops and starts the authorization server's listener on the same port, to show an outage. */
  stopAuthServer(): Promise<void>;
  startAuthServer(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts the real demo authorization server, the real demo MCP server and the BFF, wired to each other.
 * Each listener is bound first so that, with port 0, every part knows the others' URLs.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const asListener = await listen(options.asPort ?? 0, '127.0.0.1');
  const mcpListener = await listen(options.mcpPort ?? 0, '127.0.0.1');
  // The BFF's limits for slow clients, as main.ts sets them (the configured values follow below).
  const appListener = await listen(options.appPort ?? 0, '127.0.0.1', 'localhost', clientLimitOptions(DEFAULT_CLIENT_LIMITS));
  const issuer = asListener.origin;
  const mcpUrl = `${mcpListener.origin}/mcp`;
  const appUrl = appListener.origin;

  let idp: Stack['idp'];
  const closeIdp: Array<() => Promise<void>> = [];
  if (options.enterprise) {
    const idpListener = await listen(options.enterprise.idpPort ?? 0, '127.0.0.1');
    const idpAs = await createAuthServer({
      issuer: idpListener.origin,
      // The IdP's own API (its sign-in's access token); the MCP server is never its resource.
      resource: `${idpListener.origin}/api`,
      clients: [{ ...DEMO_IDP_CLIENT, redirect_uris: [`${appUrl}/bff/idp/callback`], client_name: 'MCP BFF (enterprise)' }],
      ...(options.enterprise.idpRefreshTokenTtlSeconds ? { refreshTokenTtlSeconds: options.enterprise.idpRefreshTokenTtlSeconds } : {}),
      idJagIssuer: { clientIds: { [issuer]: options.enterprise.idJagClientId ?? DEMO_CLIENT.client_id }, ...(options.enterprise.allow ? { allow: options.enterprise.allow } : {}) },
    });
    idpListener.handle(idpAs.handler);
    idp = { issuer: idpListener.origin, as: idpAs };
    closeIdp.push(() => idpListener.close());
  }
  const as = await createAuthServer({
    issuer,
    resource: mcpUrl,
    ...(idp ? { trustedIdp: { issuer: idp.issuer, jwksUri: `${idp.issuer}/jwks` } } : {}),
    clients: [
      {
        ...DEMO_CLIENT,
        redirect_uris: [`${appUrl}/bff/callback/default`],
        post_logout_redirect_uris: [`${appUrl}/bff/logout/callback`],
        backchannel_logout_uri: `${appUrl}/bff/backchannel-logout`,
      },
    ],
    ...(options.accessTokenTtlSeconds ? { accessTokenTtlSeconds: options.accessTokenTtlSeconds } : {}),
    ...(options.serviceCredentials ? { serviceClients: demoServiceClients() } : {}),
    ...options.authServer,
    ...(options.dpop ? { dpop: { ...options.authServer?.dpop, ...options.dpop } } : {}),
  });
  asListener.handle(as.handler);
  const mcp = createMcpServer({
    resource: mcpUrl,
    issuer,
    protocols: options.mcpProtocols,
    ...(options.dpop ? { dpop: options.dpop } : {}),
    completions: options.mcpCompletions ?? true,
    ...(options.mcpLists ? { lists: options.mcpLists } : {}),
  });
  mcpListener.handle(mcp.handler);

  let second: Stack['second'];
  const closeSecond: Array<() => Promise<void>> = [];
  if (options.secondServer) {
    const as2Listener = await listen(options.secondAsPort ?? 0, '127.0.0.1');
    const mcp2Listener = await listen(options.secondMcpPort ?? 0, '127.0.0.1');
    const issuer2 = as2Listener.origin;
    const mcpUrl2 = `${mcp2Listener.origin}/mcp`;
    const as2 = await createAuthServer({
      issuer: issuer2,
      resource: mcpUrl2,
      clients: [],
      ...(options.accessTokenTtlSeconds ? { accessTokenTtlSeconds: options.accessTokenTtlSeconds } : {}),
      ...options.secondAuthServer,
    });
    as2Listener.handle(as2.handler);
    const mcp2 = createMcpServer({ resource: mcpUrl2, issuer: issuer2, protocols: options.mcpProtocols, completions: false });
    mcp2Listener.handle(mcp2.handler);
    second = { issuer: issuer2, mcpUrl: mcpUrl2, as: as2, mcp: mcp2 };
    closeSecond.push(() => mcp2.close().then(() => mcp2Listener.close()), () => as2Listener.close());
  }
  const service = options.serviceCredentials ? demoServiceServer(mcpUrl, options.serviceCredentials) : undefined;
  const servers = service
    ? {
        MCP_SERVERS: JSON.stringify([
          { id: 'default', name: 'Demo MCP server', url: mcpUrl, clientId: DEMO_CLIENT.client_id, clientSecret: DEMO_CLIENT.client_secret, scopes: 'mcp:tools', ...options.serverSettings?.default },
          ...(second ? [{ id: 'notes', name: 'Second demo MCP server', url: second.mcpUrl, ...options.serverSettings?.notes }] : []),
          service.entry,
        ]),
        ...service.env,
      }
    : second
    ? {
        MCP_SERVERS: JSON.stringify([
          {
            id: 'default',
            name: 'Demo MCP server',
            url: mcpUrl,
            clientId: DEMO_CLIENT.client_id,
            clientSecret: DEMO_CLIENT.client_secret,
            scopes: 'mcp:tools',
            ...options.serverSettings?.default,
          },
          { id: 'notes', name: 'Second demo MCP server', url: second.mcpUrl, ...options.serverSettings?.notes },
        ]),
      }
    : {
        MCP_SERVER_URL: mcpUrl,
        MCP_SERVER_NAME: 'Demo MCP server',
        OAUTH_CLIENT_ID: DEMO_CLIENT.client_id,
        OAUTH_CLIENT_SECRET: DEMO_CLIENT.client_secret,
        OAUTH_SCOPES: 'mcp:tools',
        ...(idp
          ? {
              MCP_SERVER_AUTHORIZATION: 'enterprise',
              // The only AS the person's ID token may be exchanged for (see enterprise/connector.ts).
              OAUTH_ISSUER: issuer,
              ENTERPRISE_IDP_ISSUER: idp.issuer,
              ENTERPRISE_IDP_CLIENT_ID: DEMO_IDP_CLIENT.client_id,
              ENTERPRISE_IDP_CLIENT_SECRET_ENV: 'DEMO_IDP_CLIENT_SECRET',
              DEMO_IDP_CLIENT_SECRET: DEMO_IDP_CLIENT.client_secret,
            }
          : {}),
      };
  const config = loadConfig({
    PUBLIC_URL: appUrl,
    PORT: String(appListener.port),
    ...servers,
    SESSION_SECRET: DEMO_SESSION_SECRET,
    ALLOW_HTTP_LOOPBACK: '1',
    LOG_LEVEL: options.logLevel ?? 'silent',
    ...(options.staticDir ? { STATIC_DIR: options.staticDir } : {}),
    ...options.env,
  });
  const log = options.log ?? createLogger(config.logLevel);
  const store = options.store ?? new MemoryTokenStore();
  const app = createApp({
    config,
    store,
    log,
    ...(options.outboundFetch ? { outboundFetch: options.outboundFetch } : {}),
  });
  applyClientLimits(appListener.server, config);
  appListener.handle(nodeRequestListener(app));

  let asDown = false;
  return {
    appUrl,
    issuer,
    mcpUrl,
    as,
    mcp,
    store,
    app,
    ...(second ? { second } : {}),
    ...(idp ? { idp } : {}),
    async stopAuthServer() {
      asDown = true;
      await new Promise<void>((resolve) => {
        asListener.server.close(() => resolve());
        asListener.server.closeAllConnections();
      });
    },
    async startAuthServer() {
      if (!asDown) return;
      await new Promise<void>((resolve, reject) => {
        asListener.server.once('error', reject);
        asListener.server.listen(asListener.port, '127.0.0.1', () => resolve());
      });
      asDown = false;
    },
    async close() {
      await Promise.all([
        appListener.close(),
        mcp.close().then(() => mcpListener.close()),
        asDown ? undefined : asListener.close(),
        ...closeSecond.map((close) => close()),
        ...closeIdp.map((close) => close()),
      ]);
    },
  };
}
