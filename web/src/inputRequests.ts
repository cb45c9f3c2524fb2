/**
 * What servers are asking the person, waiting for an answer: elicitation (a form, or a URL to open)
 * and sampling (a reply the person writes; no model is involved). The MCP connection (mcp.ts) adds
 * requests here from either protocol era; the InputRequestDialog shows the oldest one and settles it.
 * A tiny external store, so code outside React can wait on the person.
 */
import type {
  CreateMessageRequestParams,
  CreateMessageResult,
  ElicitRequestFormParams,
  ElicitRequestURLParams,
  ElicitResult,
} from '@modelcontextprotocol/client';
import { useSyncExternalStore } from 'react';
import type { InputHandlers } from './mcp-connect';

export type PendingInput =
  | { id: number; server: string; kind: 'form'; params: ElicitRequestFormParams; settle: (result: ElicitResult) => void }
  | { id: number; server: string; kind: 'url'; params: ElicitRequestURLParams; settle: (result: ElicitResult) => void }
  | { id: number; server: string; kind: 'sampling'; params: CreateMessageRequestParams; settle: (result: CreateMessageResult | undefined) => void };

/** At most this many requests wait at once per server; more are declined (a server flooding the person). */
const MAX_PENDING_PER_SERVER = 8;

let nextId = 1;
let pending: readonly PendingInput[] = [];
const listeners = new Set<() => void>();

function emit(next: readonly PendingInput[]): void {
  pending = next;
  for (const listener of listeners) listener();
}

function remove(id: number): void {
  if (pending.some((p) => p.id === id)) emit(pending.filter((p) => p.id !== id));
}

export class InputDeclinedError extends Error {
  override readonly name = 'InputDeclinedError';
}

/**
 * Queues a request for the person and resolves with their answer. Aborting (the call was cancelled,
 * the server gave up, the person disconnected) takes it off the screen and rejects.
 */
function ask<T>(server: string, signal: AbortSignal, make: (id: number, settle: (value: T) => void) => PendingInput): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  if (pending.filter((p) => p.server === server).length >= MAX_PENDING_PER_SERVER) {
    return Promise.reject(new InputDeclinedError('Too many requests for input from this server at once.'));
  }
  return new Promise<T>((resolve, reject) => {
    const id = nextId++;
    const onAbort = () => {
      remove(id);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const settle = (value: T) => {
      signal.removeEventListener('abort', onAbort);
      remove(id);
      resolve(value);
    };
    emit([...pending, make(id, settle)]);
  });
}

/** The input handlers for one server: every request goes to the person. */
export function personFor(server: string): InputHandlers {
  return {
    elicit(params, signal) {
      if (params.mode === 'url') {
        return ask<ElicitResult>(server, signal, (id, settle) => ({ id, server, kind: 'url', params, settle }));
      }
      return ask<ElicitResult>(server, signal, (id, settle) => ({ id, server, kind: 'form', params, settle }));
    },
    async sample(params, signal) {
      const reply = await ask<CreateMessageResult | undefined>(server, signal, (id, settle) => ({
        id,
        server,
        kind: 'sampling',
        params,
        settle,
      }));
      // Sampling has no "decline" result: the spec's answer to a refused request is an error.
      if (!reply) throw new InputDeclinedError('The person declined to write a reply.');
      return reply;
    },
  };
}

/** Declines everything a server is still waiting for (its connection is going away). */
export function dropPendingInput(server?: string): void {
  for (const p of pending) {
    if (server !== undefined && p.server !== server) continue;
    if (p.kind === 'sampling') p.settle(undefined);
    else p.settle({ action: 'cancel' });
  }
}

/**
 * Calls `onChange(waiting)` now and whenever it changes whether `server` is waiting for the person;
 * returns the way to stop.
 */
export function watchPendingInput(server: string, onChange: (waiting: boolean) => void): () => void {
  let waiting = pending.some((p) => p.server === server);
  onChange(waiting);
  const listener = () => {
    const now = pending.some((p) => p.server === server);
    if (now !== waiting) {
      waiting = now;
      onChange(now);
    }
  };
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function usePendingInput(): readonly PendingInput[] {
  return useSyncExternalStore(subscribe, () => pending);
}
