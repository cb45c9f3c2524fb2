/**
 * DEMO-ONLY service clients (OAuth client credentials) of the demo authorization server: what a
 * deployment registers for itself to use a shared internal MCP server with its own identity. The
 * secret and the private key below are public in this repository and protect nothing: never use them
 * anywhere else.
 */

/** Authenticates with a client secret (client_secret_basic). */
export const DEMO_SERVICE_SECRET_CLIENT = {
  client_id: 'mcp-bff-demo-service',
  client_secret: 'demo-only-service-secret-not-for-production',
} as const;

/** Registered for client_secret_post only: the BFF must be told (`tokenEndpointAuthMethod`), as the AS lists both. */
export const DEMO_SERVICE_POST_CLIENT = {
  client_id: 'mcp-bff-demo-service-post',
  client_secret: 'demo-only-service-post-secret-not-for-production',
} as const;

/** DEMO-ONLY EC P-256 private key (JWK) of the private_key_jwt service client. Public: protects nothing. */
export const DEMO_SERVICE_PRIVATE_JWK = {
  kty: 'EC',
  crv: 'P-256',
  x: 'HKZG284vqpU1m44jSYWmayl_D4KvUNX27im4cbXyoAo',
  y: 'y-ZyzDCuUoJORS3svoYClyBbE2uL80G51A1fYtrnD7w',
  d: 'faZICbW8PovBaf1kzrrtGOZyoY5vD3qPMLqUogDgyOA',
} as const;

/** Authenticates with an RFC 7523 assertion signed by DEMO_SERVICE_PRIVATE_JWK (private_key_jwt, ES256). */
export const DEMO_SERVICE_JWT_CLIENT = { client_id: 'mcp-bff-demo-service-jwt' } as const;

/** How a service client authenticates at the demo authorization server. */
export type ServiceClientAuth = 'client_secret' | 'client_secret_post' | 'private_key_jwt';

/** The demo authorization server's registrations of both service clients (auth-server.ts `serviceClients`). */
export function demoServiceClients(): ServiceClientRegistration[] {
  const { d: _private, ...publicJwk } = DEMO_SERVICE_PRIVATE_JWK;
  return [
    { client_id: DEMO_SERVICE_SECRET_CLIENT.client_id, client_secret: DEMO_SERVICE_SECRET_CLIENT.client_secret, token_endpoint_auth_method: 'client_secret_basic' },
    { client_id: DEMO_SERVICE_POST_CLIENT.client_id, client_secret: DEMO_SERVICE_POST_CLIENT.client_secret, token_endpoint_auth_method: 'client_secret_post' },
    { client_id: DEMO_SERVICE_JWT_CLIENT.client_id, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ ...publicJwk, use: 'sig', alg: 'ES256' }] } },
  ];
}

export interface ServiceClientRegistration {
  client_id: string;
  client_secret?: string;
  token_endpoint_auth_method: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
  jwks?: { keys: Array<Record<string, string>> };
}

/**
 * The BFF's settings for a service server at `url` using one of the demo service clients: the
 * MCP_SERVERS entry (which names environment variables, never the secret) and those variables.
 */
export function demoServiceServer(url: string, auth: ServiceClientAuth, id = 'service'): { entry: Record<string, unknown>; env: Record<string, string> } {
  const entry = { id, name: 'Team tools (service identity)', url, grant: 'client_credentials', scopes: 'mcp:tools' };
  if (auth === 'client_secret_post') {
    return {
      entry: { ...entry, clientId: DEMO_SERVICE_POST_CLIENT.client_id, clientSecretEnv: 'DEMO_SERVICE_CLIENT_SECRET', tokenEndpointAuthMethod: 'client_secret_post' },
      env: { DEMO_SERVICE_CLIENT_SECRET: DEMO_SERVICE_POST_CLIENT.client_secret },
    };
  }
  if (auth === 'client_secret') {
    return {
      entry: { ...entry, clientId: DEMO_SERVICE_SECRET_CLIENT.client_id, clientSecretEnv: 'DEMO_SERVICE_CLIENT_SECRET' },
      env: { DEMO_SERVICE_CLIENT_SECRET: DEMO_SERVICE_SECRET_CLIENT.client_secret },
    };
  }
  return {
    entry: { ...entry, clientId: DEMO_SERVICE_JWT_CLIENT.client_id, privateKeyEnv: 'DEMO_SERVICE_PRIVATE_KEY' },
    env: { DEMO_SERVICE_PRIVATE_KEY: JSON.stringify(DEMO_SERVICE_PRIVATE_JWK) },
  };
}
