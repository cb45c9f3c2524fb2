/**
 * `/servers/:server/log`: what the server has said on its own since this page was opened — log
 * messages, resource updates, list changes — as it arrives.
 */
import { useId, useState } from 'react';
import { type LoaderFunctionArgs, useLoaderData } from 'react-router';
import { type ActivityEntry, clearActivity, type LogLevel, useActivity } from '../activity';
import { CallError } from '../components/CallError';
import { SectionErrorBoundary } from '../components/RouteError';
import { logLevelOf, serverFacts, setLogLevel } from '../mcp';
import { loadConnection, rethrowForServer } from './session';

const LEVELS: LogLevel[] = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];

export async function loader({ params, request }: LoaderFunctionArgs) {
  const connection = await loadConnection(request, params.server);
  // Connecting here also opens the stream the server's notifications arrive on.
  const facts = await serverFacts(connection.server).catch(rethrowForServer(connection));
  return { server: connection.server, canSetLevel: facts.capabilities?.logging !== undefined };
}

export function Component() {
  const { server, canSetLevel } = useLoaderData<typeof loader>();
  const entries = useActivity(server);
  return (
    <>
      <h1>Log</h1>
      <p className="muted">Log messages and notifications from this server, newest last, as they arrive.</p>
      <div className="toolbar">
        {canSetLevel && <LevelPicker server={server} />}
        <button type="button" className="button-secondary" onClick={() => clearActivity(server)} disabled={entries.length === 0}>
          Clear log
        </button>
      </div>
      <div role="log" aria-label="Server notifications" className="log">
        {entries.length === 0 ? (
          <p className="empty">Nothing yet. Run a tool that logs, or subscribe to a resource, and its messages appear here.</p>
        ) : (
          <ol className="log-entries">
            {entries.map((entry) => (
              <LogEntry key={entry.id} entry={entry} />
            ))}
          </ol>
        )}
      </div>
    </>
  );
}

function LogEntry({ entry }: { entry: ActivityEntry }) {
  const severe = entry.level !== undefined && LEVELS.indexOf(entry.level) >= LEVELS.indexOf('error');
  return (
    <li className={severe ? 'log-entry log-entry-severe' : 'log-entry'}>
      <time dateTime={new Date(entry.time).toISOString()} className="muted">
        {new Date(entry.time).toLocaleTimeString()}
      </time>{' '}
      <span className="log-kind">{entry.level ?? entry.method.replace(/^notifications\//, '')}</span>
      {entry.logger && <span className="muted"> {entry.logger}</span>}
      {entry.text && <pre className="log-text">{entry.text}</pre>}
    </li>
  );
}

function LevelPicker({ server }: { server: string }) {
  const id = useId();
  const [level, setLevel] = useState<LogLevel | ''>(logLevelOf(server) ?? '');
  const [state, setState] = useState<{ phase: 'idle' | 'saving' | 'saved' } | { phase: 'failed'; error: unknown }>({ phase: 'idle' });

  async function choose(next: LogLevel) {
    setLevel(next);
    setState({ phase: 'saving' });
    try {
      await setLogLevel(server, next);
      setState({ phase: 'saved' });
    } catch (error) {
      setState({ phase: 'failed', error });
    }
  }

  return (
    <div className="field field-inline">
      <label htmlFor={id}>Minimum log level</label>
      <select id={id} value={level} onChange={(e) => choose(e.target.value as LogLevel)}>
        <option value="" disabled>
          Server default
        </option>
        {LEVELS.map((l) => (
          <option key={l} value={l}>
            {l}
          </option>
        ))}
      </select>
      <span role="status" className="muted">
        {state.phase === 'saving' ? 'Saving…' : state.phase === 'saved' ? `The server now sends ${level} and above.` : ''}
      </span>
      {state.phase === 'failed' && <CallError error={state.error} what="Setting the level" />}
    </div>
  );
}

export const ErrorBoundary = SectionErrorBoundary;
