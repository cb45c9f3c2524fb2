/**
 * `/servers/:server/resources/read?uri=…`: one resource's contents (text or binary), and live
 * updates when the server supports subscriptions.
 */
import { useEffect, useState } from 'react';
import { type LoaderFunctionArgs, useLoaderData } from 'react-router';
import { findListedResource, type ReadResourceResult, readResource } from '../calls';
import { CallError } from '../components/CallError';
import { BinaryView, fileNameOf, TextView } from '../components/Content';
import { SectionErrorBoundary } from '../components/RouteError';
import { useLiveSubscriptions } from '../liveUpdates';
import { serverFacts, subscribeResource, unsubscribeResource, watchResource } from '../mcp';
import { routeError } from './route-errors';
import { loadConnection, rethrowForServer } from './session';

export async function loader({ params, request }: LoaderFunctionArgs) {
  const connection = await loadConnection(request, params.server);
  const uri = new URL(request.url).searchParams.get('uri');
  if (!uri) throw routeError(404, { message: 'No resource was named.' });
  const { server } = connection;
  const [result, listed, facts] = await Promise.all([
    readResource(server, uri, request.signal),
    findListedResource(server, uri),
    serverFacts(server),
  ]).catch(rethrowForServer(connection));
  return {
    server,
    uri,
    title: listed?.title ?? listed?.name,
    description: listed?.description,
    result,
    canSubscribe: facts.capabilities?.resources?.subscribe === true,
  };
}

/** What the person asked for last, while it is under way or if it failed; otherwise the subscription's own state. */
type Change = { state: 'idle' } | { state: 'starting' } | { state: 'stopping' } | { state: 'failed'; error: unknown; stopping: boolean };

export function Component() {
  const loaded = useLoaderData<typeof loader>();
  const { server, uri } = loaded;
  const [result, setResult] = useState<ReadResourceResult>(loaded.result);
  const [change, setChange] = useState<Change>({ state: 'idle' });
  const [readError, setReadError] = useState<unknown>();
  // A subscription lasts until the person stops it, here or in the tray, wherever they go meanwhile.
  const live = useLiveSubscriptions().find((s) => s.server === server && s.uri === uri);
  const watching = live !== undefined;

  useEffect(() => setResult(loaded.result), [loaded.result]);

  // While subscribed: every resources/updated for this URI reads it again.
  useEffect(() => {
    if (!watching) return;
    let current = true;
    const stop = watchResource(server, uri, () => {
      readResource(server, uri)
        .then((next) => {
          if (!current) return;
          setResult(next);
          setReadError(undefined);
        })
        .catch((error: unknown) => current && setReadError(error));
    });
    return () => {
      current = false;
      stop();
    };
  }, [server, uri, watching]);

  async function toggle() {
    const stopping = watching;
    setChange({ state: stopping ? 'stopping' : 'starting' });
    try {
      if (stopping) await unsubscribeResource(server, uri);
      else await subscribeResource(server, uri);
      setChange({ state: 'idle' });
    } catch (error) {
      setChange({ state: 'failed', error, stopping });
    }
  }
  const busy = change.state === 'starting' || change.state === 'stopping';

  return (
    <article>
      <h1>{loaded.title ?? uri}</h1>
      <p>
        <code className="uri">{uri}</code>
      </p>
      {loaded.description && <p className="muted">{loaded.description}</p>}
      {loaded.canSubscribe && (
        <div className="actions watch">
          <button type="button" className={watching ? 'button-secondary' : undefined} disabled={busy} onClick={toggle}>
            {watching ? 'Stop live updates' : 'Subscribe to updates'}
          </button>
          <p role="status" className="muted">
            {change.state === 'starting' && 'Subscribing…'}
            {change.state === 'stopping' && 'Stopping…'}
            {!busy &&
              live &&
              (live.updatedAt
                ? `Live: updated at ${new Date(live.updatedAt).toLocaleTimeString()} (${live.updates} update${live.updates === 1 ? '' : 's'} since you subscribed). Stays on when you leave this page.`
                : 'Live: waiting for changes. Stays on when you leave this page.')}
          </p>
        </div>
      )}
      {change.state === 'failed' && <CallError error={change.error} what={change.stopping ? 'Stopping live updates' : 'Subscribing'} />}
      {readError !== undefined && <CallError error={readError} what="Reading the update" />}
      <section aria-labelledby="contents-heading" className="result">
        <h2 id="contents-heading">Contents</h2>
        {result.contents.length === 0 ? (
          <p className="empty">The resource is empty.</p>
        ) : (
          result.contents.map((content) => (
            <div key={content.uri} className="content-box">
              {result.contents.length > 1 && (
                <p className="content-label">
                  <code>{content.uri}</code>
                </p>
              )}
              {content.mimeType && <p className="muted">{content.mimeType}</p>}
              {'text' in content && typeof content.text === 'string' ? (
                <TextView text={content.text} name={fileNameOf(content.uri)} mimeType={content.mimeType} />
              ) : 'blob' in content && typeof content.blob === 'string' ? (
                <BinaryView base64={content.blob} mimeType={content.mimeType} name={fileNameOf(content.uri)} />
              ) : (
                <p className="muted">No content.</p>
              )}
            </div>
          ))
        )}
      </section>
    </article>
  );
}

export const ErrorBoundary = SectionErrorBoundary;
