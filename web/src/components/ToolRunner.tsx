import type { Progress } from '@modelcontextprotocol/client';
import { useEffect, useId, useMemo, useState } from 'react';
import type { Tool } from '../calls';
import { useToolDraft } from '../drafts';
import { fieldsOf } from '../schemaForm';
import { startCall } from '../runCall';
import { cancelCall, DEFAULT_TIMEOUT_SECONDS, markSeen, useLatestCall } from '../toolCalls';
import { ArgumentsForm } from './ArgumentsForm';
import { CallError } from './CallError';
import { ToolResult } from './ToolResult';

/** The longest time limit one can set, in seconds (an hour). */
const MAX_TIMEOUT_SECONDS = 3600;

/** Time limits chosen on this page, per tool, for the tab's life. */
const chosenTimeouts = new Map<string, number>();

/**
 * The form for a tool's arguments, the call with progress and cancel, and its outcome. The call
 * belongs to the tab, not the page (toolCalls.ts): leaving the page does not cancel it, and coming
 * back shows it, running or finished.
 */
export function ToolRunner({ server, tool }: { server: string; tool: Tool }) {
  const fields = useMemo(() => fieldsOf(tool.inputSchema), [tool.inputSchema]);
  const call = useLatestCall(server, tool.name);
  const timeoutKey = `${server}\n${tool.name}`;
  const [timeout, setTimeoutText] = useState(String(chosenTimeouts.get(timeoutKey) ?? DEFAULT_TIMEOUT_SECONDS));
  const [timeoutError, setTimeoutError] = useState<string>();
  const timeoutId = useId();
  const draftKey = useToolDraft(server, tool.name, call?.state.phase === 'done' && !call.state.result.isError ? call.startedAt : undefined);

  // An outcome shown here has been seen: the tray stops pointing at it.
  useEffect(() => {
    if (call && call.state.phase !== 'running') markSeen(call.id);
  }, [call]);

  function run(args: Record<string, unknown>) {
    const seconds = Number(timeout);
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_TIMEOUT_SECONDS) {
      setTimeoutError(`Enter a whole number of seconds from 1 to ${MAX_TIMEOUT_SECONDS}.`);
      return;
    }
    setTimeoutError(undefined);
    chosenTimeouts.set(timeoutKey, seconds);
    startCall(server, tool, args, seconds);
  }

  const state = call?.state;
  const running = state?.phase === 'running';
  return (
    <>
      <ArgumentsForm fields={fields} schema={tool.inputSchema} submitLabel="Run" busy={running} emptyText="This tool takes no arguments." onSubmit={run} draftKey={draftKey}>
        {running && call && (
          <button type="button" className="button-secondary" onClick={() => cancelCall(call.id)}>
            Cancel
          </button>
        )}
      </ArgumentsForm>
      <div className="field timeout-field">
        <label htmlFor={timeoutId}>Time limit (seconds without progress)</label>
        <input
          id={timeoutId}
          type="text"
          inputMode="numeric"
          value={timeout}
          aria-invalid={timeoutError ? true : undefined}
          aria-describedby={`${timeoutId}-hint`}
          onChange={(e) => setTimeoutText(e.target.value)}
        />
        <p id={`${timeoutId}-hint`} className="muted hint">
          Progress from the server starts it over; it waits while the server is asking you something.
        </p>
        {timeoutError && (
          <p role="alert" className="error">
            {timeoutError}
          </p>
        )}
      </div>
      {/* Always in the page, so screen readers announce each change: how a call ended, not only errors. */}
      <p role="status" className="visually-hidden">
        {state?.phase === 'done'
          ? state.result.isError
            ? 'The call finished with an error.'
            : 'The call finished.'
          : state?.phase === 'failed'
            ? 'The call failed.'
            : state?.phase === 'timed_out'
              ? 'The call timed out.'
              : ''}
      </p>
      {state?.phase === 'running' && <RunProgress progress={state.progress} />}
      {state?.phase === 'cancelled' && (
        <p role="status" className="muted">
          Cancelled.
        </p>
      )}
      {state?.phase === 'timed_out' && (
        <p role="alert" className="error">
          The call was stopped: nothing happened for {state.seconds} seconds. Raise the time limit to give it longer.
        </p>
      )}
      {state?.phase === 'failed' && <CallError error={state.error} />}
      {state?.phase === 'done' && <ToolResult server={server} tool={tool} result={state.result} />}
    </>
  );
}

function RunProgress({ progress }: { progress: Progress | undefined }) {
  const total = progress?.total;
  // Without a total the bar stays indeterminate and the count alone says how far it got.
  const bar =
    progress !== undefined && total !== undefined && total > 0 ? (
      <progress aria-label="Progress" max={total} value={Math.min(progress.progress, total)} />
    ) : (
      <progress aria-label="Progress" />
    );
  return (
    <div className="progress" role="status">
      {bar}
      <span className="progress-text">
        {progress === undefined
          ? 'Running…'
          : total !== undefined
            ? `${progress.progress} / ${total}`
            : `${progress.progress}`}
      </span>
      {progress?.message && <span className="muted">{progress.message}</span>}
    </div>
  );
}
