/**
 * `/servers/:server/connection`: the connection debugger. How the BFF is connected to one server —
 * what discovery found and where, the client and since when, scopes, token lifetimes and refreshes,
 * the access token's claims when the deployment shows them — and, for a sign-in that failed, its
 * steps with the one that failed and why. All of it comes from the BFF, which never sends a token.
 * Outside the server's frame (whose loader connects first), so that it works when connecting fails.
 */
import {
  type ClientSource,
  type ConnectionDetails,
  LOGIN_STEPS,
  type LoginStep,
  type LoginStepName,
} from '@mcp-bff/shared';
import { type ReactNode, useId } from 'react';
import { Link, type LoaderFunctionArgs, useLoaderData, useLocation, useRevalidator } from 'react-router';
import { getConnectionDetails, loginErrorMessage } from '../bff';
import { RouteErrorBoundary } from '../components/RouteError';
import { ServerTabs } from '../components/ServerTabs';
import { StatusBadge } from '../components/StatusBadge';
import { homePath, loginHref } from '../urls';
import { ServiceIdentityNote } from '../components/ServiceIdentityNote';
import { loadConnection, usesServiceIdentity } from './session';
import { rethrowForRoute } from './route-errors';

export async function loader({ params, request }: LoaderFunctionArgs) {
  const connection = await loadConnection(request, params.server);
  const details = await getConnectionDetails(connection.server, request.signal).catch(rethrowForRoute);
  return { connection, details };
}

const STEP_NAMES: Record<LoginStepName, string> = {
  resource_metadata: 'Protected resource metadata (RFC 9728)',
  authorization_server_metadata: 'Authorization server metadata',
  client: 'Client at the authorization server',
  authorization_request: 'Sign-in and consent at the authorization server',
  authorization_response: 'Answer from the authorization server',
  token_exchange: 'Tokens for the authorization code',
};

const CLIENT_SOURCES: Record<ClientSource, string> = {
  configuration: 'Configured client credentials',
  metadata_document: 'Client ID metadata document',
  dynamic_registration: 'Dynamic client registration (RFC 7591)',
};

function when(ms: number): string {
  return new Date(ms).toLocaleString();
}

export function Component() {
  const { connection, details } = useLoaderData<typeof loader>();
  const { server } = connection;
  const revalidator = useRevalidator();
  const location = useLocation();
  const connected = details.status === 'connected';
  if (usesServiceIdentity(connection)) {
    // Its token is the deployment's, not this person's: nothing of it is shown here, and there is no Connect.
    return (
      <div className="server-page">
        <p className="back">
          <Link to={homePath}>Back to servers</Link>
        </p>
        <div className="server-head">
          <p className="server-name">{connection.name}</p>
          <StatusBadge text="Service identity" tone="ok" />
        </div>
        <ServerTabs server={server} />
        <h1>Connection details</h1>
        <ServiceIdentityNote />
        <p className="muted">Its access token belongs to the deployment, is renewed by the BFF, and is the same for everyone.</p>
      </div>
    );
  }
  return (
    <div className="server-page">
      <p className="back">
        <Link to={homePath}>Back to servers</Link>
      </p>
      <div className="server-head">
        <p className="server-name">{details.name}</p>
        <StatusBadge text={connected ? 'Signed in' : 'Not signed in'} tone={connected ? 'ok' : 'off'} />
      </div>
      <ServerTabs server={server} />
      <h1>Connection details</h1>
      <div className="toolbar">
        <button type="button" className="button-secondary" onClick={() => revalidator.revalidate()} disabled={revalidator.state !== 'idle'}>
          Reload
        </button>
        {!connected && (
          <a className="button" href={loginHref(server, location)}>
            Connect<span className="visually-hidden"> to {details.name}</span>
          </a>
        )}
        {revalidator.state !== 'idle' && (
          <span className="muted" role="status">
            Loading…
          </span>
        )}
      </div>
      {!connected && !details.login && (
        <p className="muted">
          The BFF holds no sign-in for this server. A server that needs none works without one; for one that does, connect, and this
          page shows how the sign-in went, or where and why it failed.
        </p>
      )}
      <LoginSteps login={details.login} />
      {details.discovery && <Discovery discovery={details.discovery} />}
      {details.client && <Client client={details.client} />}
      {details.scopes && <Scopes scopes={details.scopes} />}
      {details.token && <Token token={details.token} lastRefresh={details.lastRefresh} />}
      {!details.token && details.lastRefresh && <LastRefresh lastRefresh={details.lastRefresh} />}
      {connected && <Claims claims={details.claims} />}
    </div>
  );
}

function LoginSteps({ login }: { login: ConnectionDetails['login'] }) {
  const headingId = useId();
  if (!login) return null;
  const failed = login.steps.find((s) => s.status === 'failed');
  const reached = new Set(login.steps.map((s) => s.step));
  return (
    <section className="card connection-section" aria-labelledby={headingId}>
      <h2 id={headingId}>{login.outcome === 'failed' ? 'The last sign-in failed' : 'Sign-in'}</h2>
      <p className="muted">
        {login.outcome === 'failed' ? 'Tried' : 'Signed in'} {when(login.at)}.
      </p>
      {login.outcome === 'failed' && (
        <div role="alert" className="error connection-failure">
          <p>
            <strong>Failed at: {failed ? STEP_NAMES[failed.step] : 'signing in'}.</strong>
          </p>
          <p>{failed?.detail ?? (login.error ? loginErrorMessage(login.error) : 'Signing in failed.')}</p>
        </div>
      )}
      <ol className="login-steps" aria-label="Sign-in steps">
        {LOGIN_STEPS.map((name) => {
          const step = login.steps.find((s) => s.step === name);
          return <Step key={name} name={name} step={step} notReached={!reached.has(name)} />;
        })}
      </ol>
    </section>
  );
}

function Step({ name, step, notReached }: { name: LoginStepName; step: LoginStep | undefined; notReached: boolean }) {
  const state = notReached ? 'not reached' : step?.status === 'failed' ? 'failed' : 'done';
  return (
    <li className={`login-step login-step-${notReached ? 'skipped' : step?.status}`}>
      <p className="login-step-head">
        <span className="login-step-name">{STEP_NAMES[name]}</span>: <span className="login-step-state">{state}</span>
        {step && <span className="muted"> · {new Date(step.at).toLocaleTimeString()}</span>}
      </p>
      {step && step.status === 'ok' && <p className="login-step-detail">{step.detail}</p>}
      {step?.url && (
        <p className="muted login-step-url">
          At <code className="uri">{step.url}</code>
        </p>
      )}
    </li>
  );
}

function Facts({ label, children }: { label: string; children: ReactNode }) {
  const headingId = useId();
  return (
    <section className="card connection-section" aria-labelledby={headingId}>
      <h2 id={headingId}>{label}</h2>
      <dl className="connection-facts">{children}</dl>
    </section>
  );
}

function Fact({ term, children }: { term: string; children: ReactNode }) {
  return (
    <div>
      <dt>{term}</dt>
      <dd>{children}</dd>
    </div>
  );
}

function Url({ url }: { url: string | null }) {
  return url ? <code className="uri">{url}</code> : <span className="muted">not known</span>;
}

function Discovery({ discovery }: { discovery: NonNullable<ConnectionDetails['discovery']> }) {
  return (
    <Facts label="Discovery">
      <Fact term="Protected resource metadata found at">
        <Url url={discovery.resourceMetadataUrl} />
      </Fact>
      <Fact term="Resource it names">
        <Url url={discovery.resource} />
      </Fact>
      <Fact term="Authorization servers it names">
        {discovery.authorizationServers.length ? (
          <ul className="plain-list">
            {discovery.authorizationServers.map((as) => (
              <li key={as}>
                <code className="uri">{as}</code>
              </li>
            ))}
          </ul>
        ) : (
          <span className="muted">none</span>
        )}
      </Fact>
      <Fact term="Authorization server metadata found at">
        <Url url={discovery.authorizationServerMetadataUrl} />
      </Fact>
      <Fact term="Issuer">
        <Url url={discovery.issuer} />
      </Fact>
    </Facts>
  );
}

function Client({ client }: { client: NonNullable<ConnectionDetails['client']> }) {
  return (
    <Facts label="Client">
      <Fact term="How the BFF got it">{CLIENT_SOURCES[client.source] ?? client.source}</Fact>
      <Fact term="Client ID">
        <code className="uri">{client.clientId}</code>
      </Fact>
      {client.since !== null && (
        <Fact term={client.source === 'dynamic_registration' ? 'Registered' : 'First used at this issuer'}>{when(client.since)}</Fact>
      )}
    </Facts>
  );
}

function ScopeList({ scopes, label }: { scopes: string[]; label: string }) {
  if (scopes.length === 0) return <span className="muted">none</span>;
  return (
    <ul aria-label={label} className="scope-list">
      {scopes.map((scope) => (
        <li key={scope}>
          <code>{scope}</code>
        </li>
      ))}
    </ul>
  );
}

function Scopes({ scopes }: { scopes: NonNullable<ConnectionDetails['scopes']> }) {
  return (
    <Facts label="Scopes">
      <Fact term="Requested">
        <ScopeList scopes={scopes.requested} label="Requested scopes" />
      </Fact>
      <Fact term="Granted">
        <ScopeList scopes={scopes.granted} label="Granted scopes" />
      </Fact>
    </Facts>
  );
}

function Token({ token, lastRefresh }: { token: NonNullable<ConnectionDetails['token']>; lastRefresh: ConnectionDetails['lastRefresh'] }) {
  return (
    <Facts label="Access token">
      <Fact term="Issued">{when(token.issuedAt)}</Fact>
      <Fact term="Expires">
        {token.expiresAt !== null ? `${when(token.expiresAt)} (valid for ${token.lifetimeSeconds} s)` : 'The authorization server did not say.'}
      </Fact>
      <Fact term="Refresh token">{token.refreshable ? 'Held by the BFF (never shown)' : 'None issued: signing in again is needed when the access token expires'}</Fact>
      <Fact term="Next renewal">
        {token.nextRefreshAt !== null ? `From ${when(token.nextRefreshAt)}, at the next request` : 'Not needed'}
      </Fact>
      <Fact term="Last renewal">{lastRefresh ? <RefreshOutcome lastRefresh={lastRefresh} /> : 'Not renewed since sign-in'}</Fact>
    </Facts>
  );
}

function RefreshOutcome({ lastRefresh }: { lastRefresh: NonNullable<ConnectionDetails['lastRefresh']> }) {
  return (
    <>
      {when(lastRefresh.at)}: {lastRefresh.outcome === 'ok' ? 'renewed' : <strong className="error-text">failed</strong>}. {lastRefresh.detail}
    </>
  );
}

function LastRefresh({ lastRefresh }: { lastRefresh: NonNullable<ConnectionDetails['lastRefresh']> }) {
  return (
    <Facts label="Last renewal">
      <Fact term="Outcome">
        <RefreshOutcome lastRefresh={lastRefresh} />
      </Fact>
    </Facts>
  );
}

function Claims({ claims }: { claims: ConnectionDetails['claims'] }) {
  const headingId = useId();
  return (
    <section className="card connection-section" aria-labelledby={headingId}>
      <h2 id={headingId}>Access token claims</h2>
      {!claims.enabled ? (
        <p className="muted">Showing the access token's claims is turned off for this deployment (CONNECTION_CLAIMS).</p>
      ) : claims.header && claims.payload ? (
        <>
          <p className="muted">Decoded by the BFF, not verified here (the MCP server verifies them). The token itself never reaches this page.</p>
          <h3>Header</h3>
          <pre className="json">
            {JSON.stringify(claims.header, null, 2)}
          </pre>
          <h3>Payload</h3>
          <pre className="json">
            {JSON.stringify(claims.payload, null, 2)}
          </pre>
        </>
      ) : (
        <p className="muted">The access token is not a JWT (it is opaque to the BFF): it has no claims to show.</p>
      )}
    </section>
  );
}

export const ErrorBoundary = RouteErrorBoundary;
