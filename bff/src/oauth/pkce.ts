import { timingSafeEqual } from 'node:crypto';
import * as oauth from 'oauth4webapi';

/**
 * PKCE (RFC 7636) and state values. oauth4webapi draws 32 bytes from the CSPRNG and base64url-encodes
 * them: a 43-character verifier, and a state of 256 bits.
 */
export async function createPkce(): Promise<{ code_verifier: string; code_challenge: string }> {
  const code_verifier = oauth.generateRandomCodeVerifier();
  const code_challenge = await oauth.calculatePKCECodeChallenge(code_verifier);
  return { code_verifier, code_challenge };
}

export function createState(): string {
  return oauth.generateRandomState();
}

/** Compares a returned state with the expected one without leaking, by timing, how much matched. */
export function stateMatches(received: string, expected: string): boolean {
  const a = Buffer.from(received, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
