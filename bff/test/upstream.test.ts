import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Listening, listen } from '../../demo/src/listen.js';
import { watchSignal } from '../src/http/node.js';
import { UpstreamClient, UpstreamTimeout } from '../src/mcp/upstream.js';

let server: Listening;
const client = new UpstreamClient();
beforeAll(async () => {
  server = await listen(0);
  server.handle((req, res) => {
    if (req.url === '/hang') return;
    if (req.url === '/stream') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': open\n\n');
      return;
    }
    if (req.url === '/reset') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 1\n\n');
      setImmediate(() => req.socket.destroy());
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
});
afterAll(async () => {
  client.close();
  await server.close();
});

const base = { method: 'GET', headers: {}, body: undefined, headersTimeoutMs: 2_000 };

it('a browser that is already gone fails the request without an unhandled error', async () => {
  const signal = AbortSignal.abort();
  await expect(client.send(new URL(`${server.origin}/`), { ...base, watchClient: watchSignal(signal) })).rejects.toThrow(/client disconnected/);
  // An unhandled 'error' would have crashed the test process by now; prove the next request works.
  const res = await client.send(new URL(`${server.origin}/`), { ...base, watchClient: watchSignal(new AbortController().signal) });
  expect(res.statusCode).toBe(200);
  res.resume();
});

it('times out waiting for headers, and survives a body cut off midway', async () => {
  await expect(
    client.send(new URL(`${server.origin}/hang`), { ...base, headersTimeoutMs: 100, watchClient: watchSignal(new AbortController().signal) }),
  ).rejects.toBeInstanceOf(UpstreamTimeout);
  const cut = await client.send(new URL(`${server.origin}/reset`), { ...base, watchClient: watchSignal(new AbortController().signal) });
  cut.resume();
  await new Promise((resolve) => cut.on('close', resolve));
  const ok = await client.send(new URL(`${server.origin}/`), { ...base, watchClient: watchSignal(new AbortController().signal) });
  expect(ok.statusCode).toBe(200);
  ok.resume();
});

it('open streams do not hold back other requests (no socket cap)', async () => {
  const streams = await Promise.all(
    Array.from({ length: 300 }, () => client.send(new URL(`${server.origin}/stream`), { ...base, watchClient: watchSignal(new AbortController().signal) })),
  );
  expect(streams.every((s) => s.statusCode === 200)).toBe(true);
  const res = await client.send(new URL(`${server.origin}/`), { ...base, watchClient: watchSignal(new AbortController().signal) });
  expect(res.statusCode).toBe(200);
  res.resume();
  for (const s of streams) s.destroy();
});
