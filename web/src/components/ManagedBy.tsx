import type { ConnectionInfo } from '@mcp-bff/shared';

type Managed = Pick<ConnectionInfo, 'managedBy'>;

/** Whether access to this server comes from the person's organisation (enterprise-managed authorization). */
export function isManagedByOrganisation(connection: Managed): boolean {
  return connection.managedBy === 'organisation';
}

/** The Connect button's text: an enterprise-managed server is reached by signing in with the organisation's account. */
export function connectText(connection: Managed): string {
  return isManagedByOrganisation(connection) ? 'Sign in with your organisation' : 'Connect';
}

/**
 * Says, on a server's card, that the person's organisation manages access to it: they sign in once at
 * its identity provider, and there is no approval page per server. Nothing for other servers.
 */
export function ManagedBy({ connection }: { connection: Managed }) {
  if (!isManagedByOrganisation(connection)) return null;
  return (
    <p className="managed-by">
      <span className="badge">Managed by your organisation</span>{' '}
      <span className="muted">Access comes from your organisation's sign-in; there is no separate approval for this server.</span>
    </p>
  );
}
