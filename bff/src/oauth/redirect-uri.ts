/** Where every redirect URI of this BFF starts, below PUBLIC_URL. */
export const CALLBACK_PATH = '/bff/callback';

/**
 * The redirect URI for one configured server: PUBLIC_URL/bff/callback/<server id>, exactly. One per
 * server, and so per authorization server (RFC 9700 §4.4.2): an AS accepts only the redirect URIs
 * registered with it, so the URI an authorization response arrives at says which AS sent it, even
 * when that AS sends no `iss`. Server ids are lower-case letters, digits, "-" and "_" (config.ts).
 */
export function redirectUriFor(publicUrl: string, serverId: string): string {
  return `${publicUrl}${CALLBACK_PATH}/${serverId}`;
}

/** Where authorization servers send the browser back after signing the person out there. */
export const POST_LOGOUT_PATH = '/bff/logout/callback';

/**
 * The post_logout_redirect_uri (OpenID Connect RP-Initiated Logout 1.0 §3): one for every authorization
 * server, since nothing arrives there but the state the BFF sent, which its cookie says how to check.
 */
export function postLogoutRedirectUriFor(publicUrl: string): string {
  return `${publicUrl}${POST_LOGOUT_PATH}`;
}
