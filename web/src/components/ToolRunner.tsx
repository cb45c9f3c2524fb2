import type { Progress } from '@modelcontextprotocol/sdk/types.js';
import { type FormEvent, useEffect, useMemo, useRef, useState } from 'react';
import { BffError, bffErrorMessage } from '../bff';
import type { CallToolResult, Tool } from '../calls';
import { withClient } from '../mcp';
import { type FieldValue, fieldsOf, initialValues, toArguments } from '../schemaForm';
import { SchemaField } from './SchemaField';
import { ToolResult } from './ToolResult';

type RunState =
  | { phase: 'idle' }
  | { phase: 'running'; progress: Progress | undefined }
  | { phase: 'done'; result: CallToolResult }
  | { phase: 'failed'; error: unknown }
  | { phase: 'cancelled' };

/** The form for a tool's arguments, the call with progress and cancel, and its outcome. */
export function ToolRunner({ server, tool }: { server: string; tool: Tool }) {
  const fields = useMemo(() => fieldsOf(tool.inputSchema), [tool.inputSchema]);
  const [values, setValues] = useState(() => initialValues(fields));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [run, setRun] = useState<RunState>({ phase: 'idle' });
  const abortRef = useRef<AbortController | null>(null);
  const formRef = useRef<HTMLFormElement>(null);

  // Leaving the page cancels a call still running.
  useEffect(() => () => abortRef.current?.abort(), []);

  function setValue(name: string, value: FieldValue) {
    setValues((previous) => ({ ...previous, [name]: value }));
    setErrors((previous) => {
      if (!(name in previous)) return previous;
      const { [name]: _removed, ...rest } = previous;
      return rest;
    });
  }

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (run.phase === 'running') return;
    const checked = toArguments(fields, values);
    if (!checked.ok) {
      setErrors(checked.errors);
      const first = fields.find((field) => field.name in checked.errors);
      if (first) {
        const element = formRef.current?.elements.namedItem(first.name);
        if (element instanceof HTMLElement) element.focus();
      }
      return;
    }
    setErrors({});
    const controller = new AbortController();
    abortRef.current = controller;
    setRun({ phase: 'running', progress: undefined });
    try {
      const result = await withClient(server, (client) =>
        client.callTool({ name: tool.name, arguments: checked.arguments }, undefined, {
          signal: controller.signal,
          onprogress: (progress) => {
            if (!controller.signal.aborted) setRun({ phase: 'running', progress });
          },
          resetTimeoutOnProgress: true,
        }),
      );
      if (!controller.signal.aborted) setRun({ phase: 'done', result: result as CallToolResult });
    } catch (error) {
      setRun(controller.signal.aborted ? { phase: 'cancelled' } : { phase: 'failed', error });
    } finally {
      if (abortRef.current === controller) abortRef.current = null;
    }
  }

  function cancel() {
    abortRef.current?.abort();
  }

  const running = run.phase === 'running';
  return (
    <>
      <form ref={formRef} className="tool-form" noValidate onSubmit={onSubmit}>
        {fields.length === 0 && <p className="muted">This tool takes no arguments.</p>}
        {fields.map((field) => (
          <SchemaField
            key={field.name}
            field={field}
            value={values[field.name]}
            error={errors[field.name]}
            onChange={(value) => setValue(field.name, value)}
          />
        ))}
        <div className="actions">
          <button type="submit" disabled={running}>
            Run
          </button>
          {running && (
            <button type="button" className="button-secondary" onClick={cancel}>
              Cancel
            </button>
          )}
        </div>
      </form>
      {run.phase === 'running' && <RunProgress progress={run.progress} />}
      {run.phase === 'cancelled' && (
        <p role="status" className="muted">
          Cancelled.
        </p>
      )}
      {run.phase === 'failed' && <RunError error={run.error} />}
      {run.phase === 'done' && <ToolResult result={run.result} />}
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
    <div className="progress">
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

function RunError({ error }: { error: unknown }) {
  // Session-level problems are explained, with a way to fix them, by the banner.
  if (error instanceof BffError && error.isSessionProblem) {
    return <p className="error">The tool could not be called; see the message at the top of the page.</p>;
  }
  const message =
    error instanceof BffError
      ? bffErrorMessage(error)
      : error instanceof TypeError
        ? 'The server could not be reached. Check your connection and try again.'
        : error instanceof Error
          ? error.message
          : 'The call failed.';
  return (
    <div role="alert" className="result-error">
      <p>The call failed: {message}</p>
    </div>
  );
}
