/**
 * `/servers/:server/prompts`: the server's prompts and the arguments each takes.
 */
import { Link, type LoaderFunctionArgs, useLoaderData } from 'react-router';
import { getPrompts } from '../calls';
import { SectionErrorBoundary } from '../components/RouteError';
import { promptPath } from '../urls';
import { loadConnection, rethrowForServer } from './session';

export async function loader({ params, request }: LoaderFunctionArgs) {
  const connection = await loadConnection(request, params.server);
  const prompts = await getPrompts(connection.server).catch(rethrowForServer(connection));
  return { server: connection.server, prompts };
}

export function Component() {
  const { server, prompts } = useLoaderData<typeof loader>();
  return (
    <>
      <h1>Prompts</h1>
      {prompts.length === 0 ? (
        <p className="empty">This server offers no prompts.</p>
      ) : (
        <ul className="item-list">
          {prompts.map((prompt) => (
            <li key={prompt.name}>
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
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

export const ErrorBoundary = SectionErrorBoundary;
