/**
 * Task-based tool calls (MCP 2025-11-25, "Tasks"): the client sends `tools/call` with a `task`
 * field, the server answers at once with a task (`CreateTaskResult`), the client polls `tasks/get`
 * at the server's `pollInterval` (and listens to `notifications/tasks/status` when the server sends
 * them) until the task ends, then fetches its result with `tasks/result` — the `CallToolResult` the
 * call would have returned. `tasks/cancel` stops it. While a task is `input_required` the server's
 * questions (elicitation, sampling) arrive on the `tasks/result` stream, so that request is opened
 * as soon as the task asks, and answered through the same input handlers as any other request.
 *
 * This client is a requestor only: it never runs tasks for a server, so it declares no `tasks`
 * capability of its own. In 2026-07-28 tasks left the core protocol for an extension
 * (`io.modelcontextprotocol/tasks`, SEP-2663) that the SDK does not implement and this client does
 * not declare, so a modern connection never runs a tool as a task (its tools carry no
 * `execution.taskSupport`, its capabilities no `tasks`).
 *
 * No React, no DOM: the tests drive it against the reference server in Node.
 */
import { type CallToolResult, isCallToolResult, type Progress, ProtocolError, type ServerCapabilities, type Tool } from '@modelcontextprotocol/client';
import { CfWorkerJsonSchemaValidator } from '@modelcontextprotocol/client/validators/cf-worker';
import { z } from 'zod';
import type { McpClient } from './mcp-connect';

export const TASK_STATUSES = ['working', 'input_required', 'completed', 'failed', 'cancelled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

const TaskSchema = z.looseObject({
  taskId: z.string().min(1),
  status: z.enum(TASK_STATUSES),
  statusMessage: z.string().optional(),
  pollInterval: z.number().optional(),
  ttl: z.number().nullable().optional(),
  createdAt: z.string().optional(),
  lastUpdatedAt: z.string().optional(),
});
const CreateTaskResultSchema = z.looseObject({ task: TaskSchema });
/** tasks/result answers with the underlying request's result: for tools/call, a CallToolResult. */
const TaskPayloadSchema = z.looseObject({});

/** What the page shows of a task. */
export interface TaskView {
  taskId: string;
  status: TaskStatus;
  statusMessage?: string | undefined;
}

export function isTerminal(status: TaskStatus): boolean {
  return status === 'completed' || status === 'failed' || status === 'cancelled';
}

/**
 * How a tool may be called on this server: 'plain' (never as a task), 'optional' (the person
 * chooses), 'task' (only as a task), or 'impossible' (the tool requires a task but the server does
 * not declare task-augmented tools/call, so the client must not send one).
 */
export type TaskUse = 'plain' | 'optional' | 'task' | 'impossible';

export function taskUse(tool: Tool, capabilities: ServerCapabilities | undefined): TaskUse {
  const declared = tool.execution?.taskSupport ?? 'forbidden';
  if (declared === 'forbidden') return 'plain';
  const serverRunsTasks = capabilities?.tasks?.requests?.tools?.call !== undefined;
  if (!serverRunsTasks) return declared === 'required' ? 'impossible' : 'plain';
  return declared === 'required' ? 'task' : 'optional';
}

/** Poll no faster than this, whatever the server suggests, and no slower than the other bound. */
export const MIN_POLL_MS = 250;
export const MAX_POLL_MS = 30_000;
const DEFAULT_POLL_MS = 1000;

export function pollDelay(pollInterval: number | undefined): number {
  if (pollInterval === undefined || !Number.isFinite(pollInterval)) return DEFAULT_POLL_MS;
  return Math.min(MAX_POLL_MS, Math.max(MIN_POLL_MS, pollInterval));
}

/** The task ended `failed`; `cause` is what tasks/result answered, if it answered with an error. */
export class TaskFailedError extends Error {
  override readonly name = 'TaskFailedError';
  constructor(
    readonly task: TaskView,
    options?: ErrorOptions,
  ) {
    const detail = task.statusMessage ?? (options?.cause instanceof Error ? options.cause.message : undefined);
    super(detail ? `The task failed: ${detail}` : 'The task failed.', options);
  }
}

/** The server cancelled the task (not the person: that is an abort). */
export class TaskCancelledError extends Error {
  override readonly name = 'TaskCancelledError';
  constructor(readonly task: TaskView) {
    super(task.statusMessage ? `The server cancelled the task: ${task.statusMessage}` : 'The server cancelled the task.');
  }
}

/** The server answered a task request (tasks/get, tasks/result) with a JSON-RPC error. */
export class TaskRequestError extends Error {
  override readonly name = 'TaskRequestError';
  constructor(
    readonly method: string,
    cause: ProtocolError,
  ) {
    super(`${method} failed: ${cause.message}`, { cause });
  }
}

/** Status notifications from each server's connection (mcp.ts routes them here), by task id. */
const statusListeners = new Map<string, Set<(task: TaskView) => void>>();

/** mcp.ts: a `notifications/tasks/status` arrived from `server`. Malformed ones are ignored. */
export function noteTaskStatus(server: string, params: unknown): void {
  const parsed = TaskSchema.safeParse(params);
  if (!parsed.success) return;
  for (const listener of statusListeners.get(`${server}\n${parsed.data.taskId}`) ?? []) listener(view(parsed.data));
}

function onTaskStatus(server: string, taskId: string, listener: (task: TaskView) => void): () => void {
  const key = `${server}\n${taskId}`;
  let set = statusListeners.get(key);
  if (!set) {
    set = new Set();
    statusListeners.set(key, set);
  }
  set.add(listener);
  return () => {
    set.delete(listener);
    if (set.size === 0) statusListeners.delete(key);
  };
}

function view(task: z.infer<typeof TaskSchema>): TaskView {
  return { taskId: task.taskId, status: task.status, statusMessage: task.statusMessage };
}

export interface RunTaskOptions {
  /** Which server (for its status notifications). */
  server: string;
  tool: Tool;
  arguments: Record<string, unknown>;
  /** Cancel (the person) or the time limit: the task is cancelled on the server too (tasks/cancel). */
  signal: AbortSignal;
  /** Every state of the task seen: created, polled, notified, cancelled. */
  onTask: (task: TaskView) => void;
  /** Progress notifications for the creating request. */
  onprogress?: (progress: Progress) => void;
}

/** Requests that may block a long time (tasks/result) are bounded by the caller's signal, not by the SDK. */
const NO_SDK_TIMEOUT = 24 * 3600 * 1000;
/** tasks/cancel after the person gave up gets this long. */
const CANCEL_TIMEOUT_MS = 10_000;

/**
 * Runs `tool` as a task to its end and returns its result, as a plain call would. Throws
 * TaskFailedError / TaskCancelledError for a task that ended so, TaskRequestError when the server
 * refused a task request, and the signal's reason when it fired (after asking the server to cancel
 * the task).
 */
export async function runToolTask(client: McpClient, options: RunTaskOptions): Promise<CallToolResult> {
  const { signal, onTask } = options;
  const created = await client.request(
    { method: 'tools/call', params: { name: options.tool.name, arguments: options.arguments, task: {} } },
    CreateTaskResultSchema,
    { signal, timeout: NO_SDK_TIMEOUT, ...(options.onprogress ? { onprogress: options.onprogress } : {}) },
  );
  let task = created.task;
  const taskId = task.taskId;
  onTask(view(task));

  // Wakes the wait between polls early: a status notification, or the result arriving.
  let wake: (() => void) | undefined;
  let notified: TaskView | undefined;
  const unlisten = onTaskStatus(options.server, taskId, (update) => {
    notified = update;
    onTask(update);
    wake?.();
  });

  // tasks/result, once open: it blocks until the task ends, and carries the server's questions.
  let payload: Promise<CallToolResult> | undefined;
  let payloadSettled = false;
  const openPayload = () => {
    const opened = fetchPayload(client, taskId, options.tool, signal);
    payload = opened;
    payloadSettled = false;
    opened.then(
      () => {
        if (payload === opened) payloadSettled = true;
        wake?.();
      },
      () => {
        // A failed tasks/result before the end (the stream broke) is opened again at the next
        // poll that finds the task asking; a failed task's error is read again by finish().
        if (payload === opened) payload = undefined;
      },
    );
    return opened;
  };

  try {
    while (!isTerminal(task.status)) {
      if (task.status === 'input_required' && !payload) void openPayload();
      // A notification or the result that came while a request was in flight is not waited for again.
      if (!notified && !(payload && payloadSettled)) {
        await waitForNext(pollDelay(task.pollInterval), signal, (resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
      signal.throwIfAborted();
      if (payload && payloadSettled) {
        // The result came first, so the task has ended (tasks/result answers only then): one more
        // look says how; a server that already forgot the task ended it well.
        task = await request(client, 'tasks/get', taskId, TaskSchema, signal).catch(() => ({ ...task, status: 'completed' as const }));
        onTask(view(task));
        break;
      }
      if (notified) {
        // A status notification carries the whole task: no need to ask.
        task = { ...task, ...notified };
        notified = undefined;
        continue;
      }
      task = await request(client, 'tasks/get', taskId, TaskSchema, signal);
      onTask(view(task));
    }
    return await finish(task, () => payload ?? openPayload());
  } catch (error) {
    if (signal.aborted) {
      const cancelled = await cancelTask(client, taskId);
      if (cancelled) onTask(cancelled);
      // Whichever request was in flight, the reason is the person's or the time limit's.
      throw signal.reason;
    }
    throw error;
  } finally {
    unlisten();
  }
}

/** The end of a task: its result, or why there is none. */
async function finish(task: z.infer<typeof TaskSchema>, payload: () => Promise<CallToolResult>): Promise<CallToolResult> {
  const ended = view(task);
  // A cancelled task has no result to fetch.
  if (task.status === 'cancelled') throw new TaskCancelledError(ended);
  if (task.status === 'completed') return payload();
  // failed: the tool's own result when it has one (an isError result), else the error it ended with.
  try {
    return await payload();
  } catch (error) {
    throw new TaskFailedError(ended, { cause: error });
  }
}

async function fetchPayload(client: McpClient, taskId: string, tool: Tool, signal: AbortSignal): Promise<CallToolResult> {
  const raw = await request(client, 'tasks/result', taskId, TaskPayloadSchema, signal);
  const result = { content: [], ...raw };
  if (!isCallToolResult(result)) throw new Error('tasks/result did not answer with a tool result.');
  checkOutput(tool, result);
  return result;
}

/** What callTool does for a plain call: structured content is checked against the tool's output schema. */
function checkOutput(tool: Tool, result: CallToolResult): void {
  if (!tool.outputSchema || result.isError) return;
  if (result.structuredContent === undefined) throw new Error(`Tool ${tool.name} has an output schema but did not return structured content.`);
  const validate = new CfWorkerJsonSchemaValidator().getValidator(tool.outputSchema);
  const checked = validate(result.structuredContent);
  if (!checked.valid) throw new Error(`Structured content does not match the tool's output schema: ${checked.errorMessage}`);
}

async function request<T extends z.ZodType>(client: McpClient, method: string, taskId: string, schema: T, signal: AbortSignal): Promise<z.infer<T>> {
  try {
    // The SDK infers through Standard Schema, which zod cannot see through here: same type.
    return (await client.request({ method, params: { taskId } }, schema, { signal, timeout: NO_SDK_TIMEOUT })) as z.infer<T>;
  } catch (error) {
    // The server's own refusal says which step failed; transport and session problems pass as they are.
    if (error instanceof ProtocolError && !signal.aborted) throw new TaskRequestError(method, error);
    throw error;
  }
}

/** Best effort: the task may have ended meanwhile (the server then refuses), or the server be gone. */
async function cancelTask(client: McpClient, taskId: string): Promise<TaskView | undefined> {
  try {
    const answer = await client.request({ method: 'tasks/cancel', params: { taskId } }, TaskSchema, { timeout: CANCEL_TIMEOUT_MS });
    return view(answer);
  } catch {
    return undefined;
  }
}

/** Waits `ms`, or until woken, or rejects when `signal` fires. */
function waitForNext(ms: number, signal: AbortSignal, setWake: (wake: () => void) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', aborted);
      resolve();
    };
    const aborted = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', aborted, { once: true });
    setWake(done);
  });
}
