export type StatusTone = 'ok' | 'warn' | 'off' | 'error' | 'pending';

/** A connection's state in words; the colour only repeats them. */
export function StatusBadge({ text, tone }: { text: string; tone: StatusTone }) {
  return <p className={`status status-${tone}`}>{text}</p>;
}
