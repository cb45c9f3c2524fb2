/**
 * `/servers/:server/tools`: the tools, page by page as the server gives them, with a search box once
 * there are more than a few.
 */
import { Link, type LoaderFunctionArgs, type ShouldRevalidateFunctionArgs, useLoaderData, useSearchParams } from 'react-router';
import { getListPages, type Tool } from '../calls';
import { PagedList } from '../components/PagedList';
import { SectionErrorBoundary } from '../components/RouteError';
import { ToolAnnotations } from '../components/ToolAnnotations';
import { toolPath } from '../urls';
import { loadConnection, rethrowForServer } from './session';

export async function loader({ params, request }: LoaderFunctionArgs) {
  const connection = await loadConnection(request, params.server);
  const tools = await getListPages(connection.server, 'tools').catch(rethrowForServer(connection));
  return { server: connection.server, tools };
}

/** Typing in the search box changes only the query: nothing to load again. */
export function shouldRevalidate({ currentUrl, nextUrl, defaultShouldRevalidate }: ShouldRevalidateFunctionArgs) {
  return currentUrl.pathname === nextUrl.pathname ? false : defaultShouldRevalidate;
}

function matches(tool: Tool, query: string): boolean {
  const q = query.trim().toLowerCase();
  if (!q) return true;
  return [tool.name, tool.title, tool.annotations?.title, tool.description].some((text) => text?.toLowerCase().includes(q));
}

export function Component() {
  const { server, tools } = useLoaderData<typeof loader>();
  const [params, setParams] = useSearchParams();
  // The URL keeps the search for the back button and for sharing.
  return (
    <>
      <h1>Tools</h1>
      <PagedList
        key={server}
        server={server}
        initial={tools}
        noun={{ one: 'tool', many: 'tools' }}
        searchLabel="Search tools"
        emptyText="This server offers no tools."
        matches={matches}
        initialQuery={params.get('q') ?? ''}
        onQueryChange={(query) => setParams(query ? { q: query } : {}, { replace: true })}
        renderItem={(tool) => (
          <>
            <Link to={toolPath(server, tool.name)} className="item-name">
              {tool.name}
            </Link>
            {(tool.title ?? tool.annotations?.title) && <span className="muted"> {tool.title ?? tool.annotations?.title}</span>}
            {tool.description && <p className="muted item-description">{tool.description}</p>}
            <ToolAnnotations tool={tool} />
          </>
        )}
      />
    </>
  );
}

export const ErrorBoundary = SectionErrorBoundary;
