import { ApiFailure, authServerUnavailable } from '../http/errors.js';
import { OAuthFailure } from '../oauth/errors.js';
import { type AccessOutcome, TokenManager } from '../oauth/tokens.js';
import type { TokenRecord } from '../store/types.js';
import type { EnterpriseConnector } from './connector.js';
import { EnterpriseFailure } from './idp.js';

/**
 * The TokenManager of a BFF with enterprise-managed servers: where an ordinary server's connection
 * would need a login (none yet, its refresh failed, or there was no refresh token), an
 * enterprise-managed one is connected again by token exchange, with no page in between, for as long as
 * the person's sign-in at the IdP lasts. Only when that is gone does the caller get login_required,
 * whose login URL (/bff/login?server=…) then leads to the IdP's sign-in.
 */
export class EnterpriseTokenManager extends TokenManager {
  private connector: EnterpriseConnector | undefined;

  /** Set once by app.ts (the connector is built from the same store and clients). */
  useConnector(connector: EnterpriseConnector): void {
    this.connector = connector;
  }

  override async accessWith(sessionId: string, server: string, record: TokenRecord | undefined, rejectedAccessToken?: string): Promise<AccessOutcome> {
    const outcome = await super.accessWith(sessionId, server, record, rejectedAccessToken);
    const connector = this.connector;
    if (outcome.kind !== 'login_required' || !connector?.manages(server)) return outcome;
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
