/**
 * `/`: every configured MCP server, its connection state, and for connected ones who you are
 * and which tools it offers.
 */
import type { ConnectionInfo } from '@mcp-bff/shared';
import { Suspense, useId } from 'react';
import {
  Await,
  Link,
  type LoaderFunctionArgs,
  useAsyncError,
  useFetcher,
  useLoaderData,
  useLocation,
} from 'react-router';
import { BffError, logout } from '../bff';
import { loadServerDetails, type ServerDetails } from '../calls';
import { closeAllClients, forgetClient } from '../mcp';
import { clearAllProblems } from '../problems';
import { loginHref, toolPath } from '../urls';
import { loadSession } from './session';

export async function homeLoader({ request }: LoaderFunctionArgs) {
  const session = await loadSession(request.signal);
  // Not awaited: the page shows each server while its tools load.
  const details: Record<string, Promise<ServerDetails>> = {};
  for (const connection of session.connections) {
    if (connection.status === 'connected') {
      const promise = loadServerDetails(connection.server);
      // <Await> shows the failure; this only keeps a page left before it renders from logging
      // an unhandled rejection.
      promise.catch(() => undefined);
      details[connection.server] = promise;
    } else {
      forgetClient(connection.server);
    }
  }
  return { session, details };
}

const MCP_CLOSE_TIMEOUT_MS = 3000;

export async function homeAction() {
  // MCP sessions are ended first: once the BFF session is gone their DELETE could not be authorized.
  await Promise.race([closeAllClients(), new Promise((resolve) => setTimeout(resolve, MCP_CLOSE_TIMEOUT_MS))]);
  try {
    await logout();
  } catch (error) {
    if (error instanceof BffError || error instanceof TypeError) {
      return { logoutFailed: true };
    }
    throw error;
  }
  clearAllProblems();
  return { logoutFailed: false };
}

export function Home() {
  const { session, details } = useLoaderData<typeof homeLoader>();
  return (
    <>
      <h1>MCP servers</h1>
      {session.connections.length === 0 ? (
        <p className="muted">No MCP servers are configured.</p>
      ) : (
        <div className="servers">
          {session.connections.map((connection) => (
            <ServerSection
              key={connection.server}
              connection={connection}
              details={details[connection.server]}
            />
          ))}
        </div>
      )}
    </>
  );
}

function ServerSection({
  connection,
  details,
}: {
  connection: ConnectionInfo;
  details: Promise<ServerDetails> | undefined;
}) {
  const headingId = useId();
  const location = useLocation();
  const connected = connection.status === 'connected';
  return (
    <section className="card" aria-labelledby={headingId}>
      <h2 id={headingId}>{connection.name}</h2>
      <p className={connected ? 'status status-connected' : 'status status-disconnected'}>
        {connected ? 'Connected' : 'Not connected'}
      </p>
      {!connected && (
        <p>
          <a className="button" href={loginHref(connection.server, location)}>
            Connect
          </a>
        </p>
      )}
      {connected && details && (
        <>
          <Suspense fallback={<p className="muted">Loading account…</p>}>
            <Await resolve={details} errorElement={null}>
              {(loaded: ServerDetails) =>
                loaded.whoami ? (
                  <p>
                    Signed in as <strong className="subject">{loaded.whoami.sub}</strong>
                  </p>
                ) : null
              }
            </Await>
          </Suspense>
          <Scopes scopes={connection.scopes} />
          <LogoutButton />
          <h3>Tools</h3>
          <Suspense fallback={<p className="muted">Loading tools…</p>}>
            <Await resolve={details} errorElement={<DetailsError />}>
              {(loaded: ServerDetails) => <ToolList server={connection.server} details={loaded} />}
            </Await>
          </Suspense>
        </>
      )}
    </section>
  );
}

function Scopes({ scopes }: { scopes: string[] }) {
  if (scopes.length === 0) return <p className="muted">No scopes granted.</p>;
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

function LogoutButton() {
  const fetcher = useFetcher<typeof homeAction>();
  const busy = fetcher.state !== 'idle';
  return (
    <fetcher.Form method="post" className="logout">
      <button type="submit" className="button-secondary" disabled={busy}>
        Log out
      </button>
      {busy && <span className="muted"> Logging out…</span>}
      {fetcher.state === 'idle' && fetcher.data?.logoutFailed && (
        <p role="alert" className="error">
          Logging out failed. Please try again.
        </p>
      )}
    </fetcher.Form>
  );
}

function ToolList({ server, details }: { server: string; details: ServerDetails }) {
  if (details.tools.length === 0) return <p className="muted">This server offers no tools.</p>;
  return (
    <ul className="tool-list">
      {details.tools.map((tool) => (
        <li key={tool.name}>
          <Link to={toolPath(server, tool.name)}>{tool.name}</Link>
          {tool.description && <p className="muted">{tool.description}</p>}
        </li>
      ))}
    </ul>
  );
}

function DetailsError() {
  const error = useAsyncError();
  // Session-level problems are explained (with a way to fix them) by the banner.
  const text =
    error instanceof BffError && error.isSessionProblem
      ? 'The tools could not be loaded; see the message at the top of the page.'
      : 'The tools of this server could not be loaded. Reload the page to try again.';
  return <p className="error">{text}</p>;
}
