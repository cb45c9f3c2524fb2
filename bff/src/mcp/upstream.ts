import { Agent as HttpAgent, type IncomingMessage, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { ClientWatch } from '../http/node.js';

/**
 * Requests to MCP servers over node:http with keep-alive agents. The proxy pipes the answer straight
 * into the browser's response: measured against fetch() plus web streams (bench/), this is where most
 * of a proxied request's CPU went.
 */
export interface UpstreamRequest {
  method: string;
  headers: Record<string, string>;
  body: Uint8Array | undefined;
  /** Watches for the browser going away (then the request is aborted); returns how to stop watching. */
  watchClient: ClientWatch;
  /** Time allowed until the response headers arrive; the body (an SSE stream) has no limit. */
  headersTimeoutMs: number;
}

export class UpstreamTimeout extends Error {
  constructor() {
    super('upstream timeout');
    this.name = 'UpstreamTimeout';
  }
}

export class UpstreamClient {
  // No cap on sockets: an SSE stream holds its socket for as long as it is open, and a cap would make
  // the next requests queue behind open streams until they time out. Idle sockets are kept for reuse.
  private readonly http = new HttpAgent({ keepAlive: true, maxFreeSockets: 256 });
  private readonly https = new HttpsAgent({ keepAlive: true, maxFreeSockets: 256 });

  send(url: URL, r: UpstreamRequest): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const secure = url.protocol === 'https:';
      const headers: Record<string, string | number> = { ...r.headers };
      if (r.body) headers['content-length'] = r.body.byteLength;
      const req = (secure ? httpsRequest : httpRequest)(url, {
        method: r.method,
        headers,
        agent: secure ? this.https : this.http,
      });
      let settled = false;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        cleanup();
        req.destroy();
        reject(error);
      };
      // First of all: an 'error' without a listener would crash the process, and destroying the
      // request (on abort or timeout) emits one. After the answer it is the body's concern.
      req.on('error', fail);
      const timer = setTimeout(() => fail(new UpstreamTimeout()), r.headersTimeoutMs);
      let stopWatching = () => {};
      const cleanup = () => {
        clearTimeout(timer);
        stopWatching();
      };
      stopWatching = r.watchClient(() => fail(Object.assign(new Error('client disconnected'), { name: 'AbortError' })));
      if (settled) return;
      req.on('response', (res) => {
        // A body cut off midway (reset, upstream crash) must not crash the BFF either; whoever reads
        // the body adds its own handling.
        res.on('error', () => {});
        if (settled) {
          res.destroy();
          return;
        }
        settled = true;
        cleanup();
        resolve(res);
      });
      req.end(r.body);
    });
  }

  close(): void {
    this.http.destroy();
    this.https.destroy();
  }
}
