import type { Progress } from '@modelcontextprotocol/client';
import { useEffect, useMemo, useRef, useState } from 'react';
import { type CallToolResult, PERSON_TIMEOUT_MS, type Tool } from '../calls';
import { withClient } from '../mcp';
import { fieldsOf } from '../schemaForm';
import { ArgumentsForm } from './ArgumentsForm';
import { CallError } from './CallError';
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
  const [run, setRun] = useState<RunState>({ phase: 'idle' });
  const abortRef = useRef<AbortController | null>(null);

  // Leaving the page cancels a call still running.
  useEffect(() => () => abortRef.current?.abort(), []);

  async function call(args: Record<string, unknown>) {
    const controller = new AbortController();
    abortRef.current = controller;
    setRun({ phase: 'running', progress: undefined });
    try {
      const result = await withClient(server, (client) =>
        client.callTool({ name: tool.name, arguments: args }, {
          // The definition the form was drawn from: its x-mcp-header parameters are mirrored into
          // Mcp-Param-* headers (2026-07-28) and its outputSchema checks the result.
          toolDefinition: tool,
          signal: controller.signal,
          timeout: PERSON_TIMEOUT_MS,
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

  const running = run.phase === 'running';
  return (
    <>
      <ArgumentsForm fields={fields} schema={tool.inputSchema} submitLabel="Run" busy={running} emptyText="This tool takes no arguments." onSubmit={call}>
        {running && (
          <button type="button" className="button-secondary" onClick={() => abortRef.current?.abort()}>
            Cancel
          </button>
        )}
      </ArgumentsForm>
      {/* Always in the page, so screen readers announce each change: how a call ended, not only errors. */}
      <p role="status" className="visually-hidden">
        {run.phase === 'done' ? (run.result.isError ? 'The call finished with an error.' : 'The call finished.') : run.phase === 'failed' ? 'The call failed.' : ''}
      </p>
      {run.phase === 'running' && <RunProgress progress={run.progress} />}
      {run.phase === 'cancelled' && (
        <p role="status" className="muted">
          Cancelled.
        </p>
      )}
      {run.phase === 'failed' && <CallError error={run.error} />}
      {run.phase === 'done' && <ToolResult server={server} tool={tool} result={run.result} />}
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
