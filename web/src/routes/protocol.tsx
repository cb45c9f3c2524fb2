/**
 * `/servers/:server/protocol`: the protocol debugger. Every exchange with the server since the tab
 * was opened (JSON-RPC requests and what came back, as JSON or SSE, with the MCP headers, status and
 * timings), the server's capabilities as it declared them, and a ping with its round trip. Copyable,
 * clearable; nothing here is a secret (the page never holds one).
 */
import { useId, useState } from 'react';
import { type LoaderFunctionArgs, useLoaderData } from 'react-router';
import { SectionErrorBoundary } from '../components/RouteError';
import { ping, serverFacts } from '../mcp';
import { clearProtocolLog, type ProtocolExchange, type ProtocolMessage, useProtocolLog } from '../protocolLog';
import { loadConnection, rethrowForServer } from './session';

export async function loader({ params, request }: LoaderFunctionArgs) {
  const connection = await loadConnection(request, params.server);
  const facts = await serverFacts(connection.server).catch(rethrowForServer(connection));
  return { server: connection.server, facts };
}

export function Component() {
  const { server, facts } = useLoaderData<typeof loader>();
  const exchanges = useProtocolLog(server);
  return (
    <>
      <h1>Protocol</h1>
      <p className="muted">
        Every request to this server and its answer since this tab was opened, newest last: MCP {facts.protocolVersion}
        {facts.era === 'modern' ? ', stateless' : ', with a session'}.
      </p>
      <div className="toolbar">
        <PingButton server={server} />
        <CopyButton text={() => JSON.stringify(exchanges, null, 2)} label="Copy all as JSON" disabled={exchanges.length === 0} />
        <button type="button" className="button-secondary" onClick={() => clearProtocolLog(server)} disabled={exchanges.length === 0}>
          Clear
        </button>
      </div>
      <details className="capabilities">
        <summary>What the server declared</summary>
        <pre className="json">{JSON.stringify({ serverInfo: facts.implementation, capabilities: facts.capabilities }, null, 2)}</pre>
      </details>
      <section aria-label="Exchanges" className="exchanges">
        {exchanges.length === 0 ? (
          <p className="muted">Nothing yet. Use the server's tools, resources or prompts and the exchanges appear here.</p>
        ) : (
          <ol className="exchange-list">
            {exchanges.map((exchange) => (
              <Exchange key={exchange.id} exchange={exchange} />
            ))}
          </ol>
        )}
      </section>
    </>
  );
}

function statusText(exchange: ProtocolExchange): string {
  if (exchange.failure) return 'failed';
  if (exchange.status === undefined) return 'waiting…';
  if (exchange.responseKind === 'sse' && exchange.endedMs === undefined) return `${exchange.status} stream open`;
  return String(exchange.status);
}

function timing(exchange: ProtocolExchange): string {
  if (exchange.endedMs !== undefined) return `${exchange.endedMs} ms`;
  if (exchange.headersMs !== undefined) return `${exchange.headersMs} ms to headers`;
  return '';
}

function Exchange({ exchange }: { exchange: ProtocolExchange }) {
  const failed = exchange.failure !== undefined || (exchange.status !== undefined && exchange.status >= 400);
  const errorInBody = exchange.response.some((m) => m.kind === 'error');
  return (
    <li className={failed || errorInBody ? 'exchange exchange-failed' : 'exchange'}>
      <details>
        <summary>
          <span className="exchange-label">{exchange.label}</span> <span className="muted">{exchange.httpMethod}</span>{' '}
          <span className="exchange-status">{statusText(exchange)}</span> <span className="muted">{timing(exchange)}</span>
          {errorInBody && <span className="badge badge-warn">JSON-RPC error</span>}
        </summary>
        <div className="exchange-body">
          <p className="muted">
            <time dateTime={new Date(exchange.time).toISOString()}>{new Date(exchange.time).toLocaleTimeString()}</time>
            {exchange.responseKind ? ` · answer: ${exchange.responseKind === 'sse' ? 'SSE stream' : exchange.responseKind}` : ''}
          </p>
          {exchange.failure && (
            <p role="alert" className="error">
              {exchange.failure}
            </p>
          )}
          <Headers title="Request headers" headers={exchange.requestHeaders} />
          <Messages title="Sent" messages={exchange.request} />
          <Headers title="Response headers" headers={exchange.responseHeaders} />
          <Messages title="Received" messages={exchange.response} />
          <CopyButton text={() => JSON.stringify(exchange, null, 2)} label="Copy this exchange" />
        </div>
      </details>
    </li>
  );
}

function Headers({ title, headers }: { title: string; headers: ReadonlyArray<[string, string]> }) {
  if (headers.length === 0) return null;
  return (
    <>
      <h3>{title}</h3>
      <dl className="headers">
        {headers.map(([name, value]) => (
          <div key={name}>
            <dt>{name}</dt>
            <dd>
              <code>{value}</code>
            </dd>
          </div>
        ))}
      </dl>
    </>
  );
}

function Messages({ title, messages }: { title: string; messages: readonly ProtocolMessage[] }) {
  if (messages.length === 0) return null;
  return (
    <>
      <h3>{title}</h3>
      {messages.map((message, index) => (
        // Messages of one exchange only ever grow at the end.
        // biome-ignore lint/suspicious/noArrayIndexKey: position is the identity here
        <figure key={index} className="message">
          <figcaption className="muted">
            {message.kind}
            {message.method ? ` ${message.method}` : ''} · +{message.at} ms
          </figcaption>
          <pre className="json">{message.text}</pre>
        </figure>
      ))}
    </>
  );
}

function CopyButton({ text, label, disabled = false }: { text: () => string; label: string; disabled?: boolean }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  return (
    <>
      <button
        type="button"
        className="button-secondary"
        disabled={disabled}
        onClick={() => {
          navigator.clipboard.writeText(text()).then(
            () => setState('copied'),
            () => setState('failed'),
          );
        }}
      >
        {label}
      </button>
      <span role="status" className="muted">
        {state === 'copied' ? 'Copied.' : state === 'failed' ? 'Copying failed (the browser refused).' : ''}
      </span>
    </>
  );
}

function PingButton({ server }: { server: string }) {
  const id = useId();
  const [state, setState] = useState<
    { phase: 'idle' | 'running' } | { phase: 'done'; ms: number; method: string } | { phase: 'failed'; error: unknown }
  >({ phase: 'idle' });
  return (
    <>
      <button
        type="button"
        aria-describedby={id}
        disabled={state.phase === 'running'}
        onClick={() => {
          setState({ phase: 'running' });
          ping(server).then(
            ({ ms, method }) => setState({ phase: 'done', ms, method }),
            (error: unknown) => setState({ phase: 'failed', error }),
          );
        }}
      >
        Ping
      </button>
      <span id={id} role="status" className="muted">
        {state.phase === 'done' ? `Answered in ${state.ms} ms (${state.method}).` : state.phase === 'running' ? 'Pinging…' : ''}
      </span>
      {state.phase === 'failed' && (
        <span role="alert" className="error">
          The ping failed{state.error instanceof Error ? `: ${state.error.message}` : '.'}
        </span>
      )}
    </>
  );
}

export const ErrorBoundary = SectionErrorBoundary;
