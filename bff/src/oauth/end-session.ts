import type * as oauth from 'oauth4webapi';
import { checkOutboundUrl, type OutboundPolicy } from './http.js';

/**
 * OpenID Connect RP-Initiated Logout 1.0 (https://openid.net/specs/openid-connect-rpinitiated-1_0.html):
 * after the app's own logout, the person may be sent to the authorization server to end their login
 * there too, so that the next "Connect" asks for their password again.
 */

/**
 * §2.1: the `end_session_endpoint` the AS advertises, if any. It must pass the rules every other AS
 * endpoint does (https, or http to a loopback host in the explicit dev mode; no credentials), though
 * the browser, not the BFF, goes there: it carries the ID token hint. Throws OAuthFailure when it
 * breaks them.
 */
export function endSessionEndpoint(as: oauth.AuthorizationServer, policy: OutboundPolicy): URL | undefined {
  const advertised = as.end_session_endpoint;
  if (advertised === undefined || advertised === '') return undefined;
  return checkOutboundUrl(String(advertised), policy, 'end_session_endpoint');
}

export interface EndSessionParameters {
  /** §2: RECOMMENDED; the AS needs it to check post_logout_redirect_uri when there is no id_token_hint. */
  client_id: string | undefined;
  /** §2: RECOMMENDED; the ID token the AS issued to this client, when the login asked for openid. */
  id_token_hint: string | undefined;
  /** §2, §3: only a URI registered for the client; without one the AS shows its own page at the end. */
  post_logout_redirect_uri: string | undefined;
  /** §2: sent back to post_logout_redirect_uri, which checks it. Only with post_logout_redirect_uri. */
  state: string | undefined;
}

/** §2: the logout request, a GET the browser is redirected to. The endpoint's own query parameters stay. */
export function endSessionRequestUrl(endpoint: URL, parameters: EndSessionParameters): string {
  const url = new URL(endpoint.href);
  const { client_id, id_token_hint, post_logout_redirect_uri, state } = parameters;
  if (id_token_hint) url.searchParams.set('id_token_hint', id_token_hint);
  if (client_id) url.searchParams.set('client_id', client_id);
  if (post_logout_redirect_uri) {
    url.searchParams.set('post_logout_redirect_uri', post_logout_redirect_uri);
    if (state) url.searchParams.set('state', state);
  }
  return url.href;
}
