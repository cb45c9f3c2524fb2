import { Link, Outlet, useNavigation } from 'react-router';
import { homePath } from '../urls';
import { Banners } from './Banners';

export function AppHeader() {
  return (
    <header className="app-header">
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
      <main className="main" aria-busy={navigation.state === 'loading'}>
        <Outlet />
      </main>
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
