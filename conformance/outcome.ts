/**
 * What the adapter reports about one scenario run, besides its exit code. The conformance runner only
 * keeps the client's stdout (stdout.txt in the results directory) and, in suite mode, drops the exit
 * code; so the adapter prints one marker line that run.ts reads back to check that the BFF did what
 * the scenario expects of a client (finished the calls, refused to log in, or stopped retrying).
 */

export type OutcomeKind =
  /** Every MCP call of the scenario's script succeeded. */
  | 'completed'
  /** GET /bff/login sent the browser straight back to the app with a login error: no authorization request. */
  | 'login_refused'
  /** The authorization server sent the browser back, but the BFF's callback ended in an error. */
  | 'login_failed'
  /** The BFF answered 403 insufficient_scope without a loginUrl: its step-up retry limit was reached. */
  | 'retry_limit'
  /** The BFF answered an MCP request with another error of its own (JSON `{ "error": ... }`). */
  | 'bff_error'
  /** Anything else: an MCP error, an exception in the adapter, a BFF that would not start. */
  | 'adapter_error';

export interface LoginRecord {
  /** The loginUrl the BFF handed out (a /bff/login path). */
  loginUrl: string;
  /** Where /bff/login redirected: the authorization request, or back to the app. */
  authorizationUrl?: string;
  /** The `scope` parameter of the authorization request, if any. */
  scope?: string;
  /** `login_error` when the BFF sent the browser back to the app instead. */
  loginError?: string;
  /** Where the callback finally sent the browser. */
  returnedTo?: string;
}

export interface Outcome {
  scenario: string;
  kind: OutcomeKind;
  detail: string;
  /** The MCP steps that succeeded, in order (initialize, tools/list, tools/call test-tool, ...). */
  steps: string[];
  logins: LoginRecord[];
}

export const OUTCOME_MARKER = 'CONFORMANCE-ADAPTER-OUTCOME ';

export function formatOutcome(outcome: Outcome): string {
  return `${OUTCOME_MARKER}${JSON.stringify(outcome)}`;
}

/** The last outcome line in a client's stdout, if any. */
export function parseOutcome(stdout: string): Outcome | undefined {
  const line = stdout
    .split('\n')
    .reverse()
    .find((l) => l.startsWith(OUTCOME_MARKER));
  if (!line) return undefined;
  try {
    return JSON.parse(line.slice(OUTCOME_MARKER.length)) as Outcome;
  } catch {
    return undefined;
  }
}
