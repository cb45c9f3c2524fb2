/**
 * `/servers/:server/*`: the frame of one server's pages — its name and state, and links to its
 * tools, resources, prompts, log, protocol and connection details.
 */
import { Link, type LoaderFunctionArgs, Outlet, redirect, type ShouldRevalidateFunctionArgs, useLoaderData } from 'react-router';
import { RouteErrorBoundary } from '../components/RouteError';
import { ServerTabs } from '../components/ServerTabs';
import { ServiceIdentityNote } from '../components/ServiceIdentityNote';
import { StatusBadge } from '../components/StatusBadge';
import { useSessionProblems } from '../problems';
import { serverFacts } from '../mcp';
import { homePath, toolsPath } from '../urls';
import { loadConnection, rethrowForServer, signedIn, usesServiceIdentity } from './session';

export async function loader({ params, request }: LoaderFunctionArgs) {
  const connection = await loadConnection(request, params.server);
  // Connects (or finds that a login is needed) before any section asks for more.
  const facts = await serverFacts(connection.server).catch(rethrowForServer(connection));
  return { connection, facts };
}

export type ServerLoaderData = Awaited<ReturnType<typeof loader>>;

/** Moving between a server's sections, or searching within one, needs no new check of the server. */
export function shouldRevalidate({ currentUrl, nextUrl, formMethod, defaultShouldRevalidate }: ShouldRevalidateFunctionArgs) {
  const sameServer = currentUrl.pathname.split('/')[2] === nextUrl.pathname.split('/')[2];
  return sameServer && !formMethod ? false : defaultShouldRevalidate;
}

/** `/servers/:server` itself shows the tools. */
export function indexLoader({ params }: LoaderFunctionArgs) {
  return redirect(toolsPath(params.server ?? ''));
}

export function Component() {
  const { connection, facts } = useLoaderData<typeof loader>();
  const { server } = connection;
  return (
    <div className="server-page">
      <p className="back">
        <Link to={homePath}>Back to servers</Link>
      </p>
      <div className="server-head">
        <p className="server-name">{connection.name}</p>
        <ConnectionBadge server={server} />
        {!signedIn(connection) && !usesServiceIdentity(connection) && <p className="muted">No sign-in needed.</p>}
      </div>
      {usesServiceIdentity(connection) && <ServiceIdentityNote />}
      <dl className="protocol-facts">
        <div>
          <dt className="muted">MCP protocol</dt>
          <dd>
            {facts.protocolVersion} {facts.era === 'modern' ? '(stateless)' : '(session)'}
          </dd>
        </div>
        {facts.implementation && (
          <div>
            <dt className="muted">Server</dt>
            <dd>
              {facts.implementation.name} {facts.implementation.version}
            </dd>
          </div>
        )}
      </dl>
      {facts.instructions && (
        <details className="instructions-box">
          <summary>Instructions from the server</summary>
          <p className="instructions">{facts.instructions}</p>
        </details>
      )}
      <ServerTabs server={server} />
      <Outlet />
    </div>
  );
}

/** "Connected" until the session with this server ends: then at once, not on the next navigation. */
function ConnectionBadge({ server }: { server: string }) {
  const problem = useSessionProblems().find((p) => p.server === server);
  if (problem?.error.code === 'login_required') return <StatusBadge text="Session ended" tone="error" />;
  if (problem) return <StatusBadge text="Needs attention" tone="warn" />;
  return <StatusBadge text="Connected" tone="ok" />;
}

export const ErrorBoundary = RouteErrorBoundary;
