import { LOGIN_ERROR_PARAM } from '@mcp-bff/shared';
import { Link, useLocation, useSearchParams } from 'react-router';
import { bffErrorMessage, loginErrorMessage } from '../bff';
import { type SessionProblem, useSessionProblems } from '../problems';
import { bffLoginHref, connectionPath } from '../urls';

/** The top-of-page messages: a failed login, and session-level problems reported by MCP calls. */
export function Banners() {
  const problems = useSessionProblems();
  const [searchParams, setSearchParams] = useSearchParams();
  const loginError = searchParams.get(LOGIN_ERROR_PARAM);
  // On a server's pages, its connection details say which step of the sign-in failed, and why.
  const failedServer = /^\/servers\/([^/]+)/.exec(useLocation().pathname)?.[1];

  function dismissLoginError() {
    setSearchParams(
      (params) => {
        params.delete(LOGIN_ERROR_PARAM);
        return params;
      },
      { replace: true },
    );
  }

  if (loginError === null && problems.length === 0) return null;
  return (
    <div className="banners">
      {loginError !== null && (
        <div role="alert" className="banner banner-error">
          <p>
            {loginErrorMessage(loginError)}
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
      <p>{bffErrorMessage(error)}</p>
    </div>
  );
}
