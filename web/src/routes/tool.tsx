/**
 * `/servers/:server/tools/:tool`: one tool, a form for its arguments, and running it.
 * Loaded lazily (its own chunk) by the router.
 */
import { Link, type LoaderFunctionArgs, useLoaderData } from 'react-router';
import { listAllTools } from '../calls';
import { RouteErrorBoundary } from '../components/RouteError';
import { ToolRunner } from '../components/ToolRunner';
import { withClient } from '../mcp';
import { homePath } from '../urls';
import { rethrowForRoute, routeError } from './route-errors';
import { loadSession } from './session';

export async function loader({ params, request }: LoaderFunctionArgs) {
  const server = params.server ?? '';
  const toolName = params.tool ?? '';
  const session = await loadSession(request.signal);
  const connection = session.connections.find((c) => c.server === server);
  if (!connection) throw routeError(404, { message: 'There is no MCP server at this address.' });
  if (connection.status !== 'connected') {
    throw routeError(401, { message: `You are not connected to ${connection.name}.`, connectServer: server });
  }
  const tools = await withClient(server, (client) => listAllTools(client, request.signal)).catch(rethrowForRoute);
  const tool = tools.find((t) => t.name === toolName);
  if (!tool) throw routeError(404, { message: `${connection.name} has no tool by this name.` });
  return { server, serverName: connection.name, tool };
}

export function Component() {
  const { server, serverName, tool } = useLoaderData<typeof loader>();
  return (
    <article className="tool">
      <p>
        <Link to={homePath}>Back to servers</Link>
      </p>
      <h1>{tool.name}</h1>
      <p className="muted">Tool of {serverName}</p>
      {tool.description && <p>{tool.description}</p>}
      <ToolRunner key={`${server}\n${tool.name}`} server={server} tool={tool} />
    </article>
  );
}

export const ErrorBoundary = RouteErrorBoundary;
