/**
 * Failures of the OAuth module, by code. Routes translate them once: to a redirect with a login error
 * code for page routes, to an ApiFailure for API routes.
 */
export type OAuthFailureCode =
  /** Metadata missing or malformed. Configuration or AS problem. */
  | 'discovery_failed'
  /** The protected resource metadata is about another resource (RFC 9728 §3.3). */
  | 'resource_mismatch'
  /** The AS does not support PKCE with S256. */
  | 'pkce_unsupported'
  /** No way to get a client at this AS: nothing configured, no metadata documents, no registration. */
  | 'registration_failed'
  /** The AS could not be reached, timed out, or answered 5xx/429. Worth retrying later. */
  | 'as_unavailable'
  /** The refresh token is no longer good: the user must log in again. */
  | 'invalid_grant'
  /**
   * The MCP server's protected resource metadata no longer names the AS that issued these tokens
   * (it moved): they are not refreshed there, the user logs in again at the new one (SEP-2352).
   */
  | 'issuer_changed'
  /**
   * The token endpoint refused the client itself (`invalid_client`): the AS purged the registration or
   * its secret expired. What was issued to that client is lost; the next login registers again.
   */
  | 'invalid_client'
  /** The AS answered something that breaks the protocol. */
  | 'invalid_response';

export class OAuthFailure extends Error {
  constructor(
    readonly code: OAuthFailureCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'OAuthFailure';
  }
}
