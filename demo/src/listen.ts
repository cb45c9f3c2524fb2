import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface Listening {
  server: Server;
  /** Origin the server answers on, e.g. http://127.0.0.1:4000 (no trailing slash). */
  origin: string;
  port: number;
  /** Sets the request handler; servers are bound before their handlers exist so that each can know the others' URLs. */
  handle(handler: NodeHandler): void;
  close(): Promise<void>;
}

/**
 * Binds an HTTP server first and lets the caller attach its handler later: with port 0 the port is only
 * known after binding, and the authorization server, the MCP server and the BFF each need the others' URLs.
 */
export async function listen(port: number, host = '127.0.0.1', hostnameInUrl = host, options: ServerOptions = {}): Promise<Listening> {
  let handler: NodeHandler = (_req, res) => {
    res.statusCode = 503;
    res.end('starting');
  };
  const server = createServer(options, (req, res) => handler(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    server,
    origin: `http://${hostnameInUrl}:${actual}`,
    port: actual,
    handle(h) {
      handler = h;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
