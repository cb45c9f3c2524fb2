/**
 * What a server asks of the person in the middle of a request, one at a time, oldest first: a form
 * (elicitation, form mode), a web page to open (elicitation, URL mode) or a reply to write (sampling;
 * no model is involved, the person writes it). The same dialog serves both protocol eras.
 *
 * Everything the server sent is shown as plain text. A URL is opened only by the person's click on
 * the button that names its host, in a new tab without an opener; the app itself never navigates
 * there.
 */
import type { CreateMessageRequestParams, SamplingMessage } from '@modelcontextprotocol/client';
import { type ReactNode, useEffect, useId, useMemo, useRef, useState } from 'react';
import { type PendingInput, usePendingInput } from '../inputRequests';
import { serverName } from '../serverNames';
import { fieldsOf } from '../schemaForm';
import { ArgumentsForm } from './ArgumentsForm';

export function InputRequestDialog() {
  const pending = usePendingInput();
  const current = pending[0];
  if (!current) return null;
  // A new key per request: a fresh form, and focus moves into it.
  return <RequestDialog key={current.id} request={current} waiting={pending.length - 1} />;
}

function RequestDialog({ request, waiting }: { request: PendingInput; waiting: number }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
  }, []);
  // Escape closes a modal dialog: for the server that is "cancel", never a silent accept.
  const onCancel = (event: React.SyntheticEvent) => {
    event.preventDefault();
    if (request.kind === 'sampling') request.settle(undefined);
    else request.settle({ action: 'cancel' });
  };
  const name = serverName(request.server);
  const title =
    request.kind === 'sampling'
      ? `${name} asks you to write a reply`
      : request.kind === 'url'
        ? `${name} asks you to open a web page`
        : `${name} asks for information`;
  return (
    <dialog ref={ref} className="input-dialog" aria-labelledby={titleId} onCancel={onCancel}>
      <h2 id={titleId}>{title}</h2>
      {waiting > 0 && (
        <p className="muted">
          {waiting === 1 ? 'One more request is waiting after this one.' : `${waiting} more requests are waiting after this one.`}
        </p>
      )}
      {request.kind === 'form' && <FormRequest request={request} />}
      {request.kind === 'url' && <UrlRequest request={request} />}
      {request.kind === 'sampling' && <SamplingRequest request={request} />}
    </dialog>
  );
}

function ServerMessage({ children }: { children: ReactNode }) {
  return (
    <figure className="server-message">
      <figcaption className="muted">The server says:</figcaption>
      <blockquote>{children}</blockquote>
    </figure>
  );
}

function FormRequest({ request }: { request: Extract<PendingInput, { kind: 'form' }> }) {
  const fields = useMemo(() => fieldsOf(request.params.requestedSchema), [request.params.requestedSchema]);
  return (
    <>
      <ServerMessage>{request.params.message}</ServerMessage>
      <ArgumentsForm
        fields={fields}
        schema={request.params.requestedSchema}
        submitLabel="Send"
        emptyText="The server asks for no details, only whether you agree."
        onSubmit={(content) => request.settle({ action: 'accept', content: content as Record<string, string> })}
        className="arguments-form input-form"
      >
        <button type="button" className="button-secondary" onClick={() => request.settle({ action: 'decline' })}>
          Decline
        </button>
        <button type="button" className="button-secondary" onClick={() => request.settle({ action: 'cancel' })}>
          Cancel
        </button>
      </ArgumentsForm>
    </>
  );
}

/** Only http(s) URLs can be opened; anything else (javascript:, data:, file:) is shown, never followed. */
function openableUrl(raw: string): URL | undefined {
  try {
    const url = new URL(raw);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url : undefined;
  } catch {
    return undefined;
  }
}

function UrlRequest({ request }: { request: Extract<PendingInput, { kind: 'url' }> }) {
  const url = openableUrl(request.params.url);
  return (
    <>
      <ServerMessage>{request.params.message}</ServerMessage>
      {url ? (
        <>
          <p>
            The page is on <strong className="url-host">{url.host}</strong>. Check that you trust this site before you open it.
          </p>
          <p className="url-full">
            <span className="muted">Full address: </span>
            <code>{url.href}</code>
          </p>
        </>
      ) : (
        <p role="alert" className="error">
          The server sent an address this app will not open: <code>{request.params.url}</code>
        </p>
      )}
      <div className="actions">
        {url && (
          <button
            type="button"
            onClick={() => {
              // noopener: the page cannot reach back into this app through window.opener.
              window.open(url.href, '_blank', 'noopener,noreferrer');
              request.settle({ action: 'accept' });
            }}
          >
            Open {url.host} in a new tab
          </button>
        )}
        <button type="button" className="button-secondary" onClick={() => request.settle({ action: 'decline' })}>
          Decline
        </button>
        <button type="button" className="button-secondary" onClick={() => request.settle({ action: 'cancel' })}>
          Cancel
        </button>
      </div>
    </>
  );
}

function describeMessage(message: SamplingMessage): string {
  const blocks = Array.isArray(message.content) ? message.content : [message.content];
  return blocks.map((block) => (block.type === 'text' ? block.text : `[${block.type}]`)).join('\n');
}

function SamplingRequest({ request }: { request: Extract<PendingInput, { kind: 'sampling' }> }) {
  const params: CreateMessageRequestParams = request.params;
  const [reply, setReply] = useState('');
  const [problem, setProblem] = useState<string | undefined>();
  const replyId = useId();
  return (
    <>
      <p className="muted">
        The server would normally ask an AI model. Here nothing is sent to any model: you read the conversation and
        write the reply yourself, or decline.
      </p>
      {params.systemPrompt && <ServerMessage>{params.systemPrompt}</ServerMessage>}
      <ol className="sampling-messages" aria-label="Conversation">
        {params.messages.map((message, index) => (
          // The list is the server's, fixed for this request.
          // biome-ignore lint/suspicious/noArrayIndexKey: messages have no identity of their own
          <li key={index}>
            <span className="muted">{message.role === 'user' ? 'User' : 'Assistant'}: </span>
            <span className="sampling-text">{describeMessage(message)}</span>
          </li>
        ))}
      </ol>
      <form
        className="arguments-form"
        noValidate
        onSubmit={(event) => {
          event.preventDefault();
          if (!reply.trim()) {
            setProblem('Write a reply, or decline.');
            return;
          }
          request.settle({ role: 'assistant', model: 'written-by-a-person', stopReason: 'endTurn', content: { type: 'text', text: reply } });
        }}
      >
        <div className="field">
          <label htmlFor={replyId}>Your reply</label>
          <textarea
            id={replyId}
            value={reply}
            rows={5}
            maxLength={params.maxTokens > 0 ? params.maxTokens * 8 : undefined}
            aria-invalid={problem ? true : undefined}
            onChange={(e) => {
              setReply(e.target.value);
              setProblem(undefined);
            }}
          />
          {problem && (
            <p role="alert" className="error">
              {problem}
            </p>
          )}
        </div>
        <div className="actions">
          <button type="submit">Send reply</button>
          <button type="button" className="button-secondary" onClick={() => request.settle(undefined)}>
            Decline
          </button>
        </div>
      </form>
    </>
  );
}
