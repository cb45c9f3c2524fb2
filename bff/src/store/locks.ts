/**
 * The store lock that admits one refresher per (session, server) across every BFF instance. The store
 * knows the name too: a session rotation does not move a connection while its refresh is running.
 */
export function refreshLockName(sessionId: string, server: string): string {
  return `refresh\u0000${sessionId}\u0000${server}`;
}
