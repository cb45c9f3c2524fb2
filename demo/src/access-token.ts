import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';

/**
 * Verifies the MCP server's bearer tokens: RFC 9068 JWT access tokens issued by the demo AS.
 * The AS's jwks_uri is discovered from its RFC 8414 metadata on first use (not guessed), and the
 * metadata's issuer must equal the configured one (RFC 8414 §3.3).
 */
export interface VerifiedAccessToken {
  token: string;
  sub: string;
  clientId: string;
  scopes: string[];
  /** Seconds since the epoch. */
  expiresAt: number;
  payload: JWTPayload;
}

/** The token is bad (expired, wrong audience, bad signature, ...): 401 invalid_token. */
export class InvalidAccessTokenError extends Error {
  constructor(
    message: string,
    readonly publicDescription: string,
  ) {
    super(message);
    this.name = 'InvalidAccessTokenError';
  }
}

/** The keys could not be obtained (AS down, bad metadata): not the token's fault, so 503. */
export class KeysUnavailableError extends Error {
  override name = 'KeysUnavailableError';
}

export function createAccessTokenVerifier(options: { issuer: string; resource: string }) {
  let jwks: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;

  async function discoverJwks(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    const res = await fetch(`${options.issuer}/.well-known/oauth-authorization-server`, {
      signal: AbortSignal.timeout(5000),
      headers: { accept: 'application/json' },
    });
    if (!res.ok) throw new Error(`authorization server metadata: HTTP ${res.status}`);
    const metadata = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
    if (metadata.issuer !== options.issuer) throw new Error('authorization server metadata: issuer mismatch');
    if (typeof metadata.jwks_uri !== 'string') throw new Error('authorization server metadata: no jwks_uri');
    return createRemoteJWKSet(new URL(metadata.jwks_uri), { timeoutDuration: 5000 });
  }

  function keys() {
    // Cached once it succeeds; a failure is forgotten so that the next request tries again.
    jwks ??= discoverJwks().catch((err: unknown) => {
      jwks = undefined;
      throw err;
    });
    return jwks;
  }

  return async function verifyAccessToken(token: string): Promise<VerifiedAccessToken> {
    let keySet: Awaited<ReturnType<typeof keys>>;
    try {
      keySet = await keys();
    } catch (err) {
      throw new KeysUnavailableError(`cannot load the authorization server's keys: ${(err as Error).message}`);
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keySet, {
        issuer: options.issuer,
        audience: options.resource, // exact string comparison, no URL normalisation
        algorithms: ['RS256'],
        typ: 'at+jwt', // RFC 9068: refuses ID tokens and other JWTs signed by the same keys
        requiredClaims: ['exp', 'iat', 'sub', 'client_id'],
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWKSTimeout || !(err instanceof joseErrors.JOSEError)) {
        throw new KeysUnavailableError(`cannot load the authorization server's keys: ${(err as Error).message}`);
      }
      const description = err instanceof joseErrors.JWTExpired ? 'The access token expired' : 'The access token is invalid';
      throw new InvalidAccessTokenError(`${err.code}: ${err.message}`, description);
    }
    const { sub, client_id: clientId, scope, exp } = payload as JWTPayload & { client_id?: unknown; scope?: unknown };
    if (typeof sub !== 'string' || typeof clientId !== 'string' || typeof exp !== 'number') {
      throw new InvalidAccessTokenError('malformed claims', 'The access token is invalid');
    }
    return {
      token,
      sub,
      clientId,
      scopes: typeof scope === 'string' ? scope.split(' ').filter(Boolean) : [],
      expiresAt: exp,
      payload,
    };
  };
}

/**
 * Verifies bearer tokens by RFC 7662 introspection, for an authorization server that issues opaque
 * access tokens (the MCP TypeScript SDK's demo provider does). The token must be active, unexpired and
 * for this resource (`aud`). An AS that names no user (that demo approves without a login) is taken
 * to act for the client: `sub` is then the client id.
 */
export function createIntrospectionVerifier(options: { endpoint: string; resource: string }) {
  return async function verifyAccessToken(token: string): Promise<VerifiedAccessToken> {
    let response: Response;
    try {
      response = await fetch(options.endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ token }),
        signal: AbortSignal.timeout(5000),
      });
    } catch (err) {
      throw new KeysUnavailableError(`cannot reach the introspection endpoint: ${(err as Error).message}`);
    }
    if (response.status >= 500) throw new KeysUnavailableError(`introspection endpoint: HTTP ${response.status}`);
    const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (body.active !== true) throw new InvalidAccessTokenError('inactive token', 'The access token is invalid');
    const { sub, client_id: clientId, scope, exp, aud } = body;
    const audiences = Array.isArray(aud) ? aud : [aud];
    if (!audiences.includes(options.resource)) throw new InvalidAccessTokenError('wrong audience', 'The access token is invalid');
    if (typeof exp !== 'number' || exp * 1000 <= Date.now()) throw new InvalidAccessTokenError('expired', 'The access token expired');
    if (typeof clientId !== 'string') throw new InvalidAccessTokenError('malformed introspection', 'The access token is invalid');
    return {
      token,
      sub: typeof sub === 'string' ? sub : clientId,
      clientId,
      scopes: typeof scope === 'string' ? scope.split(' ').filter(Boolean) : [],
      expiresAt: exp,
      payload: body as JWTPayload,
    };
  };
}
