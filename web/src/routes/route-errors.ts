/**
 * Expected failures leave loaders and actions as data with a status (react-router's `data()`), so
 * the error boundaries render them from one shape and never show a server's own text.
 */
import { data } from 'react-router';
import { BffError, bffErrorMessage } from '../bff';

export interface RouteErrorData {
  message: string;
  /** When set, the boundary offers a "Connect" link for this server. */
  connectServer?: string;
}

export function routeError(status: number, body: RouteErrorData): ReturnType<typeof data<RouteErrorData>> {
  return data(body, { status });
}

/** Rethrows a BffError as route error data; anything else unchanged. */
export function rethrowForRoute(error: unknown): never {
  if (error instanceof BffError) throw routeError(error.status, { message: bffErrorMessage(error) });
  throw error;
}
