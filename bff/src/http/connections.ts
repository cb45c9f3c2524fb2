import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';

interface Tracked {
  /** Requests this connection has carried. */
  served: number;
  /** Answers being written on it now. */
  open: Set<ServerResponse>;
}

/**
 * An HTTP server's connections, for a shutdown that cuts no request off (main.ts).
 *
 * Node's own server.close() also closes every connection it deems idle, and a connection just accepted
 * whose request has not been read yet counts as idle: under load, a request a load balancer has just
 * sent would be reset. Here, draining stops listening, closes only keep-alive connections that are
 * between requests, and lets every other one carry its request to the end, with `Connection: close`.
 */
export class Connections {
  private readonly sockets = new Map<Socket, Tracked>();
  private draining = false;

  constructor(private readonly server: Server) {
    server.on('connection', (socket: Socket) => {
      this.sockets.set(socket, { served: 0, open: new Set() });
      socket.once('close', () => this.sockets.delete(socket));
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const tracked = this.sockets.get(req.socket);
      if (this.draining) res.shouldKeepAlive = false;
      if (!tracked) return;
      tracked.served++;
      tracked.open.add(res);
      res.once('close', () => {
        tracked.open.delete(res);
        if (this.draining) this.closeIfIdle(req.socket, tracked);
      });
    });
  }

  /** Answers being written now. */
  get inFlight(): number {
    let n = 0;
    for (const { open } of this.sockets.values()) n += open.size;
    return n;
  }

  /** Stops listening; `onClosed` is called once every connection has ended. */
  drain(onClosed: () => void): void {
    this.draining = true;
    // net.Server's close: no new connections, and none of the open ones closed (see above).
    NetServer.prototype.close.call(this.server, () => onClosed());
    for (const [socket, tracked] of this.sockets) {
      for (const res of tracked.open) if (!res.headersSent) res.shouldKeepAlive = false;
      this.closeIfIdle(socket, tracked);
    }
  }

  /** Cuts every connection, whatever it is doing. */
  closeAll(): void {
    for (const socket of this.sockets.keys()) socket.destroy();
  }

  private closeIfIdle(socket: Socket, tracked: Tracked): void {
    // Between requests on a keep-alive connection. One that has carried none yet is on its way to its
    // first request (or is cut off by the headers timeout).
    if (tracked.served > 0 && tracked.open.size === 0) socket.destroy();
  }
}
