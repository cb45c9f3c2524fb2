/**
 * `/servers/:server/tools/:tool`: one tool — what it does, a form for its arguments, running it.
 */
import { type LoaderFunctionArgs, useLoaderData } from 'react-router';
import { findTool } from '../calls';
import { ListSearchError } from '../listPages';
import { SectionErrorBoundary } from '../components/RouteError';
import { ToolAnnotations } from '../components/ToolAnnotations';
import { ToolRunner } from '../components/ToolRunner';
import { serverFacts } from '../mcp';
import { taskUse } from '../toolTasks';
import { routeError } from './route-errors';
import { loadConnection, rethrowForServer } from './session';

export async function loader({ params, request }: LoaderFunctionArgs) {
  const connection = await loadConnection(request, params.server);
  // From the tool pages (the one clicked on is loaded already), not the SDK's whole list: see findTool.
  const [tool, facts] = await Promise.all([
    findTool(connection.server, params.tool ?? '').catch((error: unknown) => {
      if (error instanceof ListSearchError) throw routeError(404, { message: `${connection.name} lists no tool by this name so far. ${error.message}` });
      return rethrowForServer(connection)(error);
    }),
    serverFacts(connection.server).catch(rethrowForServer(connection)),
  ]);
  if (!tool) throw routeError(404, { message: `${connection.name} has no tool by this name.` });
  // Whether it runs as a task depends on the tool and on what the server declares.
  return { server: connection.server, tool, taskMode: taskUse(tool, facts.capabilities) };
}

export function Component() {
  const { server, tool, taskMode } = useLoaderData<typeof loader>();
  const title = tool.title ?? tool.annotations?.title;
  return (
    <article className="tool">
      <h1>{tool.name}</h1>
      {title && <p className="subtitle">{title}</p>}
      {tool.description && <p>{tool.description}</p>}
      <ToolAnnotations tool={tool} />
      {tool.outputSchema && (
        <details className="schema">
          <summary>Output schema</summary>
          <pre className="output">{JSON.stringify(tool.outputSchema, null, 2)}</pre>
        </details>
      )}
      <h2 className="visually-hidden">Arguments</h2>
      <ToolRunner key={`${server}\n${tool.name}`} server={server} tool={tool} taskMode={taskMode} />
    </article>
  );
}

export const ErrorBoundary = SectionErrorBoundary;
