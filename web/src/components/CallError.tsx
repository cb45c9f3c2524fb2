import { BffError, bffErrorMessage } from '../bff';
import { Reference } from './Reference';

/** A failed MCP request, next to what failed; session-level problems point at the banner. */
export function CallError({ error, what = 'The call' }: { error: unknown; what?: string }) {
  // Session-level problems are explained, with a way to fix them, by the banner.
  if (error instanceof BffError && error.isSessionProblem) {
    return <p className="error">{what} could not be made; see the message at the top of the page.</p>;
  }
  const message =
    error instanceof BffError
      ? bffErrorMessage(error)
      : error instanceof TypeError
        ? 'The server could not be reached. Check your connection and try again.'
        : error instanceof Error
          ? error.message
          : 'Unknown error.';
  return (
    <div role="alert" className="result-error">
      <p>
        {what} failed: {message}
        {error instanceof BffError && <Reference id={error.requestId} />}
      </p>
    </div>
  );
}
