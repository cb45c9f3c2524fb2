/**
 * `/servers/:server/tools/:tool`: one tool — what it does, a form for its arguments, running it.
 */
import { type LoaderFunctionArgs, useLoaderData } from 'react-router';
import { getTools } from '../calls';
import { SectionErrorBoundary } from '../components/RouteError';
import { ToolAnnotations } from '../components/ToolAnnotations';
import { ToolRunner } from '../components/ToolRunner';
import { serverFacts } from '../mcp';
import { taskUse } from '../toolTasks';
import { routeError } from './route-errors';
import { loadConnection, rethrowForServer } from './session';

export async function loader({ params, request }: LoaderFunctionArgs) {
  const connection = await loadConnection(request, params.server);
  const [tools, facts] = await Promise.all([getTools(connection.server), serverFacts(connection.server)]).catch(rethrowForServer(connection));
  const tool = tools.find((t) => t.name === params.tool);
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
