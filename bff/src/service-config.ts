import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * Service credentials (OAuth client credentials, the MCP `io.modelcontextprotocol/oauth-client-credentials`
 * extension): a server configured with `"grant": "client_credentials"` is used with the deployment's
 * own client identity, for every signed-in person. Its secret or private key is read from the
 * environment (or a file) named in the configuration, never from the configuration itself, and never
 * appears in a problem message.
 */

/** JWS algorithms a private_key_jwt assertion may be signed with (RFC 7518; EdDSA per RFC 8037). */
export const SERVICE_SIGNING_ALGS = ['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA'] as const;
export type ServiceSigningAlg = (typeof SERVICE_SIGNING_ALGS)[number];

export type ServiceClientAuth =
  /** client_secret_basic, or client_secret_post when the AS lists only that. */
  | {
      method: 'client_secret';
      clientSecret: string;
      /** Configured; else client_secret_basic unless the AS lists only client_secret_post. */
      send: 'client_secret_basic' | 'client_secret_post' | undefined;
    }
  /** RFC 7523 §2.2 client assertion. `alg`: configured, else chosen from the AS's metadata and the key. */
  | { method: 'private_key_jwt'; privateKey: KeyObject; alg: ServiceSigningAlg | undefined };

export interface ServiceCredentials {
  clientId: string;
  auth: ServiceClientAuth;
}

/** The settings of a server entry that concern service credentials (MCP_SERVERS, or the OAUTH_* variables). */
export interface ServiceSettings {
  grant: 'authorization_code' | 'client_credentials' | undefined;
  clientId: string | undefined;
  /** Must stay unset for a service server: a secret does not belong in the configuration itself. */
  clientSecretInConfig: boolean;
  clientSecretEnv: string | undefined;
  privateKeyEnv: string | undefined;
  privateKeyFile: string | undefined;
  signingAlg: string | undefined;
  /** How a secret is sent, when the client was registered for one way only (the AS's list says both). */
  tokenEndpointAuthMethod: string | undefined;
  /** Settings that only an interactive (authorization code) login uses, present in this entry. */
  loginOnly: string[];
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/**
 * The service credentials of one server, or undefined when it is not a service server. Every problem
 * goes to `problems`, prefixed with `label`; values of secrets are never echoed.
 */
export function readServiceCredentials(
  s: ServiceSettings,
  env: Record<string, string | undefined>,
  label: string,
  problems: string[],
): ServiceCredentials | undefined {
  const serviceOnly = [
    s.clientSecretEnv !== undefined && 'clientSecretEnv',
    s.privateKeyEnv !== undefined && 'privateKeyEnv',
    s.privateKeyFile !== undefined && 'privateKeyFile',
    s.signingAlg !== undefined && 'signingAlg',
    s.tokenEndpointAuthMethod !== undefined && 'tokenEndpointAuthMethod',
  ].filter((x): x is string => typeof x === 'string');
  if (s.grant !== 'client_credentials') {
    if (serviceOnly.length > 0) problems.push(`${label}: ${serviceOnly.join(', ')} only go with "grant": "client_credentials"`);
    return undefined;
  }
  const before = problems.length;
  if (!s.clientId) problems.push(`${label}: "grant": "client_credentials" needs a clientId (the client registered for this deployment at the authorization server)`);
  if (s.clientSecretInConfig) {
    problems.push(`${label}: a service server's secret must not be in the configuration itself: put it in an environment variable and name that with clientSecretEnv`);
  }
  for (const name of s.loginOnly) problems.push(`${label}: ${name} is for signing people in; a "client_credentials" server has no login`);
  const keySources = [s.privateKeyEnv, s.privateKeyFile].filter((x) => x !== undefined).length;
  if (s.clientSecretEnv !== undefined && keySources > 0) {
    problems.push(`${label}: give either clientSecretEnv (a client secret) or privateKeyEnv/privateKeyFile (private_key_jwt), not both`);
  } else if (keySources > 1) {
    problems.push(`${label}: give either privateKeyEnv or privateKeyFile, not both`);
  } else if (s.clientSecretEnv === undefined && keySources === 0) {
    problems.push(`${label}: "grant": "client_credentials" needs clientSecretEnv (client secret) or privateKeyEnv/privateKeyFile (private_key_jwt)`);
  }
  for (const [name, value] of [
    ['clientSecretEnv', s.clientSecretEnv],
    ['privateKeyEnv', s.privateKeyEnv],
  ] as const) {
    if (value !== undefined && !ENV_NAME.test(value)) problems.push(`${label}: ${name} must name an environment variable, e.g. "MCP_SERVICE_SECRET"`);
  }
  let alg: ServiceSigningAlg | undefined;
  if (s.signingAlg !== undefined) {
    if ((SERVICE_SIGNING_ALGS as readonly string[]).includes(s.signingAlg)) alg = s.signingAlg as ServiceSigningAlg;
    else problems.push(`${label}: signingAlg must be one of ${SERVICE_SIGNING_ALGS.join(', ')}`);
    if (s.clientSecretEnv !== undefined) problems.push(`${label}: signingAlg goes with a private key, not with a client secret`);
  }
  let send: 'client_secret_basic' | 'client_secret_post' | undefined;
  if (s.tokenEndpointAuthMethod !== undefined) {
    if (s.tokenEndpointAuthMethod === 'client_secret_basic' || s.tokenEndpointAuthMethod === 'client_secret_post') {
      send = s.tokenEndpointAuthMethod;
      if (s.clientSecretEnv === undefined) problems.push(`${label}: tokenEndpointAuthMethod ${send} goes with clientSecretEnv`);
    } else if (s.tokenEndpointAuthMethod === 'private_key_jwt') {
      if (s.clientSecretEnv !== undefined) problems.push(`${label}: tokenEndpointAuthMethod private_key_jwt goes with privateKeyEnv or privateKeyFile`);
    } else {
      problems.push(`${label}: tokenEndpointAuthMethod must be client_secret_basic, client_secret_post or private_key_jwt`);
    }
  }
  if (problems.length > before || !s.clientId) return undefined;

  if (s.clientSecretEnv !== undefined) {
    const secret = env[s.clientSecretEnv];
    if (!secret) {
      problems.push(`${label}: the environment variable ${s.clientSecretEnv} named by clientSecretEnv is not set`);
      return undefined;
    }
    return { clientId: s.clientId, auth: { method: 'client_secret', clientSecret: secret, send } };
  }
  let text: string | undefined;
  let where: string;
  if (s.privateKeyEnv !== undefined) {
    where = `the environment variable ${s.privateKeyEnv}`;
    text = env[s.privateKeyEnv] || undefined;
    if (!text) problems.push(`${label}: ${where} named by privateKeyEnv is not set`);
  } else {
    where = `the file ${s.privateKeyFile}`;
    try {
      text = readFileSync(s.privateKeyFile as string, 'utf8');
    } catch (error) {
      problems.push(`${label}: ${where} named by privateKeyFile cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  if (!text) return undefined;
  const privateKey = parsePrivateKey(text);
  if (!privateKey) {
    problems.push(`${label}: ${where} does not hold a private key (a PEM "PRIVATE KEY" block, or a private JWK as JSON)`);
    return undefined;
  }
  const usable = algorithmsFor(privateKey);
  if (usable.length === 0) {
    problems.push(`${label}: the private key in ${where} is of a kind that cannot sign a client assertion (use an EC P-256/384/521, RSA or Ed25519 key)`);
    return undefined;
  }
  if (alg && !usable.includes(alg)) {
    problems.push(`${label}: signingAlg ${alg} does not fit the private key in ${where} (it can sign ${usable.join(', ')})`);
    return undefined;
  }
  return { clientId: s.clientId, auth: { method: 'private_key_jwt', privateKey, alg } };
}

/** A PEM private key (PKCS#8, SEC1 or PKCS#1) or a private JWK; undefined for anything else (a public key too). */
function parsePrivateKey(text: string): KeyObject | undefined {
  const trimmed = text.trim();
  try {
    if (trimmed.startsWith('{')) {
      const jwk = JSON.parse(trimmed) as Record<string, unknown>;
      if (typeof jwk.d !== 'string') return undefined;
      return createPrivateKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
    }
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(trimmed)) return undefined;
    return createPrivateKey({ key: trimmed, format: 'pem' });
  } catch {
    return undefined;
  }
}

/** The JWS algorithms `key` can sign with, the usual one first. */
export function algorithmsFor(key: KeyObject): ServiceSigningAlg[] {
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'prime256v1' || curve === 'P-256') return ['ES256'];
      if (curve === 'secp384r1' || curve === 'P-384') return ['ES384'];
      if (curve === 'secp521r1' || curve === 'P-521') return ['ES512'];
      return [];
    }
    case 'rsa':
      return (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048 ? ['RS256', 'PS256', 'RS384', 'PS384', 'RS512', 'PS512'] : [];
    case 'rsa-pss':
      return (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048 ? ['PS256', 'PS384', 'PS512'] : [];
    case 'ed25519':
      return ['EdDSA'];
    default:
      return [];
  }
}
