import { Link, Outlet, useNavigation } from 'react-router';
import { homePath } from '../urls';
import { Banners } from './Banners';
import { InputRequestDialog } from './InputRequestDialog';

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
      <InputRequestDialog />
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
