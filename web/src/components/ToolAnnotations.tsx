import type { Tool } from '../calls';

/**
 * A tool's annotations in words. They are hints from the server, not guarantees; only what was
 * stated is shown.
 */
export function ToolAnnotations({ tool }: { tool: Tool }) {
  const a = tool.annotations;
  if (!a) return null;
  const hints = [
    a.readOnlyHint === true && 'Read-only',
    a.readOnlyHint !== true && a.destructiveHint === true && 'Destructive',
    a.readOnlyHint !== true && a.destructiveHint === false && 'Not destructive',
    a.idempotentHint === true && 'Idempotent',
    a.openWorldHint === true && 'Open world',
    a.openWorldHint === false && 'Closed world',
  ].filter((hint): hint is string => typeof hint === 'string');
  if (hints.length === 0) return null;
  return (
    <ul className="badges" aria-label={`Annotations of ${tool.name}`}>
      {hints.map((hint) => (
        <li key={hint} className={hint === 'Destructive' ? 'badge badge-warn' : 'badge'}>
          {hint}
        </li>
      ))}
    </ul>
  );
}
