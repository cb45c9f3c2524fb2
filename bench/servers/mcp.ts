import type { ServerResponse } from 'node:http';
import { listen } from '../../demo/src/listen.js';
import { createMcpServer } from '../../demo/src/mcp-server.js';
import { serveRpc } from '../lib/child.js';
import { gcAndMeasure } from '../lib/memory.js';

/**
 * The demo MCP server in the SDK's stateless mode, answering either as JSON or as SSE (switchable, so
 * that tokens and the other processes stay the same). argv: port, resource URL, issuer.
 */
const [port, resource, issuer] = process.argv.slice(2) as [string, string, string];
const listening = await listen(Number(port), '127.0.0.1');
// Bearer tokens (every setup but one) and DPoP-bound tokens with proofs (bff-dpop) alike. A short iat
// window keeps the proofs remembered against replay few at the bench's rates.
const dpop = { optional: true, iatWindowSeconds: 10 };
const servers = {
  json: createMcpServer({ resource, issuer, stateless: true, enableJsonResponse: true, dpop }),
  sse: createMcpServer({ resource, issuer, stateless: true, enableJsonResponse: false, dpop }),
};
let mode: keyof typeof servers = 'json';
/** When set, the wall-clock time (ms, sub-ms precision) of every body write: the SSE probe's send times. */
let writes: number[] | undefined;
/** TCP connections accepted so far: shows whether a proxy keeps its upstream connections alive. */
let connections = 0;
listening.server.on('connection', () => {
  connections++;
});

listening.handle((req, res) => {
  if (writes) recordWrites(res, writes);
  const server = servers[mode];
  server.handler(req, res);
  // The demo records every request for tests (method and a copy of the headers); over a bench's million
  // calls that is hundreds of MB of heap the GC keeps walking, on the core the proxies share.
  server.received.length = 0;
});

function recordWrites(res: ServerResponse, into: number[]): void {
  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  res.write = ((...args: unknown[]) => {
    into.push(performance.timeOrigin + performance.now());
    return write(...args);
  }) as typeof res.write;
}

serveRpc({
  mode: (next: keyof typeof servers) => {
    mode = next;
  },
  recordWrites: (on: boolean) => {
    writes = on ? [] : undefined;
  },
  takeWrites: () => {
    const out = writes ?? [];
    if (writes) writes = [];
    return out;
  },
  memory: () => gcAndMeasure(),
  connections: () => connections,
  exit: () => void setImmediate(() => process.exit(0)),
});
