import { LOGIN_ERROR_PARAM, LOGIN_REFERENCE_PARAM, LOGOUT_PARAM } from '@mcp-bff/shared';
import { Link, useLocation, useSearchParams } from 'react-router';
import { bffErrorMessage, loginErrorMessage, logoutOutcomeMessage, requestIdOrUndefined } from '../bff';
import { type SessionProblem, useSessionProblems } from '../problems';
import { bffLoginHref, connectionPath } from '../urls';
import { Reference } from './Reference';

/**
 * The top-of-page messages: a failed login, how a sign-out at an authorization server went, and
 * session-level problems reported by MCP calls.
 */
export function Banners() {
  const problems = useSessionProblems();
  const [searchParams, setSearchParams] = useSearchParams();
  const loginError = searchParams.get(LOGIN_ERROR_PARAM);
  const loginReference = requestIdOrUndefined(searchParams.get(LOGIN_REFERENCE_PARAM));
  const logoutOutcome = searchParams.get(LOGOUT_PARAM);
  // On a server's pages, its connection details say which step of the sign-in failed, and why.
  const failedServer = /^\/servers\/([^/]+)/.exec(useLocation().pathname)?.[1];

  function dismiss(...names: string[]) {
    setSearchParams(
      (params) => {
        for (const name of names) params.delete(name);
        return params;
      },
      { replace: true },
    );
  }
  const dismissLoginError = () => dismiss(LOGIN_ERROR_PARAM, LOGIN_REFERENCE_PARAM);

  if (loginError === null && logoutOutcome === null && problems.length === 0) return null;
  const logoutMessage = logoutOutcome === null ? undefined : logoutOutcomeMessage(logoutOutcome);
  return (
    <div className="banners">
      {logoutMessage && (
        <div role={logoutMessage.ok ? 'status' : 'alert'} className={logoutMessage.ok ? 'banner banner-info' : 'banner banner-warning'}>
          <p>{logoutMessage.text}</p>
          <button type="button" className="button-secondary" onClick={() => dismiss(LOGOUT_PARAM)}>
            Dismiss
          </button>
        </div>
      )}
      {loginError !== null && (
        <div role="alert" className="banner banner-error">
          <p>
            {loginErrorMessage(loginError)}
            <Reference id={loginReference} />
            {failedServer && (
              <>
                {' '}
                <Link to={connectionPath(failedServer)}>What happened?</Link>
              </>
            )}
          </p>
          <button type="button" className="button-secondary" onClick={dismissLoginError}>
            Dismiss
          </button>
        </div>
      )}
      {problems.map((problem) => (
        <ProblemBanner key={problem.server} problem={problem} />
      ))}
    </div>
  );
}

function ProblemBanner({ problem }: { problem: SessionProblem }) {
  const location = useLocation();
  const { error, server } = problem;
  if (error.code === 'login_required') {
    return (
      <div role="alert" className="banner banner-warning">
        <p>Your session has ended.</p>
        <a className="button" href={bffLoginHref(error.loginUrl, server, location)}>
          Reconnect
        </a>
      </div>
    );
  }
  if (error.code === 'insufficient_scope') {
    return (
      <div role="alert" className="banner banner-warning">
        <p>More permission is needed for this action.</p>
        <a className="button" href={bffLoginHref(error.loginUrl, server, location)}>
          Grant access
        </a>
      </div>
    );
  }
  return (
    <div role="alert" className="banner banner-error">
      <p>
        {bffErrorMessage(error)}
        <Reference id={error.requestId} />
      </p>
    </div>
  );
}
