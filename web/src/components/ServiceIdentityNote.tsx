/**
 * Said wherever a server configured with the deployment's own identity (OAuth client credentials)
 * is shown: nobody signs in to it, and what anyone does there is done as the same client.
 */
export function ServiceIdentityNote() {
  return (
    <p className="service-identity">
      Uses this deployment's service identity — every signed-in person acts as the same client. There is nothing to sign in to here.
    </p>
  );
}
