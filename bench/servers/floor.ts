import { Agent, createServer, request } from 'node:http';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { serveRpc } from '../lib/child.js';

/**
 * Floors, for comparison only (BENCH_FLOOR=1): the least a proxy that adds the bearer token can cost
 * in Node, none with a session, CSRF check, store or logs.
 * - `hono`: a Hono route that forwards with fetch() and returns the upstream body as a web stream, as
 *   the BFF does;
 * - `hono-undici`: a Hono route that forwards with the BFF's own upstream client (undici's dispatcher,
 *   bff/src/mcp/upstream.ts) into the Node response itself (RESPONSE_ALREADY_SENT), as the BFF does;
 * - `hono-pipe`: the same with node:http on a keep-alive agent, piping the answer, no fetch and no web
 *   streams;
 * - `hono-web`: node:http upstream, answered as a web Response over Readable.toWeb (what a fetch()
 *   stand-in built on node:http would cost);
 * - `hono-buffer`: like `hono`, but a JSON answer is read whole and sent as bytes;
 * - `node`: node:http piping with a keep-alive agent, no framework;
 * - `node-undici`: node:http's server and the BFF's upstream client, no framework.
 * argv: kind, port, MCP server URL, access token.
 */
const [kind, port, mcpUrl, token] = process.argv.slice(2) as ['hono' | 'hono-undici' | 'hono-pipe' | 'hono-web' | 'hono-buffer' | 'node' | 'node-undici', string, string, string];
const FORWARD = ['content-type', 'accept', 'mcp-protocol-version'];

/** The answer's type and, as the BFF passes it through, its length (a JSON answer then goes out in one write). */
function answerHeaders(headers: import('node:http').IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = { 'content-type': headers['content-type'] ?? 'application/octet-stream' };
  if (headers['content-length'] !== undefined) out['content-length'] = headers['content-length'];
  return out;
}

/** The forwarded request headers, from node:http's parsed ones, with the bearer token. */
function bearerHeaders(incoming: import('node:http').IncomingHttpHeaders): Record<string, string> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  for (const name of FORWARD) {
    const value = incoming[name];
    if (typeof value === 'string') headers[name] = value;
  }
  return headers;
}

if (kind === 'node-undici') {
  // No framework: node:http's server, the BFF's upstream client, the body read straight from the request.
  const { UpstreamClient } = await import('../../bff/src/mcp/upstream.js');
  const client = new UpstreamClient();
  const upstream = new URL(mcpUrl);
  const server = createServer((req, res) => {
    const headers = bearerHeaders(req.headers);
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      headers['content-length'] = String(body.byteLength);
      try {
        const answer = await client.send(upstream, { method: 'POST', headers, body, headersTimeoutMs: 30_000, watchClient: () => () => {} });
        res.writeHead(answer.statusCode, answerHeaders(answer.headers));
        answer.pipeTo(res);
      } catch {
        res.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(Number(port), '127.0.0.1', () => resolve()));
} else if (kind === 'node') {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const upstream = new URL(mcpUrl);
  const server = createServer((req, res) => {
    const headers = bearerHeaders(req.headers);
    if (req.headers['content-length']) headers['content-length'] = req.headers['content-length'];
    const out = request(upstream, { method: req.method, headers, agent }, (up) => {
      res.writeHead(up.statusCode ?? 502, answerHeaders(up.headers));
      up.pipe(res);
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(Number(port), '127.0.0.1', () => resolve()));
} else {
  // Hono and its Node adapter from the BFF's own dependencies (bench/ has none of its own).
  const bffRequire = createRequire(new URL('../../bff/package.json', import.meta.url));
  const load = (name: string) => import(pathToFileURL(bffRequire.resolve(name)).href);
  const { Hono } = (await load('hono')) as typeof import('../../bff/node_modules/hono/dist/types/index.d.ts');
  const { serve } = (await load('@hono/node-server')) as typeof import('../../bff/node_modules/@hono/node-server/dist/index.mjs');
  const { RESPONSE_ALREADY_SENT } = (await load('@hono/node-server/utils/response')) as { RESPONSE_ALREADY_SENT: Response };
  type Bindings = { incoming: import('node:http').IncomingMessage; outgoing: import('node:http').ServerResponse };
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const upstream = new URL(mcpUrl);
  const app = new Hono<{ Bindings: Bindings }>();
  /** The forwarded headers with the bearer token, and the body read whole (with its length). */
  const bearerRequest = async (req: { header(name: string): string | undefined; raw: Request }) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    for (const name of FORWARD) {
      const value = req.header(name);
      if (value !== undefined) headers[name] = value;
    }
    const body = Buffer.from(await req.raw.arrayBuffer());
    headers['content-length'] = String(body.byteLength);
    return { headers, body };
  };
  if (kind === 'hono-undici') {
    const { UpstreamClient } = await import('../../bff/src/mcp/upstream.js');
    const client = new UpstreamClient();
    app.post('/mcp', async (c) => {
      const { headers, body } = await bearerRequest(c.req);
      const res = c.env.outgoing;
      const answer = await client.send(upstream, { method: 'POST', headers, body, headersTimeoutMs: 30_000, watchClient: () => () => {} });
      res.writeHead(answer.statusCode, answerHeaders(answer.headers));
      answer.pipeTo(res);
      return RESPONSE_ALREADY_SENT;
    });
  }
  if (kind === 'hono-pipe') {
    app.post('/mcp', async (c) => {
      const { headers, body } = await bearerRequest(c.req);
      const res = c.env.outgoing;
      await new Promise<void>((resolve, reject) => {
        const out = request(upstream, { method: 'POST', headers, agent }, (up) => {
          res.writeHead(up.statusCode ?? 502, answerHeaders(up.headers));
          up.pipe(res);
          resolve();
        });
        out.on('error', reject);
        out.end(body);
      });
      return RESPONSE_ALREADY_SENT;
    });
  }
  if (kind === 'hono-web') {
    // node:http upstream, but answered as a web Response over Readable.toWeb, as a fetch() stand-in would.
    app.post('/mcp', async (c) => {
      const { headers, body } = await bearerRequest(c.req);
      const up = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
        const out = request(upstream, { method: 'POST', headers, agent }, resolve);
        out.on('error', reject);
        out.end(body);
      });
      const { Readable } = await import('node:stream');
      return new Response(Readable.toWeb(up) as ReadableStream, {
        status: up.statusCode ?? 502,
        headers: { 'content-type': up.headers['content-type'] ?? 'application/octet-stream' },
      });
    });
  }
  app.post('/mcp', async (c) => {
    const headers = new Headers({ authorization: `Bearer ${token}` });
    for (const name of FORWARD) {
      const value = c.req.header(name);
      if (value !== undefined) headers.set(name, value);
    }
    const up = await fetch(mcpUrl, { method: 'POST', headers, body: await c.req.raw.arrayBuffer(), redirect: 'manual' });
    // hono-buffer: a JSON answer read whole and sent as bytes; the adapter then writes it at once.
    if (kind === 'hono-buffer' && up.headers.get('content-type')?.startsWith('application/json')) {
      return new Response(await up.arrayBuffer(), { status: up.status, headers: { 'content-type': 'application/json' } });
    }
    return new Response(up.body, { status: up.status, headers: { 'content-type': up.headers.get('content-type') ?? 'application/octet-stream' } });
  });
  await new Promise<void>((resolve) => serve({ fetch: app.fetch, hostname: '127.0.0.1', port: Number(port) }, () => resolve()));
}

serveRpc({ exit: () => void setImmediate(() => process.exit(0)) });
