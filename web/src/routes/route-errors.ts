/**
 * Expected failures leave loaders and actions as data with a status (react-router's `data()`), so
 * the error boundaries render them from one shape and never show a BFF's own text.
 */
import { data } from 'react-router';
import { BffError, bffErrorMessage } from '../bff';
import { NoCommonProtocolError } from '../mcp-connect';

export interface RouteErrorData {
  message: string;
  /** When set, the boundary offers a "Connect" link for this server. */
  connectServer?: string;
  /** The BFF's id for the request that failed, shown as a reference to report. */
  requestId?: string;
}

export function routeError(status: number, body: RouteErrorData): ReturnType<typeof data<RouteErrorData>> {
  return data(body, { status });
}

/** A JSON-RPC error answered by the MCP server (the SDK's McpError), told apart without importing the SDK. */
function isJsonRpcError(error: unknown): error is Error & { code: number } {
  return error instanceof Error && typeof (error as { code?: unknown }).code === 'number';
}

/** Rethrows a BffError or an MCP error as route error data; anything else unchanged. */
export function rethrowForRoute(error: unknown): never {
  if (error instanceof BffError) {
    throw routeError(error.status, { message: bffErrorMessage(error), ...(error.requestId ? { requestId: error.requestId } : {}) });
  }
  // Says which revisions the server offered (its own list of version strings, shown as text).
  if (error instanceof NoCommonProtocolError) throw routeError(502, { message: error.message });
  if (isJsonRpcError(error)) {
    // The MCP server's own words are useful here ("Resource not found"); React renders them as text.
    throw routeError(502, { message: `The MCP server answered with an error: ${error.message}` });
  }
  throw error;
}
