import { createHash, randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, importJWK, type JWK, type JWTPayload, jwtVerify } from 'jose';

/**
 * The demo MCP server's side of DPoP (RFC 9449 §7.1, §4.3): a DPoP-bound access token is accepted
 * only with a valid proof signed by the key it is bound to (`cnf.jkt`), for this request (htm, htu),
 * made just now (iat), never seen before (jti), for this token (ath), and, when nonces are required,
 * with the server's current nonce (§9). A token copied out of a store, without its key, is refused.
 */

export const DPOP_PROOF_ALGORITHMS = ['ES256', 'ES384', 'EdDSA'];

export interface DpopCheckOptions {
  /** Require the server's nonce in every proof (answer use_dpop_nonce with a fresh one otherwise). */
  requireNonce?: boolean;
  /** How far a proof's iat may be from now, seconds; default 60. */
  iatWindowSeconds?: number;
}

/** A proof refused: `nonce` when the only thing wrong is a missing or stale nonce (use_dpop_nonce). */
export class DpopProofError extends Error {
  constructor(
    message: string,
    readonly code: 'invalid_dpop_proof' | 'use_dpop_nonce' | 'invalid_token',
  ) {
    super(message);
    this.name = 'DpopProofError';
  }
}

export interface DpopChecker {
  /** The nonce to hand out now (DPoP-Nonce), when nonces are required. */
  readonly nonce: string | undefined;
  /**
   * Checks the proof of a request presenting `accessToken` (whose verified claims are `claims`) at
   * `htu` with `htm`. Throws DpopProofError.
   */
  check(proof: string | null, request: { htm: string; htu: string; accessToken: string; claims: JWTPayload }): Promise<void>;
  /** How many proofs were refused, by code (tests). */
  readonly refused: Record<string, number>;
}

export function createDpopChecker(options: DpopCheckOptions = {}): DpopChecker {
  const window = options.iatWindowSeconds ?? 60;
  /** jti → when it can be forgotten (its proof's iat is out of the window by then). */
  const seen = new Map<string, number>();
  let current = randomBytes(16).toString('base64url');
  let previous: string | undefined;
  let rotatedAt = Date.now();
  const refused: Record<string, number> = {};

  const nonce = () => {
    // A new nonce every few minutes; the one before stays good for a while, as a server would.
    if (Date.now() - rotatedAt > 5 * 60_000) {
      previous = current;
      current = randomBytes(16).toString('base64url');
      rotatedAt = Date.now();
    }
    return current;
  };

  const fail = (message: string, code: DpopProofError['code'] = 'invalid_dpop_proof'): never => {
    refused[code] = (refused[code] ?? 0) + 1;
    throw new DpopProofError(message, code);
  };

  return {
    get nonce() {
      return options.requireNonce ? nonce() : undefined;
    },
    refused,
    async check(proof, request) {
      if (!proof) fail('a DPoP proof is required');
      const text = proof as string;
      if (text.includes(',')) fail('exactly one DPoP proof is required');
      let header: ReturnType<typeof decodeProtectedHeader>;
      try {
        header = decodeProtectedHeader(text);
      } catch {
        return fail('the DPoP proof is not a JWT');
      }
      if (header.typ !== 'dpop+jwt') fail('the DPoP proof must have typ dpop+jwt');
      if (typeof header.alg !== 'string' || !DPOP_PROOF_ALGORITHMS.includes(header.alg)) fail('unsupported DPoP proof algorithm');
      const jwk = header.jwk as JWK | undefined;
      if (!jwk || typeof jwk !== 'object' || 'd' in jwk) fail('the DPoP proof must carry a public jwk');
      let payload: JWTPayload;
      try {
        const key = await importJWK(jwk as JWK, header.alg as string);
        ({ payload } = await jwtVerify(text, key, { algorithms: DPOP_PROOF_ALGORITHMS, typ: 'dpop+jwt' }));
      } catch {
        return fail('the DPoP proof signature does not verify');
      }
      const thumbprint = await calculateJwkThumbprint(jwk as JWK, 'sha256');
      const cnf = request.claims.cnf as { jkt?: unknown } | undefined;
      if (!cnf || typeof cnf.jkt !== 'string') fail('the access token is not DPoP-bound', 'invalid_token');
      if (cnf?.jkt !== thumbprint) fail('the DPoP proof is not signed with the key the access token is bound to', 'invalid_token');
      if (payload.htm !== request.htm) fail('the DPoP proof is for another method');
      if (payload.htu !== request.htu) fail('the DPoP proof is for another URL');
      const now = Math.floor(Date.now() / 1000);
      if (typeof payload.iat !== 'number' || Math.abs(now - payload.iat) > window) fail('the DPoP proof is too old or from the future');
      const ath = createHash('sha256').update(request.accessToken, 'ascii').digest('base64url');
      if (payload.ath !== ath) fail('the DPoP proof is not for this access token');
      if (options.requireNonce) {
        const sent = payload.nonce;
        if (typeof sent !== 'string' || (sent !== nonce() && sent !== previous)) fail('a fresh DPoP nonce is required', 'use_dpop_nonce');
      }
      if (typeof payload.jti !== 'string' || payload.jti.length < 8 || payload.jti.length > 256) fail('the DPoP proof needs a jti');
      const jti = payload.jti as string;
      for (const [old, until] of seen) {
        if (until > now) break;
        seen.delete(old);
      }
      if (seen.has(jti)) fail('the DPoP proof was used before');
      seen.set(jti, now + 2 * window);
    },
  };
}
