import { createHash, createPrivateKey, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { parseWwwAuthenticate } from './www-authenticate.js';

/**
 * DPoP (RFC 9449): tokens bound to a key pair the BFF holds for one (browser session, MCP server)
 * connection. The private key is kept inside the connection's token record, so it is encrypted at rest
 * with the record (the token vault's cipher and keys) and never leaves the BFF; every request that uses
 * the tokens (the token request, a refresh, each proxied MCP request) carries a fresh proof signed with
 * it. A copy of the store without the vault keys has neither the tokens nor the key; a stolen access
 * token alone is refused by a server that checks the proof.
 */

/** The algorithms the BFF signs proofs with, in the order it prefers them. */
export const DPOP_ALGORITHMS = ['ES256', 'ES384', 'EdDSA'] as const;
export type DpopAlgorithm = (typeof DPOP_ALGORITHMS)[number];

/** What a token record keeps of its DPoP key: the private JWK (inside the encrypted record only). */
export interface StoredDpopKey {
  alg: DpopAlgorithm;
  /** The private key as a JWK (`d` included). */
  jwk: JsonWebKey;
  /** Its public key's JWK SHA-256 thumbprint (RFC 7638), base64url: the token's `cnf.jkt`. */
  jkt: string;
}

/**
 * The algorithm to bind tokens with when the authorization server advertises
 * `dpop_signing_alg_values_supported`: ES256 if it lists it, else the first it lists that the BFF
 * supports. Undefined when it advertises none (no DPoP) or none the BFF can sign with.
 */
export function chooseDpopAlgorithm(supported: unknown): DpopAlgorithm | undefined {
  if (!Array.isArray(supported)) return undefined;
  if (supported.includes('ES256')) return 'ES256';
  return (supported as unknown[]).find((alg): alg is DpopAlgorithm => (DPOP_ALGORITHMS as readonly unknown[]).includes(alg));
}

/** A new key pair for one connection. */
export function generateDpopKey(alg: DpopAlgorithm): StoredDpopKey {
  const { privateKey } =
    alg === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: alg === 'ES256' ? 'P-256' : 'P-384' });
  const jwk = privateKey.export({ format: 'jwk' }) as JsonWebKey;
  return { alg, jwk, jkt: jwkThumbprint(publicJwk(jwk)) };
}

/** The public members of a key's JWK, the ones a proof's `jwk` header carries. */
function publicJwk(jwk: JsonWebKey): JsonWebKey {
  return jwk.kty === 'OKP' ? { kty: 'OKP', crv: jwk.crv, x: jwk.x } : { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y };
}

/** RFC 7638: SHA-256 over the required members in lexicographic order. */
export function jwkThumbprint(jwk: JsonWebKey): string {
  const members = jwk.kty === 'OKP' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

/** base64url(SHA-256(access token)): a resource request's `ath`. */
export function accessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'ascii').digest('base64url');
}

export interface ProofRequest {
  /** The HTTP method. */
  htm: string;
  /** The request's URL; its query and fragment are left out of `htu` (RFC 9449 §4.2). */
  htu: string | URL;
  /** The access token the request presents (resource requests): its hash goes in `ath`. */
  accessToken?: string;
  nonce?: string;
}

/**
 * Signs proofs with one connection's key. Made once per key and kept (see dpopSigner): the imported
 * key, the encoded header and the last token's `ath` are computed once, so a proof costs one signature
 * and a small JSON encoding.
 */
export class DpopSigner {
  private readonly key: KeyObject;
  private readonly encodedHeader: string;
  private readonly hash: string | null;
  private lastToken: string | undefined;
  private lastAth = '';

  constructor(readonly stored: StoredDpopKey) {
    this.key = createPrivateKey({ key: stored.jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
    this.hash = stored.alg === 'EdDSA' ? null : stored.alg === 'ES256' ? 'sha256' : 'sha384';
    const header = { typ: 'dpop+jwt', alg: stored.alg, jwk: publicJwk(stored.jwk) };
    this.encodedHeader = Buffer.from(JSON.stringify(header)).toString('base64url');
  }

  get jkt(): string {
    return this.stored.jkt;
  }

  proof(request: ProofRequest): string {
    const url = typeof request.htu === 'string' ? new URL(request.htu) : request.htu;
    const payload: Record<string, string | number> = {
      jti: randomBytes(16).toString('base64url'),
      htm: request.htm,
      htu: `${url.origin}${url.pathname}`,
      iat: Math.floor(Date.now() / 1000),
    };
    if (request.accessToken !== undefined) payload.ath = this.ath(request.accessToken);
    if (request.nonce !== undefined) payload.nonce = request.nonce;
    const input = `${this.encodedHeader}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
    const signature = sign(this.hash, Buffer.from(input), this.hash ? { key: this.key, dsaEncoding: 'ieee-p1363' } : this.key);
    return `${input}.${signature.toString('base64url')}`;
  }

  private ath(accessToken: string): string {
    if (accessToken !== this.lastToken) {
      this.lastAth = accessTokenHash(accessToken);
      this.lastToken = accessToken;
    }
    return this.lastAth;
  }
}

/** Signers kept per key (its thumbprint), newest use last; the oldest go beyond this many. */
const MAX_SIGNERS = 10_000;
const signers = new Map<string, DpopSigner>();

/** The signer for a stored key, made once per process and kept while it is used. */
export function dpopSigner(stored: StoredDpopKey): DpopSigner {
  let signer = signers.get(stored.jkt);
  if (signer && signer.stored.jwk.d === stored.jwk.d) {
    // Most recently used last, so that the oldest is the first one dropped.
    signers.delete(stored.jkt);
    signers.set(stored.jkt, signer);
    return signer;
  }
  signer = new DpopSigner(stored);
  signers.set(stored.jkt, signer);
  if (signers.size > MAX_SIGNERS) signers.delete(signers.keys().next().value as string);
  return signer;
}

/**
 * The latest `DPoP-Nonce` each server gave, for the next proof to it (RFC 9449 §8, §9): by the URL the
 * proof is for, without query (a token endpoint; an MCP server's configured URL), not by origin, so that
 * an authorization server and an MCP server on one host, or several MCP servers there, never take each
 * other's nonces. Per process: a nonce that went stale costs one retry.
 */
export class DpopNonces {
  private readonly nonces = new Map<string, string>();

  constructor(private readonly max = 1_000) {}

  get(url: string | URL): string | undefined {
    return this.nonces.get(nonceKey(url));
  }

  /** Remembers the `DPoP-Nonce` of an answer from `url`, if it has one; true when it did. */
  remember(url: string | URL, nonce: string | null | undefined): boolean {
    if (!nonce || nonce.length > 1024 || !/^[\x21-\x7e]+$/.test(nonce)) return false;
    const key = nonceKey(url);
    this.nonces.delete(key);
    this.nonces.set(key, nonce);
    if (this.nonces.size > this.max) this.nonces.delete(this.nonces.keys().next().value as string);
    return true;
  }
}

function nonceKey(url: string | URL): string {
  const parsed = typeof url === 'string' ? new URL(url) : url;
  return `${parsed.origin}${parsed.pathname}`;
}

/** The process's nonces. */
export const dpopNonces = new DpopNonces();

/** Whether a 401's challenges name the DPoP scheme at all: a server that never does does not know DPoP. */
export function namesDpop(wwwAuthenticate: string | undefined): boolean {
  return parseWwwAuthenticate(wwwAuthenticate).some((c) => c.scheme === 'dpop');
}

/** Whether a resource server's 401 challenge asks for a (new) DPoP nonce (RFC 9449 §9). */
export function asksForDpopNonce(wwwAuthenticate: string | undefined): boolean {
  return parseWwwAuthenticate(wwwAuthenticate).some((c) => c.scheme === 'dpop' && c.params.error === 'use_dpop_nonce');
}

/**
 * A fetch for token requests that adds a DPoP proof to each, and when the authorization server answers
 * `use_dpop_nonce` (400, RFC 9449 §8; or a 401 DPoP challenge) with a `DPoP-Nonce`, sends the request
 * once more with a proof carrying it. Nothing was spent by the refused request: the AS checks the proof
 * before the code or refresh token.
 */
export function dpopFetch(signer: DpopSigner, inner: typeof fetch, nonces: DpopNonces = dpopNonces): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = typeof input === 'string' || input instanceof URL ? new URL(input) : new URL(input.url);
    const method = (init?.method ?? 'GET').toUpperCase();
    const send = (nonce: string | undefined) => {
      const headers = new Headers(init?.headers);
      headers.set('dpop', signer.proof({ htm: method, htu: url, ...(nonce !== undefined ? { nonce } : {}) }));
      return inner(input, { ...init, headers });
    };
    const first = await send(nonces.get(url));
    const fresh = nonces.remember(url, first.headers.get('dpop-nonce'));
    if (!fresh || !(await asksForNonce(first))) return first;
    await first.body?.cancel().catch(() => undefined);
    const second = await send(nonces.get(url));
    nonces.remember(url, second.headers.get('dpop-nonce'));
    return second;
  }) as typeof fetch;
}

async function asksForNonce(response: Response): Promise<boolean> {
  if (response.status === 401) return asksForDpopNonce(response.headers.get('www-authenticate') ?? undefined);
  if (response.status !== 400) return false;
  try {
    const body = (await response.clone().json()) as { error?: unknown };
    return body.error === 'use_dpop_nonce';
  } catch {
    return false;
  }
}
