import { createBrowserRouter, Link } from 'react-router';
import { Layout, Loading } from './components/Layout';
import { RootErrorBoundary, RouteErrorBoundary } from './components/RouteError';
import { Home, homeAction, homeLoader } from './routes/home';
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

export const router = createBrowserRouter([
  {
    path: routePatterns.home,
    Component: Layout,
    ErrorBoundary: RootErrorBoundary,
    HydrateFallback: Loading,
    children: [
      {
        index: true,
        loader: homeLoader,
        action: homeAction,
        Component: Home,
        ErrorBoundary: RouteErrorBoundary,
      },
      {
        path: routePatterns.tool,
        lazy: () => import('./routes/tool'),
      },
      { path: '*', Component: NotFound },
    ],
  },
]);
