import { connect } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Listening, listen } from '../../demo/src/listen.js';
import { watchSignal } from '../src/http/node.js';
import { UpstreamClient, UpstreamTimeout } from '../src/mcp/upstream.js';

let server: Listening;
const client = new UpstreamClient();
/** Bytes the /big answer has handed to its socket so far, and whether it was cut off. */
const big = { written: 0, closed: false, size: 64 * 1024 * 1024 };
beforeAll(async () => {
  server = await listen(0);
  server.handle((req, res) => {
    if (req.url === '/hang') return;
    if (req.url === '/big') {
      // 64 MiB, written only as fast as the reader takes it (what an MCP server's stream does).
      big.written = 0;
      big.closed = false;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(big.size) });
      const chunk = Buffer.alloc(64 * 1024, 1);
      const more = () => {
        while (big.written < big.size) {
          big.written += chunk.byteLength;
          if (!res.write(chunk)) return void res.once('drain', more);
        }
        res.end();
      };
      res.on('close', () => {
        big.closed = !res.writableFinished;
      });
      more();
      return;
    }
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
  await client.close();
  await server.close();
});

const base = { method: 'GET', headers: {}, body: undefined, headersTimeoutMs: 2_000 };

it('a browser that is already gone fails the request without an unhandled error', async () => {
  const signal = AbortSignal.abort();
  await expect(client.send(new URL(`${server.origin}/`), { ...base, watchClient: watchSignal(signal) })).rejects.toThrow(/client disconnected/);
  // An unhandled 'error' would have crashed the test process by now; prove the next request works.
  const res = await client.send(new URL(`${server.origin}/`), { ...base, watchClient: watchSignal(new AbortController().signal) });
  expect(res.statusCode).toBe(200);
  res.destroy();
});

it('times out waiting for headers, and survives a body cut off midway', async () => {
  await expect(
    client.send(new URL(`${server.origin}/hang`), { ...base, headersTimeoutMs: 100, watchClient: watchSignal(new AbortController().signal) }),
  ).rejects.toBeInstanceOf(UpstreamTimeout);
  const cut = await client.send(new URL(`${server.origin}/reset`), { ...base, watchClient: watchSignal(new AbortController().signal) });
  await expect(readAll(cut.toWeb())).rejects.toThrow();
  expect(await cut.finished).toBeInstanceOf(Error);
  expect(cut.complete).toBe(false);
  const ok = await client.send(new URL(`${server.origin}/`), { ...base, watchClient: watchSignal(new AbortController().signal) });
  expect(ok.statusCode).toBe(200);
  expect(await ok.finished).toBeUndefined();
  // Dropping an answer that is already whole is harmless (its connection went back to the pool).
  ok.destroy();
  expect(ok.complete).toBe(true);
});

it('open streams do not hold back other requests (no socket cap)', async () => {
  const streams = await Promise.all(
    Array.from({ length: 300 }, () => client.send(new URL(`${server.origin}/stream`), { ...base, watchClient: watchSignal(new AbortController().signal) })),
  );
  expect(streams.every((s) => s.statusCode === 200)).toBe(true);
  const res = await client.send(new URL(`${server.origin}/`), { ...base, watchClient: watchSignal(new AbortController().signal) });
  expect(res.statusCode).toBe(200);
  res.destroy();
  // Dropping an open stream closes it (it is never drained): its body ends in an error, not as complete.
  for (const s of streams) s.destroy();
  expect((await Promise.all(streams.map((s) => s.finished))).every((e) => e instanceof Error)).toBe(true);
});

/** Reads a web stream to its end; resolves to its length in bytes. */
async function readAll(stream: ReadableStream<Uint8Array>): Promise<number> {
  const reader = stream.getReader();
  let bytes = 0;
  for (let read = await reader.read(); !read.done; read = await reader.read()) bytes += read.value.byteLength;
  return bytes;
}

/** Waits until the /big answer stops advancing: its writer is blocked on a full pipe. */
async function stalled(): Promise<number> {
  let last = -1;
  await expect
    .poll(
      async () => {
        const before = big.written;
        await new Promise((resolve) => setTimeout(resolve, 100));
        const still = before === big.written && before === last;
        last = big.written;
        return still;
      },
      { timeout: 10_000 },
    )
    .toBe(true);
  return big.written;
}

it('an answer nobody has claimed yet is held only up to a bound: the MCP server is paused, then resumes', async () => {
  const answer = await client.send(new URL(`${server.origin}/big`), { ...base, watchClient: watchSignal(new AbortController().signal) });
  // Socket buffers hold some megabytes; the rest of the 64 MiB waits at the MCP server.
  expect(await stalled()).toBeLessThan(big.size / 2);
  expect(await readAll(answer.toWeb())).toBe(big.size);
  expect(await answer.finished).toBeUndefined();
  expect(big.written).toBe(big.size);
});

it('a browser that reads slowly slows the MCP server down (nothing piles up in the BFF); all bytes arrive', async () => {
  const front = await listen(0);
  try {
    front.handle(async (_req, res) => {
      const answer = await client.send(new URL(`${server.origin}/big`), { ...base, watchClient: watchSignal(new AbortController().signal) });
      res.writeHead(answer.statusCode, { 'content-length': String(answer.headers['content-length']) });
      answer.pipeTo(res);
    });
    const socket = connect(front.port, '127.0.0.1');
    socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    socket.pause();
    expect(await stalled()).toBeLessThan(big.size / 2);
    let received = 0;
    socket.on('data', (chunk: Buffer) => {
      received += chunk.byteLength;
    });
    socket.resume();
    await new Promise((resolve) => socket.on('end', resolve));
    expect(big.written).toBe(big.size);
    expect(received).toBeGreaterThan(big.size);
  } finally {
    await front.close();
  }
});

it('a browser that leaves mid-answer closes the MCP server’s stream', async () => {
  const front = await listen(0);
  try {
    front.handle(async (_req, res) => {
      const answer = await client.send(new URL(`${server.origin}/big`), { ...base, watchClient: watchSignal(new AbortController().signal) });
      res.writeHead(answer.statusCode);
      answer.pipeTo(res);
    });
    const socket = connect(front.port, '127.0.0.1');
    socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    socket.pause();
    await stalled();
    socket.destroy();
    await expect.poll(() => big.closed).toBe(true);
    expect(big.written).toBeLessThan(big.size);
  } finally {
    await front.close();
  }
});

it('as a web stream: read whole with backpressure, or cancelled (which closes the MCP server’s stream)', async () => {
  const whole = await client.send(new URL(`${server.origin}/big`), { ...base, watchClient: watchSignal(new AbortController().signal) });
  expect(await readAll(whole.toWeb())).toBe(big.size);

  const cancelled = await client.send(new URL(`${server.origin}/big`), { ...base, watchClient: watchSignal(new AbortController().signal) });
  const reader = cancelled.toWeb().getReader();
  expect((await reader.read()).done).toBe(false);
  expect(await stalled()).toBeLessThan(big.size / 2);
  await reader.cancel();
  await expect.poll(() => big.closed).toBe(true);
  expect(await cancelled.finished).toBeInstanceOf(Error);
});

it('an answer is consumed once', async () => {
  const res = await client.send(new URL(`${server.origin}/`), { ...base, watchClient: watchSignal(new AbortController().signal) });
  res.destroy();
  expect(() => res.toWeb()).toThrow(/already consumed/);
});
