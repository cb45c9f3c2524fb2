/**
 * `/servers/:server/prompts/:prompt`: fill in a prompt's arguments and see the messages it makes.
 */
import { useMemo, useState } from 'react';
import { type LoaderFunctionArgs, useLoaderData } from 'react-router';
import { findPrompt, type GetPromptResult, getPrompt } from '../calls';
import { ListSearchError } from '../listPages';
import { ArgumentsForm } from '../components/ArgumentsForm';
import { CallError } from '../components/CallError';
import { useCompleter } from '../components/CompletionInput';
import { ContentView } from '../components/Content';
import { clearDraft, promptDraftKey } from '../drafts';
import { SectionErrorBoundary } from '../components/RouteError';
import { stringFields } from '../schemaForm';
import { routeError } from './route-errors';
import { loadConnection, rethrowForServer } from './session';

export async function loader({ params, request }: LoaderFunctionArgs) {
  const connection = await loadConnection(request, params.server);
  // From the prompt pages (the one clicked on is loaded already), not the SDK's whole list: see findPrompt.
  const prompt = await findPrompt(connection.server, params.prompt ?? '').catch((error: unknown) => {
    if (error instanceof ListSearchError) throw routeError(404, { message: `${connection.name} lists no prompt by this name so far. ${error.message}` });
    return rethrowForServer(connection)(error);
  });
  if (!prompt) throw routeError(404, { message: `${connection.name} has no prompt by this name.` });
  return { server: connection.server, prompt };
}

type State = { phase: 'idle' } | { phase: 'loading' } | { phase: 'done'; result: GetPromptResult } | { phase: 'failed'; error: unknown };

export function Component() {
  const { server, prompt } = useLoaderData<typeof loader>();
  const fields = useMemo(() => stringFields(prompt.arguments ?? []), [prompt.arguments]);
  const [state, setState] = useState<State>({ phase: 'idle' });
  const completer = useCompleter(server, { type: 'ref/prompt', name: prompt.name });
  const draftKey = promptDraftKey(server, prompt.name);

  async function get(args: Record<string, unknown>) {
    setState({ phase: 'loading' });
    const startedAt = Date.now();
    try {
      setState({ phase: 'done', result: await getPrompt(server, prompt.name, args as Record<string, string>) });
      clearDraft(draftKey, startedAt);
    } catch (error) {
      setState({ phase: 'failed', error });
    }
  }

  return (
    <article>
      <h1>{prompt.name}</h1>
      {prompt.title && <p className="subtitle">{prompt.title}</p>}
      {prompt.description && <p>{prompt.description}</p>}
      <h2 className="visually-hidden">Arguments</h2>
      <ArgumentsForm
        key={draftKey}
        draftKey={draftKey}
        fields={fields}
        submitLabel="Get prompt"
        busy={state.phase === 'loading'}
        emptyText="This prompt takes no arguments."
        onSubmit={get}
        completer={completer}
      />
      {state.phase === 'loading' && (
        <p role="status" className="muted">
          Getting the prompt…
        </p>
      )}
      {state.phase === 'failed' && <CallError error={state.error} what="Getting the prompt" />}
      {state.phase === 'done' && (
        <section aria-labelledby="messages-heading" className="result">
          <h2 id="messages-heading">Messages</h2>
          {state.result.description && <p className="muted">{state.result.description}</p>}
          {state.result.messages.length === 0 ? (
            <p className="empty">The prompt has no messages.</p>
          ) : (
            <ol className="messages">
              {state.result.messages.map((message, index) => (
                // Messages are a sequence; their position is their identity.
                // biome-ignore lint/suspicious/noArrayIndexKey: see above
                <li key={index} className={`message message-${message.role}`}>
                  <h3 className="message-role">{message.role === 'user' ? 'User' : 'Assistant'}</h3>
                  <ContentView server={server} item={message.content} index={index} />
                </li>
              ))}
            </ol>
          )}
        </section>
      )}
    </article>
  );
}

export const ErrorBoundary = SectionErrorBoundary;
