/**
 * Session-level problems (login ended, more scope needed, authorization server down), one per
 * server, shown by the banner at the top of the layout. A tiny external store so that code outside
 * React (the MCP connection module, loaders) can report them.
 */
import { useSyncExternalStore } from 'react';
import type { BffError } from './bff';

export interface SessionProblem {
  server: string;
  error: BffError;
}

let problems: readonly SessionProblem[] = [];
const listeners = new Set<() => void>();

function emit(next: readonly SessionProblem[]): void {
  problems = next;
  for (const listener of listeners) listener();
}

export function reportProblem(server: string, error: BffError): void {
  emit([...problems.filter((p) => p.server !== server), { server, error }]);
}

export function clearProblem(server: string): void {
  if (problems.some((p) => p.server === server)) emit(problems.filter((p) => p.server !== server));
}

export function clearAllProblems(): void {
  if (problems.length > 0) emit([]);
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function useSessionProblems(): readonly SessionProblem[] {
  return useSyncExternalStore(subscribe, () => problems);
}
