import { Link } from 'react-router';
import { type LiveSubscription, useLiveSubscriptions } from '../liveUpdates';
import { serverName } from '../serverNames';
import { resourcePath } from '../urls';

function lastUpdate(s: LiveSubscription): string {
  if (!s.updatedAt) return 'no change yet';
  return `updated at ${new Date(s.updatedAt).toLocaleTimeString()}${s.updates > 1 ? ` (${s.updates} times)` : ''}`;
}

/**
 * Stops one subscription: it leaves the tray at once (updates for it are no longer shown), and the
 * server is told (resources/unsubscribe, or a listen stream without it). If the server cannot be
 * reached, its side ends with the connection.
 */
function stop(subscription: LiveSubscription): void {
  // Loaded on demand: the layout does not carry the MCP client.
  void import('../mcp').then(({ unsubscribeResource }) => unsubscribeResource(subscription.server, subscription.uri)).catch(() => undefined);
}

/**
 * The resources the person is subscribed to, wherever they are in the app, with when each last
 * changed and a way to stop it: subscriptions last until the person stops them.
 */
export function LiveUpdatesTray() {
  const live = useLiveSubscriptions();
  if (live.length === 0) return null;
  return (
    <aside className="live-tray" aria-label="Live updates">
      <p className="tray-title">Live updates</p>
      <ul>
        {live.map((s) => (
          <li key={`${s.server} ${s.uri}`} className="tray-call">
            <Link to={resourcePath(s.server, s.uri)}>
              <code className="uri">{s.uri}</code>
            </Link>{' '}
            <span className="muted">on {serverName(s.server)}:</span> <span>{lastUpdate(s)}</span>
            <button type="button" className="button-small button-secondary" onClick={() => stop(s)}>
              Stop <span className="visually-hidden">live updates of {s.uri}</span>
            </button>
          </li>
        ))}
      </ul>
    </aside>
  );
}
