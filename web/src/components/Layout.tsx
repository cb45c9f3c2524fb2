import { Link, Outlet, useNavigation } from 'react-router';
import { homePath } from '../urls';
import { Banners } from './Banners';
import { CallsTray } from './CallsTray';
import { LiveUpdatesTray } from './LiveUpdatesTray';
import { lazy, Suspense } from 'react';
import { usePendingInput } from '../inputRequests';

/** The dialog (and its form machinery) loads the first time a server asks the person something. */
const InputRequestDialog = lazy(() => import('./InputRequestDialog').then((m) => ({ default: m.InputRequestDialog })));

function PendingInput() {
  const pending = usePendingInput();
  if (pending.length === 0) return null;
  return (
    <Suspense fallback={null}>
      <InputRequestDialog />
    </Suspense>
  );
}

export function AppHeader() {
  return (
    <header className="app-header">
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <Link to={homePath} className="brand">
        MCP client
      </Link>
    </header>
  );
}

export function Layout() {
  const navigation = useNavigation();
  return (
    <div className="app">
      <AppHeader />
      <Banners />
      <main id="main" className="main" tabIndex={-1} aria-busy={navigation.state === 'loading'}>
        <Outlet />
      </main>
      <div className="trays">
        <LiveUpdatesTray />
        <CallsTray />
      </div>
      <PendingInput />
      {navigation.state === 'loading' && (
        <p className="nav-progress" role="status">
          Loading…
        </p>
      )}
    </div>
  );
}

/** Shown while the first route's loader runs. */
export function Loading() {
  return (
    <p className="main loading" role="status">
      Loading…
    </p>
  );
}
