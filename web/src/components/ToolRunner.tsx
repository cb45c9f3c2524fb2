import type { Progress } from '@modelcontextprotocol/client';
import { useEffect, useId, useMemo, useState } from 'react';
import type { Tool } from '../calls';
import { useToolDraft } from '../drafts';
import { fieldsOf } from '../schemaForm';
import { startCall } from '../runCall';
import { cancelCall, DEFAULT_TIMEOUT_SECONDS, markSeen, useLatestCall } from '../toolCalls';
import type { TaskStatus, TaskUse, TaskView } from '../toolTasks';
import { ArgumentsForm } from './ArgumentsForm';
import { CallError } from './CallError';
import { ToolResult } from './ToolResult';

/** The longest time limit one can set, in seconds (an hour). */
const MAX_TIMEOUT_SECONDS = 3600;

/** Time limits chosen on this page, per tool, for the tab's life. */
const chosenTimeouts = new Map<string, number>();

/** Tools run as a task on this page, per tool, for the tab's life (for tools where the person chooses). */
const chosenAsTask = new Set<string>();

const TASK_STATUS_TEXT: Record<TaskStatus, string> = {
  working: 'Working',
  input_required: 'Input required',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

/**
 * The form for a tool's arguments, the call with progress and cancel, and its outcome. The call
 * belongs to the tab, not the page (toolCalls.ts): leaving the page does not cancel it, and coming
 * back shows it, running or finished. A tool that requires a task always runs as one; for a tool
 * that allows it the person chooses (plain by default); the task's status shows while it runs.
 */
export function ToolRunner({ server, tool, taskMode = 'plain' }: { server: string; tool: Tool; taskMode?: TaskUse }) {
  const fields = useMemo(() => fieldsOf(tool.inputSchema), [tool.inputSchema]);
  const call = useLatestCall(server, tool.name);
  const timeoutKey = `${server}\n${tool.name}`;
  const [timeout, setTimeoutText] = useState(String(chosenTimeouts.get(timeoutKey) ?? DEFAULT_TIMEOUT_SECONDS));
  const [timeoutError, setTimeoutError] = useState<string>();
  const timeoutId = useId();
  const [asTaskChosen, setAsTaskChosen] = useState(chosenAsTask.has(timeoutKey));
  const asTaskId = useId();
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
    startCall(server, tool, args, { timeoutSeconds: seconds, asTask: taskMode === 'task' || (taskMode === 'optional' && asTaskChosen) });
  }

  const state = call?.state;
  const running = state?.phase === 'running';
  return (
    <>
      {taskMode === 'task' && (
        <p className="muted">
          This tool runs as a task: the server works on it in the background, and this page follows its status until the result is ready.
        </p>
      )}
      {taskMode === 'impossible' && (
        <p className="error">This tool runs only as a task, but the server does not declare task support for tool calls, so it cannot be run.</p>
      )}
      <ArgumentsForm
        fields={fields}
        schema={tool.inputSchema}
        submitLabel="Run"
        busy={running || taskMode === 'impossible'}
        emptyText="This tool takes no arguments."
        onSubmit={run}
        draftKey={draftKey}
      >
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
          Progress from the server starts it over (for a task, a change of its status); it waits while the server is asking you something.
        </p>
        {timeoutError && (
          <p role="alert" className="error">
            {timeoutError}
          </p>
        )}
      </div>
      {taskMode === 'optional' && (
        <div className="field field-checkbox">
          <input
            id={asTaskId}
            type="checkbox"
            checked={asTaskChosen}
            aria-describedby={`${asTaskId}-hint`}
            onChange={(e) => {
              setAsTaskChosen(e.target.checked);
              if (e.target.checked) chosenAsTask.add(timeoutKey);
              else chosenAsTask.delete(timeoutKey);
            }}
          />
          <label htmlFor={asTaskId}>Run as a task</label>
          <p id={`${asTaskId}-hint`} className="hint">
            The server works on it in the background; this page follows its status and fetches the result.
          </p>
        </div>
      )}
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
      {call?.task && <TaskStatusLine task={call.task} />}
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

/** The task's latest status and status message, as the server last said them. */
function TaskStatusLine({ task }: { task: TaskView }) {
  return (
    <div className="task-status" role="status" aria-label="Task status">
      <span className={`badge task-${task.status}`}>{TASK_STATUS_TEXT[task.status]}</span>
      {task.statusMessage && <span>{task.statusMessage}</span>}
      <span className="muted task-id">Task {task.taskId}</span>
    </div>
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
