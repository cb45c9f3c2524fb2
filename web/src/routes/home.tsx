/**
 * `/`: every configured MCP server, its state, who you are there, and what it offers.
 */
import type { ConnectionInfo, SignOutOffer } from '@mcp-bff/shared';
import { Suspense, useEffect, useId, useRef, useState } from 'react';
import { type ActionFunctionArgs, Await, Link, useAsyncError, useFetcher, useLoaderData, useLocation, type LoaderFunctionArgs } from 'react-router';
import { BffError, bffErrorMessage, disconnect, logout } from '../bff';
import { loadServerDetails, type ServerDetails } from '../calls';
import { ServiceIdentityNote } from '../components/ServiceIdentityNote';
import { connectText, ManagedBy } from '../components/ManagedBy';
import { StatusBadge } from '../components/StatusBadge';
import { closeAllClients, closeClient, forgetClient } from '../mcp';
import { clearAllProblems } from '../problems';
import { connectionPath, loginHref, logPath, promptsPath, resourcesPath, toolPath, toolsPath } from '../urls';
import { RouteErrorBoundary } from '../components/RouteError';
import { Reference } from '../components/Reference';
import { loadSession, signedIn, usesServiceIdentity } from './session';

export async function loader({ request }: LoaderFunctionArgs) {
  const session = await loadSession(request);
  // Not awaited: the page shows each server while its details load.
  const servers = session.connections.map((connection) => {
    // Login is lazy: a server without a token is tried anyway, and works if it needs no login.
    if (!signedIn(connection) && !usesServiceIdentity(connection)) forgetClient(connection.server);
    const details = loadServerDetails(connection.server);
    // <Await> shows the failure; this only keeps a page left before it renders from logging an
    // unhandled rejection.
    details.catch(() => undefined);
    return { connection, details };
  });
  return { session, servers };
}

const MCP_CLOSE_TIMEOUT_MS = 3000;

export async function action({ request }: ActionFunctionArgs) {
  const form = await request.formData();
  const server = form.get('disconnect');
  if (typeof server === 'string') {
    await Promise.race([closeClient(server), new Promise((resolve) => setTimeout(resolve, MCP_CLOSE_TIMEOUT_MS))]);
    try {
      await disconnect(server);
    } catch (error) {
      if (error instanceof BffError || error instanceof TypeError) return { logoutFailed: false, disconnectFailed: server };
      throw error;
    }
    return { logoutFailed: false };
  }
  // MCP sessions are ended first: once the BFF session is gone their DELETE could not be authorized.
  await Promise.race([closeAllClients(), new Promise((resolve) => setTimeout(resolve, MCP_CLOSE_TIMEOUT_MS))]);
  let signOut: SignOutOffer[];
  try {
    signOut = await logout();
  } catch (error) {
    if (error instanceof BffError || error instanceof TypeError) return { logoutFailed: true };
    throw error;
  }
  clearAllProblems();
  return { logoutFailed: false, signOut };
}

/** The logout's fetcher: its answer (the sign-out offers) outlives the Log out button, which goes with the last connection. */
const LOGOUT_FETCHER = 'logout';

function DisconnectButton({ server, name }: { server: string; name: string }) {
  const fetcher = useFetcher<typeof action>();
  const busy = fetcher.state !== 'idle';
  return (
    <fetcher.Form method="post" className="disconnect">
      <button type="submit" name="disconnect" value={server} className="button-secondary" disabled={busy}>
        Disconnect<span className="visually-hidden"> from {name}</span>
      </button>
      {fetcher.state === 'idle' && fetcher.data && 'disconnectFailed' in fetcher.data && (
        <p role="alert" className="error">
          Disconnecting failed. Please try again.
        </p>
      )}
    </fetcher.Form>
  );
}

export function Component() {
  const { session, servers } = useLoaderData<typeof loader>();
  // The deployment's own connections (service identity) are nobody's to log out of.
  const anyConnected = session.connections.some(signedIn);
  const logoutFetcher = useFetcher<typeof action>({ key: LOGOUT_FETCHER });
  const offers = (logoutFetcher.data && 'signOut' in logoutFetcher.data ? logoutFetcher.data.signOut : undefined) ?? [];
  return (
    <>
      <div className="page-head">
        <h1>MCP servers</h1>
        {anyConnected && <LogoutButton />}
      </div>
      {!anyConnected && offers.length > 0 && <SignOutOffers offers={offers} />}
      {session.connections.length === 0 ? (
        <p className="empty">No MCP servers are configured. Name them in the BFF's configuration.</p>
      ) : (
        <div className="servers">
          {servers.map(({ connection, details }) => (
            <ServerCard key={connection.server} connection={connection} details={details} />
          ))}
        </div>
      )}
    </>
  );
}

export const ErrorBoundary = RouteErrorBoundary;

function ServerCard({ connection, details }: { connection: ConnectionInfo; details: Promise<ServerDetails> }) {
  const headingId = useId();
  return (
    <section className="card" aria-labelledby={headingId}>
      <h2 id={headingId}>{connection.name}</h2>
      <ManagedBy connection={connection} />
      <Suspense
        fallback={
          <>
            <StatusBadge text={connection.status === 'connected' ? 'Connected' : 'Checking…'} tone="pending" />
            <p className="muted" role="status">
              Loading {connection.name}…
            </p>
          </>
        }
      >
        <Await resolve={details} errorElement={<DetailsError connection={connection} />}>
          {(loaded: ServerDetails) => <ServerDetailsView connection={connection} details={loaded} />}
        </Await>
      </Suspense>
    </section>
  );
}

function ConnectLink({ connection }: { connection: ConnectionInfo }) {
  const location = useLocation();
  return (
    <p>
      <a className="button" href={loginHref(connection.server, location)}>
        {connectText(connection)}
        <span className="visually-hidden"> to {connection.name}</span>
      </a>
    </p>
  );
}

const EXPIRING_MS = 60_000;

function ServerDetailsView({ connection, details }: { connection: ConnectionInfo; details: ServerDetails }) {
  const { server, name } = connection;
  const { facts, tools, whoami } = details;
  const capabilities = facts.capabilities ?? {};
  const expiring = connection.expiresAt !== null && connection.expiresAt - Date.now() < EXPIRING_MS;
  return (
    <>
      <StatusBadge text="Connected" tone={expiring ? 'warn' : 'ok'} />
      {usesServiceIdentity(connection) ? (
        <ServiceIdentityNote />
      ) : whoami ? (
        <p>
          Signed in as <strong className="subject">{whoami.sub}</strong>
        </p>
      ) : !signedIn(connection) ? (
        <p className="muted">No sign-in needed.</p>
      ) : null}
      {facts.implementation && (
        <p className="muted">
          Server: {facts.implementation.title ?? facts.implementation.name} {facts.implementation.version}
        </p>
      )}
      <Expiry expiresAt={connection.expiresAt} />
      <Scopes scopes={connection.scopes} />
      {signedIn(connection) && <DisconnectButton server={server} name={name} />}
      <nav aria-label={`${name} sections`} className="section-links">
        <Link to={toolsPath(server)}>Tools ({tools.length})</Link>
        {capabilities.resources && <Link to={resourcesPath(server)}>Resources</Link>}
        {capabilities.prompts && <Link to={promptsPath(server)}>Prompts</Link>}
        <Link to={logPath(server)}>Log</Link>
        {signedIn(connection) && <Link to={connectionPath(server)}>Connection details</Link>}
      </nav>
      <h3>Tools</h3>
      {tools.length === 0 ? (
        <p className="empty">This server offers no tools.</p>
      ) : (
        <ul className="chip-list" aria-label={`Tools of ${name}`}>
          {tools.map((tool) => (
            <li key={tool.name}>
              <Link to={toolPath(server, tool.name)} className="chip-link">
                {tool.name}
              </Link>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

/** The BFF renews access tokens itself; this only says when the current one ends. */
function Expiry({ expiresAt }: { expiresAt: number | null }) {
  if (expiresAt === null) return null;
  const seconds = Math.round((expiresAt - Date.now()) / 1000);
  if (seconds > 300) return null;
  return (
    <p className="muted expiring">
      {seconds > 0 ? `Access expires in ${seconds} s` : 'Access has expired'}; it is renewed automatically on the next request.
    </p>
  );
}

function Scopes({ scopes }: { scopes: string[] }) {
  if (scopes.length === 0) return null;
  return (
    <div className="scopes">
      <span>Granted scopes:</span>
      <ul aria-label="Granted scopes" className="scope-list">
        {scopes.map((scope) => (
          <li key={scope}>
            <code>{scope}</code>
          </li>
        ))}
      </ul>
    </div>
  );
}

/**
 * After a logout: the authorization servers the person signed in at still know them, and "Connect"
 * would sign them in again without a password. Offered, never done unasked: signing out there ends
 * their sign-in for every application that uses it. One authorization server per logout.
 */
function SignOutOffers({ offers }: { offers: SignOutOffer[] }) {
  const headingId = useId();
  const heading = useRef<HTMLHeadingElement>(null);
  const [dismissed, setDismissed] = useState(false);
  // The Log out button is gone with the last connection: the focus goes on from here.
  useEffect(() => heading.current?.focus(), []);
  if (dismissed) return null;
  const [only] = offers;
  return (
    <section className="card sign-out" aria-labelledby={headingId}>
      <h2 id={headingId} ref={heading} tabIndex={-1}>
        You are logged out
      </h2>
      {only && offers.length === 1 ? (
        <p>
          Every connection of this app has ended. <strong>{only.host}</strong>, where you signed in for {only.servers.join(', ')}, still
          knows you: Connect would sign you in there again without your password. Also sign out at {only.host}?
        </p>
      ) : (
        <p>
          Every connection of this app has ended. The authorization servers you signed in at still know you: Connect would sign you in
          there again without your password. You can sign out at one of them from here; sign out at the others on their own sites.
        </p>
      )}
      <ul className="sign-out-list">
        {offers.map((offer) => (
          <li key={offer.url}>
            <a className="button" href={offer.url}>
              Sign out at {offer.host}
            </a>
            {offers.length > 1 && <span className="muted"> for {offer.servers.join(', ')}</span>}
          </li>
        ))}
        <li>
          <button
            type="button"
            className="button-secondary"
            onClick={() => {
              setDismissed(true);
              // The button goes with the offer: the focus goes back to the page, not to nowhere.
              document.getElementById('main')?.focus();
            }}
          >
            No, stay signed in there
          </button>
        </li>
      </ul>
    </section>
  );
}

function LogoutButton() {
  const fetcher = useFetcher<typeof action>({ key: LOGOUT_FETCHER });
  const busy = fetcher.state !== 'idle';
  return (
    <fetcher.Form method="post" className="logout">
      <button type="submit" className="button-secondary" disabled={busy}>
        Log out
      </button>
      {busy && (
        <span className="muted" role="status">
          {' '}
          Logging out…
        </span>
      )}
      {fetcher.state === 'idle' && fetcher.data?.logoutFailed && (
        <p role="alert" className="error">
          Logging out failed. Please try again.
        </p>
      )}
    </fetcher.Form>
  );
}

/** The server could not be used: it needs a login (the usual case), or something failed. */
function DetailsError({ connection }: { connection: ConnectionInfo }) {
  const error = useAsyncError();
  if (error instanceof BffError && error.code === 'login_required') {
    return (
      <>
        <StatusBadge text="Not connected" tone="off" />
        <p>Sign in to use this server's tools, resources and prompts.</p>
        <ConnectLink connection={connection} />
        <p>
          {/* Not "Connection …": next to Connect, one link's name must not contain the other's. */}
          <Link to={connectionPath(connection.server)}>
            Sign-in details<span className="visually-hidden"> of {connection.name}</span>
          </Link>
        </p>
      </>
    );
  }
  // Session-level problems are explained (with a way to fix them) by the banner.
  const text =
    error instanceof BffError && error.isSessionProblem
      ? 'This server cannot be used right now; see the message at the top of the page.'
      : error instanceof BffError
        ? bffErrorMessage(error)
        : error instanceof Error && typeof (error as { code?: unknown }).code === 'number'
          ? `The server answered with an error: ${error.message}`
          : 'The server could not be reached. Reload the page to try again.';
  return (
    <>
      <StatusBadge text="Error" tone="error" />
      <p role="alert" className="error">
        {text}
        {error instanceof BffError && !error.isSessionProblem && <Reference id={error.requestId} />}
      </p>
    </>
  );
}
