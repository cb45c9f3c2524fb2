import type { OutcomeKind } from './outcome.js';

/**
 * What the adapter must report for each scenario, on top of the suite's own checks. The suite judges
 * the wire (which requests reached its mock servers); this judges the BFF's answer to the browser:
 * that it finished the calls, or refused the way a careful client must (and said why), or stopped a
 * step-up loop. A scenario not listed here must complete.
 */
export interface Expectation {
  kind: OutcomeKind;
  /** For refusals: the `login_error` the BFF sends the browser back with. */
  loginError?: string;
  why: string;
}

/** The same at every revision's wire: the BFF's OAuth does not depend on the protocol era. */
export const EXPECTATIONS: Record<string, Expectation> = {
  'auth/resource-mismatch': {
    kind: 'login_refused',
    loginError: 'resource_mismatch',
    why: 'the protected resource metadata names another resource: no authorization request may be made',
  },
  'auth/scope-retry-limit': {
    kind: 'retry_limit',
    why: 'the server never accepts the step-up: at most 3 authorizations, then a 403 without a loginUrl',
  },
  // SEP-2468: the authorization response or the metadata must be rejected.
  'auth/iss-supported-missing': {
    kind: 'login_failed',
    why: 'iss is advertised but missing from the authorization response: no token request',
  },
  'auth/iss-wrong-issuer': { kind: 'login_failed', why: 'iss does not match the issuer: no token request' },
  'auth/iss-unexpected': { kind: 'login_failed', why: 'iss present (not advertised) and wrong: no token request' },
  'auth/iss-normalized': {
    kind: 'login_failed',
    why: 'iss equals the issuer only after URL normalisation: simple string comparison rejects it',
  },
  'auth/metadata-issuer-mismatch': {
    kind: 'login_refused',
    why: 'the AS metadata names another issuer: its endpoints must not be used',
  },
};

/**
 * Where a revision's wire changes what a careful client ends with, keyed by the revision the scenario
 * runs at (the suite's --spec-version); these win over EXPECTATIONS. Empty while no scenario differs.
 */
export const EXPECTATIONS_BY_REVISION: Record<string, Record<string, Expectation>> = {};

/**
 * Scenarios the suite's requirement sets leave unscored (`not_scored`, reason `extension`) that this
 * project implements and holds itself to: a full run judges them like the required ones, at every
 * revision. One line each, with what it covers.
 */
export const REQUIRED_EXTENSIONS: Record<string, string> = {
  'auth/dpop': 'DPoP-bound tokens (RFC 9449): proofs on the token request and on every MCP request',
  'auth/dpop-nonce': 'DPoP nonces from the authorization server and the MCP server',
  'auth/client-credentials-basic': 'service credentials with a client secret (bff/src/oauth/service-credentials.ts)',
  'auth/client-credentials-jwt': 'service credentials with a private_key_jwt assertion',
  'auth/enterprise-managed-authorization': 'enterprise-managed authorization: ID-JAG by token exchange, then the JWT bearer grant (bff/src/enterprise/)',
};

const COMPLETED: Expectation = { kind: 'completed', why: 'a well-behaved client finishes what the scenario asks of it' };

export function expectationFor(scenario: string, revision: string): Expectation {
  return EXPECTATIONS_BY_REVISION[revision]?.[scenario] ?? EXPECTATIONS[scenario] ?? COMPLETED;
}
