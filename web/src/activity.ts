/**
 * What each server said on its own: log messages, resource updates, list changes and any other
 * notification, newest last, a bounded number per server. A tiny external store for the Log page.
 */
import { useSyncExternalStore } from 'react';

export type LogLevel = 'debug' | 'info' | 'notice' | 'warning' | 'error' | 'critical' | 'alert' | 'emergency';

export interface ActivityEntry {
  id: number;
  /** Epoch milliseconds, when the browser received it. */
  time: number;
  /** The notification's method, e.g. notifications/message. */
  method: string;
  /** For log messages. */
  level?: LogLevel | undefined;
  logger?: string | undefined;
  /** What it says, as text (JSON for structured data). */
  text: string;
}

const LIMIT = 500;
let nextId = 1;
const entries = new Map<string, readonly ActivityEntry[]>();
const listeners = new Set<() => void>();
const empty: readonly ActivityEntry[] = [];

export function recordActivity(server: string, entry: Omit<ActivityEntry, 'id' | 'time'>): void {
  const list = entries.get(server) ?? empty;
  const next = [...list, { ...entry, id: nextId++, time: Date.now() }];
  entries.set(server, next.length > LIMIT ? next.slice(next.length - LIMIT) : next);
  for (const listener of listeners) listener();
}

export function clearActivity(server: string): void {
  entries.delete(server);
  for (const listener of listeners) listener();
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function useActivity(server: string): readonly ActivityEntry[] {
  return useSyncExternalStore(subscribe, () => entries.get(server) ?? empty);
}

/** A notification's data as readable text. */
export function describeData(data: unknown): string {
  if (typeof data === 'string') return data;
  try {
    return JSON.stringify(data, null, 2) ?? String(data);
  } catch {
    return String(data);
  }
}
