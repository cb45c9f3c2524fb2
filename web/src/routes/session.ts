import type { SessionInfo } from '@mcp-bff/shared';
import { getSession } from '../bff';
import { rethrowForRoute } from './route-errors';

/** The session for a loader; a BFF failure becomes route error data. */
export async function loadSession(signal: AbortSignal): Promise<SessionInfo> {
  try {
    return await getSession(signal);
  } catch (error) {
    return rethrowForRoute(error);
  }
}
