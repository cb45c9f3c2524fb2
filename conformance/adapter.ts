import { getRequestListener } from '@hono/node-server';
import { createApp } from '../bff/src/app.js';
import { ConfigError, loadConfig } from '../bff/src/config.js';
import { createLogger } from '../bff/src/log.js';
import { MemoryTokenStore } from '../bff/src/store/memory.js';
import { listen } from '../demo/src/listen.js';
import { type Connected, connectMcp, NoCommonProtocolError } from '../web/src/mcp-connect.js';
import { Browser, LoginFailed, LoginRefused } from './browser.js';
import { formatOutcome, type Outcome, type OutcomeKind } from './outcome.js';
import { explore, scriptedPerson } from './person.js';

/**
 * The "client under test" for the official MCP conformance suite: the real BFF, in this process, on a
 * free loopback port, configured for the scenario's MCP server; and in front of it a stand-in for the
 * SPA in a browser (browser.ts) that connects with the official MCP client through /mcp/default,
 * follows the BFF's login URLs, and then does what the scenario expects of a client.
 *
 * The runner calls `<command> <server-url>` with MCP_CONFORMANCE_SCENARIO set, and
 * MCP_CONFORMANCE_CONTEXT (JSON) for scenarios that hand out data such as pre-registered credentials.
 * Exit code 0 when every call succeeded; 1 otherwise, with the reason on stderr and one outcome line
 * on stdout (outcome.ts) that run.ts checks against what the scenario expects.
 */

/** TEST-ONLY session secret for this throwaway BFF instance (public in this repository). Never use it anywhere else. */
const CONFORMANCE_SESSION_SECRET = '4GYewMLXvHsmstEMufqgjkXIVrmMpF7E1t7JKBezjmSqbx41L6gm2yVZUD29Z0KM';

/**
 * The suite's fixed client ID metadata document URL (its basic-cimd scenario accepts exactly this
 * client_id, and never fetches it), as its reference client uses it. Passed as OAUTH_CLIENT_METADATA_URL,
 * a setting the BFF does not have yet (unknown variables are ignored): until it has one, the BFF names
 * itself by PUBLIC_URL/bff/oauth-client.json and basic-cimd warns.
 */
const CIMD_CLIENT_METADATA_URL = 'https://conformance-test.local/client-metadata.json';

/** The route id the single configured server gets (MCP_SERVER_URL → /mcp/default). */
const SERVER_ID = 'default';

interface Context {
  client_id?: string;
  client_secret?: string;
  /** client-credentials-jwt: the private key registered for client_id (PKCS#8 PEM), and its algorithm. */
  private_key_pem?: string;
  signing_algorithm?: string;
  /**
   * auth/enterprise-managed-authorization: the enterprise IdP (issuer, the BFF's client there) and an ID
   * token it issued to the person, as if they had signed in already.
   */
  idp_issuer?: string;
  idp_client_id?: string;
  idp_id_token?: string;
  /** Tool calls the scenario wants made, with exactly these arguments (http-custom-headers). */
  toolCalls?: Array<{ name: string; arguments: Record<string, unknown> }>;
}

function readContext(): Context {
  const raw = process.env.MCP_CONFORMANCE_CONTEXT;
  if (!raw) return {};
  const parsed = JSON.parse(raw) as Record<string, unknown>;
  const context: Context = {};
  if (typeof parsed.client_id === 'string') context.client_id = parsed.client_id;
  if (typeof parsed.client_secret === 'string') context.client_secret = parsed.client_secret;
  if (typeof parsed.private_key_pem === 'string') context.private_key_pem = parsed.private_key_pem;
  if (typeof parsed.signing_algorithm === 'string') context.signing_algorithm = parsed.signing_algorithm;
  for (const key of ['idp_issuer', 'idp_client_id', 'idp_id_token'] as const) {
    const value = parsed[key];
    if (typeof value === 'string') context[key] = value;
  }
  if (Array.isArray(parsed.toolCalls)) {
    context.toolCalls = parsed.toolCalls.filter(
      (c): c is { name: string; arguments: Record<string, unknown> } =>
        typeof c === 'object' && c !== null && typeof c.name === 'string' && typeof c.arguments === 'object' && c.arguments !== null,
    );
  }
  return context;
}

/** The BFF's environment: exactly what an operator would set, nothing the BFF would not read anyway. */
function bffEnvironment(
  appUrl: string,
  port: number,
  serverUrl: string,
  context: Context,
  scenario: string,
  enterpriseIssuer: string | undefined,
): Record<string, string> {
  // The client credentials scenarios are a deployment whose operator registered the BFF itself as a
  // client of the MCP server's AS (a service server): the credentials go where an operator puts them.
  const service = scenario.startsWith('auth/client-credentials-');
  return {
    PUBLIC_URL: appUrl,
    PORT: String(port),
    ALLOW_HTTP_LOOPBACK: '1',
    MCP_SERVER_URL: serverUrl,
    MCP_SERVER_NAME: 'Conformance scenario server',
    SESSION_SECRET: CONFORMANCE_SESSION_SECRET,
    LOG_LEVEL: process.env.CONFORMANCE_BFF_LOG_LEVEL ?? 'info',
    AUTH_SERVER_TIMEOUT_MS: '5000',
    UPSTREAM_TIMEOUT_MS: '10000',
    OAUTH_CLIENT_METADATA_URL: CIMD_CLIENT_METADATA_URL,
    // Pre-registration: the scenario hands out the credentials an operator would have configured.
    ...(context.client_id ? { OAUTH_CLIENT_ID: context.client_id } : {}),
    ...(context.client_secret ? { OAUTH_CLIENT_SECRET: context.client_secret } : {}),
    ...(service ? { OAUTH_GRANT: 'client_credentials' } : {}),
    ...(service && context.private_key_pem ? { OAUTH_PRIVATE_KEY: context.private_key_pem } : {}),
    ...(service && context.signing_algorithm ? { OAUTH_SIGNING_ALG: context.signing_algorithm } : {}),
    // Enterprise-managed authorization: the server is marked as such and the IdP named, as an operator
    // would. The person has signed in at the IdP through an authenticating proxy in front of the app
    // (the scenario's IdP has no sign-in page), which forwards their ID token: the adapter is that proxy.
    ...(context.idp_issuer && context.idp_client_id
      ? {
          MCP_SERVER_AUTHORIZATION: 'enterprise',
          ...(enterpriseIssuer ? { OAUTH_ISSUER: enterpriseIssuer } : {}),
          ENTERPRISE_IDP_ISSUER: context.idp_issuer,
          ENTERPRISE_IDP_CLIENT_ID: context.idp_client_id,
          ENTERPRISE_IDP_ID_TOKEN_HEADER: ENTERPRISE_ID_TOKEN_HEADER,
          // The scenario's IdP publishes no JWKS (its jwks_uri answers 404): the proxy (the adapter)
          // vouches for the signature, the BFF checks the claims, and the IdP the signature at the exchange.
          ENTERPRISE_IDP_ID_TOKEN_VERIFY: 'claims',
          TRUSTED_PROXIES: '127.0.0.1, ::1',
        }
      : {}),
  };
}

/**
 * The issuer an operator configures for an enterprise-managed server (OAUTH_ISSUER, which the BFF
 * requires for one): the scenario's context does not name the MCP server's AS, so the adapter looks it
 * up once, as an operator setting the server up would, in the server's protected resource metadata
 * (RFC 9728 §3.1). From then on the BFF exchanges ID tokens for that AS only.
 */
async function enterpriseIssuerOf(serverUrl: string): Promise<string | undefined> {
  const url = new URL(serverUrl);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  const res = await fetch(new URL(`/.well-known/oauth-protected-resource${path}`, url.origin), { signal: AbortSignal.timeout(5000) });
  if (!res.ok) return undefined;
  const metadata = (await res.json()) as { authorization_servers?: unknown };
  const first = Array.isArray(metadata.authorization_servers) ? metadata.authorization_servers[0] : undefined;
  return typeof first === 'string' ? first : undefined;
}

/** Where the authenticating proxy (the adapter) forwards the person's ID token. */
const ENTERPRISE_ID_TOKEN_HEADER = 'X-Forwarded-Id-Token';

function say(message: string): void {
  process.stderr.write(`[adapter] ${message}\n`);
}

async function main(): Promise<number> {
  const scenario = process.env.MCP_CONFORMANCE_SCENARIO ?? '(none)';
  const serverUrl = process.argv.at(-1);
  const outcome: Outcome = { scenario, kind: 'adapter_error', detail: '', steps: [], logins: [] };
  const finish = (kind: OutcomeKind, detail: string): number => {
    outcome.kind = kind;
    outcome.detail = detail;
    say(`${kind}: ${detail}`);
    process.stdout.write(`${formatOutcome(outcome)}\n`);
    return kind === 'completed' ? 0 : 1;
  };
  if (!serverUrl || !/^https?:\/\//.test(serverUrl)) return finish('adapter_error', 'usage: adapter.ts <mcp-server-url>');

  // Bound first, so that PUBLIC_URL can name the port.
  const listener = await listen(0, '127.0.0.1', 'localhost');
  try {
    let config: ReturnType<typeof loadConfig>;
    try {
      const context = readContext();
      const enterpriseIssuer = context.idp_issuer ? await enterpriseIssuerOf(serverUrl) : undefined;
      config = loadConfig(bffEnvironment(listener.origin, listener.port, serverUrl, context, scenario, enterpriseIssuer));
    } catch (error) {
      if (error instanceof ConfigError) return finish('adapter_error', `the BFF refused its configuration: ${error.problems.join('; ')}`);
      throw error;
    }
    const log = createLogger(config.logLevel, process.stderr);
    const app = createApp({ config, store: new MemoryTokenStore(), log });
    listener.handle(getRequestListener(app.fetch));
    say(`scenario ${scenario}: BFF at ${listener.origin}, MCP server ${serverUrl}`);

    const context = readContext();
    const browser = new Browser(listener.origin, {
      log: say,
      ...(context.idp_id_token ? { proxyHeaders: { [ENTERPRISE_ID_TOKEN_HEADER]: context.idp_id_token } } : {}),
    });
    outcome.logins = browser.logins;
    let connected: Connected | undefined;
    try {
      // The SPA's own connect: protocol negotiation, capabilities, input handlers (web/src/mcp-connect.ts).
      connected = await connectMcp({
        url: new URL(`/mcp/${SERVER_ID}`, listener.origin),
        fetch: browser.mcpFetch,
        protocol: 'auto',
        input: scriptedPerson(say),
        clientInfo: { name: 'mcp-bff-conformance-adapter', version: '1.0.0' },
      });
      outcome.steps.push(`connect (${connected.era} ${connected.protocolVersion})`);
      await explore(connected.client, { toolCalls: context.toolCalls, steps: outcome.steps, log: say });
      return finish('completed', `${outcome.steps.join(', ')} through the BFF after ${browser.logins.length} login(s)`);
    } catch (error) {
      if (error instanceof LoginRefused) return finish('login_refused', `${error.message} (login_error=${error.loginError ?? 'none'})`);
      if (error instanceof LoginFailed) return finish('login_failed', error.message);
      const refusal = browser.lastRefusal;
      if (refusal) {
        const what = `${refusal.status} ${refusal.body.error}${refusal.body.scope ? ` scope="${refusal.body.scope}"` : ''}: ${refusal.body.message ?? ''}`;
        if (refusal.reason === 'no_login_url' && refusal.body.error === 'insufficient_scope') {
          return finish('retry_limit', `the BFF stopped offering a login after ${browser.logins.length} login(s): ${what}`);
        }
        return finish('bff_error', `${refusal.reason === 'login_limit' ? 'the BFF kept asking for logins' : 'the BFF refused'}: ${what}`);
      }
      if (error instanceof NoCommonProtocolError) return finish('adapter_error', error.message);
      return finish('adapter_error', error instanceof Error ? `${error.name}: ${error.message}` : String(error));
    } finally {
      await connected?.client.close().catch(() => {});
    }
  } finally {
    await listener.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    say(`crashed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(2);
  },
);
