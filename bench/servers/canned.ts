import { Agent, createServer, request } from 'node:http';
import { serveRpc } from '../lib/child.js';

/**
 * A stand-in MCP server that costs next to nothing per call, for `pnpm bench:proxy`: a POST to /mcp
 * that carries a token gets the demo server's answer to the measured echo call, as JSON with its
 * length, without checking anything; every other request (discovery, the login's 401) goes to the
 * real demo MCP server behind it. With the upstream this cheap, a proxy's own CPU per call is most of
 * what the core does, and is measured far more steadily than next to the real server's ~700 µs.
 * argv: port, the real MCP server's URL.
 */
const [port, realUrl] = process.argv.slice(2) as [string, string];
const real = new URL(realUrl);
const agent = new Agent({ keepAlive: true });
const ANSWER = Buffer.from(JSON.stringify({ result: { content: [{ type: 'text', text: 'hello from pnpm bench' }] }, jsonrpc: '2.0', id: 1 }));

const server = createServer((req, res) => {
  if (req.method === 'POST' && req.url === real.pathname && req.headers.authorization) {
    // Read the body to its end, as a server would, then answer.
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(ANSWER.byteLength) });
      res.end(ANSWER);
    });
    return;
  }
  const out = request(real, { method: req.method, path: req.url, headers: { ...req.headers, host: real.host }, agent }, (up) => {
    res.writeHead(up.statusCode ?? 502, up.headers);
    up.pipe(res);
  });
  out.on('error', () => res.destroy());
  req.pipe(out);
});
await new Promise<void>((resolve) => server.listen(Number(port), '127.0.0.1', () => resolve()));
serveRpc({ exit: () => void setImmediate(() => process.exit(0)) });
