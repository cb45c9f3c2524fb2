/**
 * `/servers/:server/tools`: every tool, with a search box once there are more than a few.
 */
import { useId, useState } from 'react';
import { Link, type LoaderFunctionArgs, type ShouldRevalidateFunctionArgs, useLoaderData, useSearchParams } from 'react-router';
import { getTools, type Tool } from '../calls';
import { SectionErrorBoundary } from '../components/RouteError';
import { ToolAnnotations } from '../components/ToolAnnotations';
import { toolPath } from '../urls';
import { loadConnection, rethrowForServer } from './session';

/** With more tools than this, a search box helps. */
const SEARCH_FROM = 6;

export async function loader({ params, request }: LoaderFunctionArgs) {
  const connection = await loadConnection(request, params.server);
  const tools = await getTools(connection.server).catch(rethrowForServer(connection));
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
  // The box holds its own text (the URL catches up after each keystroke, which is too late for a
  // controlled input); the URL keeps the search for the back button and for sharing.
  const [query, setQuery] = useState(() => params.get('q') ?? '');
  const searchId = useId();
  const shown = tools.filter((tool) => matches(tool, query));
  return (
    <>
      <h1>Tools</h1>
      {tools.length === 0 ? (
        <p className="empty">This server offers no tools.</p>
      ) : (
        <>
          {tools.length >= SEARCH_FROM && (
            <search className="search">
              <label htmlFor={searchId}>Search tools</label>
              <input
                id={searchId}
                type="search"
                value={query}
                autoComplete="off"
                onChange={(e) => {
                  setQuery(e.target.value);
                  setParams(e.target.value ? { q: e.target.value } : {}, { replace: true });
                }}
              />
              <p role="status" className="muted">
                {shown.length === tools.length ? `${tools.length} tools` : `${shown.length} of ${tools.length} tools`}
              </p>
            </search>
          )}
          {shown.length === 0 ? (
            <p className="empty">No tool matches “{query}”.</p>
          ) : (
            <ul className="item-list">
              {shown.map((tool) => (
                <li key={tool.name}>
                  <Link to={toolPath(server, tool.name)} className="item-name">
                    {tool.name}
                  </Link>
                  {(tool.title ?? tool.annotations?.title) && <span className="muted"> {tool.title ?? tool.annotations?.title}</span>}
                  {tool.description && <p className="muted item-description">{tool.description}</p>}
                  <ToolAnnotations tool={tool} />
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </>
  );
}

export const ErrorBoundary = SectionErrorBoundary;
