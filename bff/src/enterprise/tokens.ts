import { ApiFailure, authServerUnavailable } from '../http/errors.js';
import { OAuthFailure } from '../oauth/errors.js';
import { type AccessOutcome, isStale, TokenManager } from '../oauth/tokens.js';
import type { TokenRecord } from '../store/types.js';
import type { EnterpriseConnector } from './connector.js';
import { EnterpriseFailure } from './idp.js';

/**
 * The TokenManager of a BFF with enterprise-managed servers: an enterprise-managed server's connection
 * is never refreshed at its AS; when it is missing, expired or refused, it is connected again by token
 * exchange, with no page in between, for as long as the person's sign-in at the IdP lasts (and the IdP
 * agrees). Only when that is gone does the caller get login_required, whose login URL
 * (/bff/login?server=…) then leads to the IdP's sign-in. Other servers: as TokenManager.
 */
export class EnterpriseTokenManager extends TokenManager {
  private connector: EnterpriseConnector | undefined;

  /** Set once by app.ts (the connector is built from the same store and clients). */
  useConnector(connector: EnterpriseConnector): void {
    this.connector = connector;
  }

  override async accessWith(sessionId: string, server: string, record: TokenRecord | undefined, rejectedAccessToken?: string): Promise<AccessOutcome> {
    const connector = this.connector;
    if (!connector?.manages(server)) return super.accessWith(sessionId, server, record, rejectedAccessToken);
    if (record && !isStale(record, rejectedAccessToken)) return { kind: 'ok', record };
    // Never refreshed at the AS (a connection stored before the BFF stopped keeping its refresh token
    // may hold one): the ID token is exchanged again instead, so that access lasts only as long as the
    // IdP allows it, and ends once the person's sign-in there has.
    try {
      return await connector.connect(sessionId, server);
    } catch (error) {
      throw apiFailureFor(error);
    }
  }
}

/** What the SPA is answered when connecting an enterprise-managed server failed. */
export function apiFailureFor(error: unknown): Error {
  if (error instanceof EnterpriseFailure) {
    if (error.transient) return authServerUnavailable(error);
    return new ApiFailure('enterprise_access_denied', error.publicMessage, {}, {}, { cause: error });
  }
  if (error instanceof OAuthFailure) {
    if (error.code === 'as_unavailable') return authServerUnavailable(error);
    return new ApiFailure('enterprise_access_denied', "This server's authorization metadata could not be used for enterprise-managed access.", {}, {}, { cause: error });
  }
  return error instanceof Error ? error : new Error(String(error));
}
