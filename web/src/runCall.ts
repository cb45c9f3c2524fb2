/**
 * Runs a tool call for the tab (toolCalls.ts keeps its state): it goes on when the person leaves the
 * page, and it is stopped by the person (Cancel) or by its time limit, which counts only the time
 * nothing happens — progress starts it over, and it waits while the server is asking the person.
 * A tool run as a task (toolTasks.ts) is the same for the person: its status changes count as
 * progress, and Cancel or the time limit cancel the task on the server too (tasks/cancel).
 */
import type { CallToolResult, Progress, Tool } from '@modelcontextprotocol/client';
import { watchPendingInput } from './inputRequests';
import { withClient } from './mcp';
import { addCall, callEnded, DEFAULT_TIMEOUT_SECONDS, newCallId, updateCall } from './toolCalls';
import { runToolTask, type TaskView } from './toolTasks';

/**
 * A timer that fires after `seconds` without activity; `touch` starts it over, `pause`/`resume` stop
 * and restart it (while the person is being asked something).
 */
function inactivityTimer(seconds: number, onTimeout: () => void) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let paused = false;
  const start = () => {
    clearTimeout(timer);
    if (!paused) timer = setTimeout(onTimeout, seconds * 1000);
  };
  start();
  return {
    touch: start,
    pause() {
      paused = true;
      clearTimeout(timer);
    },
    resume() {
      paused = false;
      start();
    },
    stop: () => clearTimeout(timer),
  };
}

export interface StartOptions {
  timeoutSeconds?: number;
  /** Run it as a task (toolTasks.ts): only for a tool and server that allow it. */
  asTask?: boolean;
}

/** Starts a call; it runs until it ends, is cancelled, or times out, wherever the person goes meanwhile. */
export function startCall(server: string, tool: Tool, args: Record<string, unknown>, options: StartOptions = {}): number {
  const { timeoutSeconds = DEFAULT_TIMEOUT_SECONDS, asTask = false } = options;
  const id = newCallId();
  const controller = new AbortController();
  addCall(
    { id, server, tool: tool.name, startedAt: Date.now(), state: { phase: 'running', progress: undefined }, seen: false, ...(asTask ? { asTask } : {}) },
    controller,
  );

  let timedOut = false;
  const timer = inactivityTimer(timeoutSeconds, () => {
    timedOut = true;
    controller.abort();
  });
  // The person answering the server is not inactivity.
  const unwatch = watchPendingInput(server, (waiting) => (waiting ? timer.pause() : timer.resume()));

  const onprogress = (progress: Progress) => {
    timer.touch();
    if (!controller.signal.aborted) updateCall(id, { state: { phase: 'running', progress } });
  };
  let lastTask: TaskView | undefined;
  const onTask = (task: TaskView) => {
    // A new status or status message is progress; the same answer polled again is not.
    const changed = task.status !== lastTask?.status || task.statusMessage !== lastTask?.statusMessage;
    if (changed && !controller.signal.aborted) timer.touch();
    lastTask = task;
    updateCall(id, { task });
  };

  void withClient(server, (client) =>
    asTask
      ? runToolTask(client, { server, tool, arguments: args, signal: controller.signal, onTask, onprogress })
      : client.callTool(
          { name: tool.name, arguments: args },
          {
            // The definition the form was drawn from: its x-mcp-header parameters are mirrored into
            // Mcp-Param-* headers (2026-07-28) and its outputSchema checks the result.
            toolDefinition: tool,
            signal: controller.signal,
            // The SDK's own timeout stays out of the way: the inactivity timer above is the one that counts.
            timeout: 24 * 3600 * 1000,
            onprogress,
          },
        ),
  )
    .then(
      (result) => {
        if (!controller.signal.aborted) updateCall(id, { state: { phase: 'done', result: result as CallToolResult } });
      },
      (error: unknown) => {
        updateCall(id, {
          state: timedOut ? { phase: 'timed_out', seconds: timeoutSeconds } : controller.signal.aborted ? { phase: 'cancelled' } : { phase: 'failed', error },
        });
      },
    )
    .finally(() => {
      timer.stop();
      unwatch();
      callEnded(id);
    });
  return id;
}
