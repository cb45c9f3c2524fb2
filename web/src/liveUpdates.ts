/**
 * The resources the person subscribed to, per server, until they stop them or the server's connection
 * is ended (log out, disconnect): subscriptions outlive the resource's page, and the tray lists them.
 * Kept apart from mcp.ts (which does the subscribing) so that the layout does not pull the MCP SDK
 * into the entry chunk.
 */
import { useSyncExternalStore } from 'react';

export interface LiveSubscription {
  server: string;
  uri: string;
  /** When the person subscribed (ms since the epoch). */
  since: number;
  /** The last `notifications/resources/updated` for it, and how many have come. */
  updatedAt?: number;
  updates: number;
}

const byServer = new Map<string, Map<string, LiveSubscription>>();
const listeners = new Set<() => void>();
let snapshot: readonly LiveSubscription[] = [];

function changed(): void {
  snapshot = [...byServer.values()].flatMap((uris) => [...uris.values()]);
  for (const listener of listeners) listener();
}

export function isLive(server: string, uri: string): boolean {
  return byServer.get(server)?.has(uri) ?? false;
}

/** The subscribed URIs of one server, for asking a new connection to subscribe again. */
export function liveUris(server: string): string[] {
  return [...(byServer.get(server)?.keys() ?? [])];
}

/** Remembers a subscription; false when it was already there. */
export function addLive(server: string, uri: string): boolean {
  let uris = byServer.get(server);
  if (!uris) {
    uris = new Map();
    byServer.set(server, uris);
  }
  if (uris.has(uri)) return false;
  uris.set(uri, { server, uri, since: Date.now(), updates: 0 });
  changed();
  return true;
}

export function removeLive(server: string, uri: string): void {
  if (byServer.get(server)?.delete(uri)) changed();
}

/** Forgets every subscription of `server`, or of every server. */
export function clearLive(server?: string): void {
  if (server === undefined) byServer.clear();
  else byServer.delete(server);
  changed();
}

/** Counts an update the server sent for a subscribed resource; others are ignored. */
export function noteUpdate(server: string, uri: string): void {
  const current = byServer.get(server)?.get(uri);
  if (!current) return;
  byServer.get(server)?.set(uri, { ...current, updatedAt: Date.now(), updates: current.updates + 1 });
  changed();
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function useLiveSubscriptions(): readonly LiveSubscription[] {
  return useSyncExternalStore(subscribe, () => snapshot);
}
