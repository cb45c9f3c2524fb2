/**
 * `/servers/:server/prompts`: the server's prompts, page by page as the server gives them, and the
 * arguments each takes.
 */
import { Link, type LoaderFunctionArgs, useLoaderData } from 'react-router';
import { getListPages, type Prompt } from '../calls';
import { PagedList } from '../components/PagedList';
import { SectionErrorBoundary } from '../components/RouteError';
import { promptPath } from '../urls';
import { loadConnection, rethrowForServer } from './session';

export async function loader({ params, request }: LoaderFunctionArgs) {
  const connection = await loadConnection(request, params.server);
  const prompts = await getListPages(connection.server, 'prompts').catch(rethrowForServer(connection));
  return { server: connection.server, prompts };
}

function matches(prompt: Prompt, query: string): boolean {
  const q = query.toLowerCase();
  return [prompt.name, prompt.title, prompt.description].some((text) => text?.toLowerCase().includes(q));
}

export function Component() {
  const { server, prompts } = useLoaderData<typeof loader>();
  return (
    <>
      <h1>Prompts</h1>
      <PagedList
        key={server}
        server={server}
        initial={prompts}
        noun={{ one: 'prompt', many: 'prompts' }}
        searchLabel="Search prompts"
        emptyText="This server offers no prompts."
        matches={matches}
        renderItem={(prompt) => (
          <>
            <Link to={promptPath(server, prompt.name)} className="item-name">
              {prompt.name}
            </Link>
            {prompt.title && <span className="muted"> {prompt.title}</span>}
            {prompt.description && <p className="muted item-description">{prompt.description}</p>}
            {prompt.arguments && prompt.arguments.length > 0 && (
              <p className="muted item-description">
                Arguments: {prompt.arguments.map((a) => `${a.name}${a.required ? '' : ' (optional)'}`).join(', ')}
              </p>
            )}
          </>
        )}
      />
    </>
  );
}

export const ErrorBoundary = SectionErrorBoundary;
