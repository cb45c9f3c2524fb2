import { Link } from 'react-router';
import { serverName } from '../serverNames';
import { markSeen, type ToolCall, useToolCalls } from '../toolCalls';
import { toolPath } from '../urls';

function outcome(call: ToolCall): string {
  switch (call.state.phase) {
    case 'running':
      // A task says how far it got: its status as the server last said it.
      return call.task?.status === 'input_required' ? 'running, input required' : call.asTask ? 'running as a task' : 'running';
    case 'done':
      return call.state.result.isError ? 'finished with an error' : 'finished';
    case 'failed':
      return 'failed';
    case 'timed_out':
      return 'timed out';
    case 'cancelled':
      return 'cancelled';
  }
}

/**
 * Calls still running, and finished ones the person has not looked at yet, wherever they are in the
 * app: a link back to each tool's page, where the result waits.
 */
export function CallsTray() {
  const calls = useToolCalls().filter((c) => c.state.phase === 'running' || !c.seen);
  if (calls.length === 0) return null;
  return (
    <aside className="calls-tray" aria-label="Tool calls">
      <ul>
        {calls.map((call) => (
          <li key={call.id} className={`tray-call tray-${call.state.phase}`}>
            <Link to={toolPath(call.server, call.tool)}>{call.tool}</Link> <span className="muted">on {serverName(call.server)}:</span>{' '}
            <span>{outcome(call)}</span>
            {call.state.phase !== 'running' && (
              <button type="button" className="button-small button-secondary" onClick={() => markSeen(call.id)}>
                Dismiss <span className="visually-hidden">{call.tool}</span>
              </button>
            )}
          </li>
        ))}
      </ul>
    </aside>
  );
}
