import { createBrowserRouter, Link } from 'react-router';
import { Layout, Loading } from './components/Layout';
import { RootErrorBoundary } from './components/RouteError';
import { homePath, routePatterns } from './urls';

function NotFound() {
  return (
    <div className="route-error">
      <h1>Page not found</h1>
      <p>There is nothing at this address.</p>
      <p>
        <Link to={homePath}>Back to servers</Link>
      </p>
    </div>
  );
}

/**
 * Every page is its own chunk, loaded when first visited; the MCP SDK comes with the first page that
 * talks to a server. The entry holds only React, the router and the frame.
 */
export const router = createBrowserRouter([
  {
    path: routePatterns.home,
    Component: Layout,
    ErrorBoundary: RootErrorBoundary,
    HydrateFallback: Loading,
    children: [
      { index: true, lazy: () => import('./routes/home') },
      {
        id: 'server',
        path: routePatterns.server,
        lazy: () => import('./routes/server'),
        children: [
          { index: true, lazy: () => import('./routes/server').then((m) => ({ loader: m.indexLoader })) },
          { path: routePatterns.tools, lazy: () => import('./routes/tools') },
          { path: routePatterns.tool, lazy: () => import('./routes/tool') },
          { path: routePatterns.resources, lazy: () => import('./routes/resources') },
          { path: routePatterns.resource, lazy: () => import('./routes/resource') },
          { path: routePatterns.prompts, lazy: () => import('./routes/prompts') },
          { path: routePatterns.prompt, lazy: () => import('./routes/prompt') },
          { path: routePatterns.log, lazy: () => import('./routes/log') },
          { path: routePatterns.protocol, lazy: () => import('./routes/protocol') },
        ],
      },
      // Not inside the server's frame, whose loader connects first: this page explains a failed connection.
      { path: routePatterns.connection, lazy: () => import('./routes/connection') },
      { path: '*', Component: NotFound },
    ],
  },
]);
