import type { StoredSession } from '../store/types.js';
import { userOf } from './end-sessions.js';

/**
 * What `admin.ts sessions list` shows of a stored session: never a token, never the session id (the
 * store does not have it; the cookie does), only where it is stored (the SHA-256 of the id) and who
 * it belongs to.
 */
export interface SessionRow {
  /** The session's storage key (base64url SHA-256 of its id); `revoke --session` takes a prefix of it. */
  session: string;
  createdAt: string;
  /** When it was last used, to within the store's write granularity (at most a minute). */
  lastSeenAt: string;
  /** When it ends if nothing else happens (its idle or absolute end). */
  endsAt: string;
  connections: Array<{
    server: string;
    issuer: string;
    /** The ID token's sub, else a JWT access token's; undefined when the login said neither. */
    user: string | undefined;
    scopes: string[];
  }>;
}

/** A session id prefix shorter than this could name many sessions by accident. */
export const MIN_SESSION_PREFIX = 8;
/** How much of the storage key the list shows. */
export const SHOWN_SESSION_PREFIX = 12;

export function sessionRow(session: StoredSession, idleTimeoutSeconds: number): SessionRow {
  const lastSeen = Math.max(session.createdAt, session.idleExpiresAt - idleTimeoutSeconds * 1000);
  return {
    session: session.key,
    createdAt: new Date(session.createdAt).toISOString(),
    lastSeenAt: new Date(Math.min(lastSeen, Date.now())).toISOString(),
    endsAt: new Date(Math.min(session.expiresAt, session.idleExpiresAt)).toISOString(),
    connections: [...session.connections]
      .map(([server, record]) => ({ server, issuer: record.issuer, user: userOf(record), scopes: record.scopes }))
      .sort((a, b) => a.server.localeCompare(b.server)),
  };
}

/** What `revoke` ends: every session with a connection of `user` (at `issuer`, if given), or one session by its key prefix. */
export type RevokeTarget = { user: string; issuer?: string | undefined } | { sessionPrefix: string };

export function revokes(target: RevokeTarget): (session: StoredSession) => boolean {
  if ('sessionPrefix' in target) return (session) => session.key.startsWith(target.sessionPrefix);
  return (session) =>
    [...session.connections.values()].some((record) => userOf(record) === target.user && (target.issuer === undefined || record.issuer === target.issuer));
}

/** The list as a table for a terminal: one line per session, its connections last. */
export function formatTable(rows: SessionRow[]): string {
  const header = ['SESSION', 'CREATED', 'LAST SEEN', 'ENDS', 'CONNECTIONS (server: user @ issuer)'];
  const lines = rows.map((r) => [
    r.session.slice(0, SHOWN_SESSION_PREFIX),
    r.createdAt.slice(0, 19).replace('T', ' '),
    r.lastSeenAt.slice(0, 19).replace('T', ' '),
    r.endsAt.slice(0, 19).replace('T', ' '),
    r.connections.map((c) => `${c.server}: ${c.user ?? '(unknown user)'} @ ${c.issuer}`).join(', ') || '(none)',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] as string).length)));
  const format = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  return [format(header), ...lines.map(format)].join('\n');
}
