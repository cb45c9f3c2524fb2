/**
 * The BFF's id for a request that failed, for a person to quote when reporting a problem: the BFF's
 * log lines for that request carry the same id. Selectable in one click.
 */
export function Reference({ id }: { id: string | undefined }) {
  if (!id) return null;
  return (
    <span className="reference">
      Reference: <code>{id}</code>
    </span>
  );
}
