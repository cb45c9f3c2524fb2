import type { ConnectionInfo, SessionInfo } from '@mcp-bff/shared';
import { BffError, getSession } from '../bff';
import { noteConnections } from '../mcp';
import { rethrowForRoute, routeError } from './route-errors';

/**
 * The session for a loader; a BFF failure becomes route error data. The loaders of one navigation
 * share the request, and so one /bff/session call.
 */
const byRequest = new WeakMap<Request, Promise<SessionInfo>>();

export function loadSession(request: Request): Promise<SessionInfo> {
  let session = byRequest.get(request);
  if (!session) {
    session = getSession(request.signal).then((info) => {
      noteConnections(info.connections);
      return info;
    }, rethrowForRoute);
    byRequest.set(request, session);
  }
  return session;
}

/** Whether the BFF holds a token of this person's for this server (a server that needs none works without). */
export function signedIn(connection: ConnectionInfo): boolean {
  return connection.status === 'connected' && !usesServiceIdentity(connection);
}

/** A server used with the deployment's own identity (client credentials): nobody signs in to it. */
export function usesServiceIdentity(connection: ConnectionInfo): boolean {
  return connection.identity === 'service';
}

/** The connection a server page is about; an unknown server is a 404. */
export async function loadConnection(request: Request, server: string | undefined): Promise<ConnectionInfo> {
  const session = await loadSession(request);
  const connection = session.connections.find((c) => c.server === server);
  if (!connection) throw routeError(404, { message: 'There is no MCP server at this address.' });
  return connection;
}

/**
 * For a server page's MCP requests: login_required means "connect first" (with a Connect link);
 * everything else as rethrowForRoute.
 */
export function rethrowForServer(connection: ConnectionInfo): (error: unknown) => never {
  return (error) => {
    if (error instanceof BffError && error.code === 'login_required') {
      throw routeError(401, {
        message: signedIn(connection)
          ? `Your session with ${connection.name} has ended. Connect again to go on.`
          : `Connect to ${connection.name} to use it.`,
        connectServer: connection.server,
      });
    }
    return rethrowForRoute(error);
  };
}
