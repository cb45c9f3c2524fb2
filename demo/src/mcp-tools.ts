import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { z } from 'zod';

/**
 * What the demo MCP server offers: a handful of tools that exercise the interesting paths through a
 * proxy (identity, plain calls, streaming progress with cancellation, a scope-gated tool), one resource
 * and one prompt. One McpServer is built per MCP session.
 */
export const ADMIN_SCOPE = 'mcp:admin';
export const ADMIN_TOOL = 'admin_report';

const README = `Demo MCP server

This server exists to exercise an OAuth-protected MCP connection end to end.
Tools: whoami, echo, add, slow_task (streams progress), admin_report (needs the mcp:admin scope).
Every request carries a JWT access token whose audience is this server's URL.
`;

function identity(authInfo: AuthInfo | undefined) {
  const sub = typeof authInfo?.extra?.sub === 'string' ? authInfo.extra.sub : '';
  return { sub, scopes: authInfo?.scopes ?? [], clientId: authInfo?.clientId ?? '' };
}

/** Resolves after `ms`, or rejects as soon as `signal` aborts (the client cancelled the request). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason ?? new Error('cancelled'));
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason ?? new Error('cancelled'));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export function buildMcpServer(info: { sessionCount: () => number }): McpServer {
  const server = new McpServer({ name: 'demo-mcp-server', version: '1.0.0' }, { capabilities: { logging: {} } });

  server.registerTool(
    'whoami',
    {
      title: 'Who am I',
      description: 'Returns the subject, scopes and client id of the access token used for this call.',
      outputSchema: { sub: z.string(), scopes: z.array(z.string()), clientId: z.string() },
    },
    async (extra) => {
      const who = identity(extra.authInfo);
      return { content: [{ type: 'text', text: JSON.stringify(who) }], structuredContent: who };
    },
  );

  server.registerTool(
    'echo',
    {
      title: 'Echo',
      description: 'Returns the message unchanged.',
      inputSchema: { message: z.string().max(100_000) },
    },
    async ({ message }) => ({ content: [{ type: 'text', text: message }] }),
  );

  server.registerTool(
    'add',
    {
      title: 'Add',
      description: 'Adds two numbers.',
      inputSchema: { a: z.number(), b: z.number() },
      outputSchema: { sum: z.number() },
    },
    async ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }], structuredContent: { sum: a + b } }),
  );

  server.registerTool(
    'slow_task',
    {
      title: 'Slow task',
      description: 'Works through a number of steps, reporting progress after each; can be cancelled.',
      inputSchema: {
        steps: z.number().int().min(1).max(50).default(5),
        delayMs: z.number().int().min(10).max(5000).default(300),
      },
    },
    async ({ steps, delayMs }, extra) => {
      const progressToken = extra._meta?.progressToken;
      for (let step = 1; step <= steps; step++) {
        await sleep(delayMs, extra.signal);
        if (progressToken !== undefined) {
          await extra.sendNotification({
            method: 'notifications/progress',
            params: { progressToken, progress: step, total: steps, message: `Step ${step} of ${steps}` },
          });
        }
      }
      return { content: [{ type: 'text', text: `Completed ${steps} steps` }] };
    },
  );

  server.registerTool(
    ADMIN_TOOL,
    {
      title: 'Admin report',
      description: `Server statistics; requires the ${ADMIN_SCOPE} scope.`,
    },
    async (extra) => {
      const who = identity(extra.authInfo);
      // The HTTP layer already answers 403 without the scope; this is a second line of defence.
      if (!who.scopes.includes(ADMIN_SCOPE)) {
        return { isError: true, content: [{ type: 'text', text: `The ${ADMIN_SCOPE} scope is required.` }] };
      }
      return {
        content: [{ type: 'text', text: `Admin report for ${who.sub}: ${info.sessionCount()} active MCP session(s).` }],
      };
    },
  );

  server.registerResource(
    'readme',
    'demo://readme',
    { title: 'README', description: 'What this demo server is for.', mimeType: 'text/plain' },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/plain', text: README }] }),
  );

  server.registerPrompt(
    'greeting',
    {
      title: 'Greeting',
      description: 'A friendly greeting for someone.',
      argsSchema: { name: z.string().describe('Who to greet') },
    },
    ({ name }) => ({
      messages: [{ role: 'user', content: { type: 'text', text: `Please write a short, friendly greeting for ${name}.` } }],
    }),
  );

  return server;
}
