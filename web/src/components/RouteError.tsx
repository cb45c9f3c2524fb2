import { isRouteErrorResponse, Link, useLocation, useRouteError } from 'react-router';
import type { RouteErrorData } from '../routes/route-errors';
import { connectionPath, homePath, loginHref } from '../urls';
import { AppHeader } from './Layout';
import { Reference } from './Reference';

interface Described {
  title: string;
  message: string;
  connectServer?: string | undefined;
  requestId?: string | undefined;
}

function isRouteErrorData(value: unknown): value is RouteErrorData {
  return typeof value === 'object' && value !== null && typeof (value as { message?: unknown }).message === 'string';
}

function describe(error: unknown): Described {
  if (isRouteErrorResponse(error)) {
    const body = isRouteErrorData(error.data) ? error.data : undefined;
    if (error.status === 404) {
      return { title: 'Page not found', message: body?.message ?? 'There is nothing at this address.' };
    }
    return {
      title: error.status === 401 ? 'Not connected' : 'Something went wrong',
      message: body?.message ?? `The request failed (HTTP ${error.status}).`,
      connectServer: body?.connectServer,
      requestId: typeof body?.requestId === 'string' ? body.requestId : undefined,
    };
  }
  if (error instanceof TypeError) {
    return { title: 'Something went wrong', message: 'The server could not be reached. Check your connection and try again.' };
  }
  return { title: 'Something went wrong', message: 'An unexpected error occurred. Please try again.' };
}

/** The body of every error boundary: what happened, and a way on. */
export function RouteErrorView({ backLink = true }: { backLink?: boolean }) {
  const error = useRouteError();
  const location = useLocation();
  const { title, message, connectServer, requestId } = describe(error);
  return (
    <div className="route-error">
      <h1>{title}</h1>
      <p>
        {message}
        <Reference id={requestId} />
      </p>
      {connectServer !== undefined && (
        <p>
          <a className="button" href={loginHref(connectServer, location)}>
            Connect
          </a>{' '}
          <Link to={connectionPath(connectServer)}>Sign-in details</Link>
        </p>
      )}
      {backLink && (
        <p>
          <Link to={homePath}>Back to servers</Link>
        </p>
      )}
    </div>
  );
}

/** For child routes: rendered inside the layout, so the header and banners stay. */
export function RouteErrorBoundary() {
  return <RouteErrorView />;
}

/** For a server's sections: the server's frame around them already links back. */
export function SectionErrorBoundary() {
  return <RouteErrorView backLink={false} />;
}

/** For the root route, which replaces the layout: draws a minimal frame of its own. */
export function RootErrorBoundary() {
  return (
    <div className="app">
      <AppHeader />
      <main className="main">
        <RouteErrorView />
      </main>
    </div>
  );
}
