/**
 * Tool calls that outlive the page they were started on: a call keeps running when the person moves
 * elsewhere in the app, and its outcome waits for them (the tool's page shows it again, the tray
 * lists it). One store for the tab; the calls of a server end with its connection.
 *
 * Each call has a timeout the person can change (default 60 s) that counts only the time nothing
 * happens: progress from the server starts it over, and it is paused while the server waits for the
 * person (a form, a page to open, a reply to write), so answering slowly never times a call out.
 * A call run as a task (toolTasks.ts) also keeps the task's latest status here; a change of status
 * counts as progress.
 */
import type { CallToolResult, Progress } from '@modelcontextprotocol/client';
import { useSyncExternalStore } from 'react';
import type { TaskView } from './toolTasks';

export const DEFAULT_TIMEOUT_SECONDS = 60;
/** Finished calls kept for the tray, oldest dropped first. */
const KEEP_FINISHED = 20;

export type CallState =
  | { phase: 'running'; progress: Progress | undefined }
  | { phase: 'done'; result: CallToolResult }
  | { phase: 'failed'; error: unknown }
  | { phase: 'cancelled' }
  | { phase: 'timed_out'; seconds: number };

export interface ToolCall {
  id: number;
  server: string;
  tool: string;
  startedAt: number;
  state: CallState;
  /** The person has seen how it ended (on the tool's page, or dismissed it in the tray). */
  seen: boolean;
  /** A call run as a task (2025-11-25 tasks): the task's latest state, once the server created it. */
  asTask?: boolean;
  task?: TaskView | undefined;
}

let nextId = 1;
let calls: readonly ToolCall[] = [];
const controllers = new Map<number, AbortController>();
const listeners = new Set<() => void>();

/** Records a new call (for runCall.ts, which runs it). */
export function addCall(call: ToolCall, controller: AbortController): void {
  controllers.set(call.id, controller);
  calls = [...calls, call];
  for (const listener of listeners) listener();
}

export function newCallId(): number {
  return nextId++;
}

/** The call ended: nothing left to cancel. */
export function callEnded(id: number): void {
  controllers.delete(id);
}

export function updateCall(id: number, change: Partial<ToolCall>): void {
  calls = calls.map((c) => (c.id === id ? { ...c, ...change } : c));
  const finished = calls.filter((c) => c.state.phase !== 'running');
  if (finished.length > KEEP_FINISHED) {
    const drop = new Set(finished.slice(0, finished.length - KEEP_FINISHED).map((c) => c.id));
    calls = calls.filter((c) => !drop.has(c.id));
  }
  for (const listener of listeners) listener();
}

export function cancelCall(id: number): void {
  controllers.get(id)?.abort();
}

export function markSeen(id: number): void {
  if (calls.some((c) => c.id === id && !c.seen)) updateCall(id, { seen: true });
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function useToolCalls(): readonly ToolCall[] {
  return useSyncExternalStore(subscribe, () => calls);
}

/** The newest call of one tool on one server, for its page. */
export function useLatestCall(server: string, tool: string): ToolCall | undefined {
  return useSyncExternalStore(subscribe, () => {
    for (let i = calls.length - 1; i >= 0; i--) {
      const c = calls[i];
      if (c && c.server === server && c.tool === tool) return c;
    }
    return undefined;
  });
}

