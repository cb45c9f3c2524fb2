import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Listening, listen } from '../../demo/src/listen.js';
import { type BffMain, rawHttp, residentBytes, startBffMain, TEST_SESSION_SECRET } from './hostile-support.js';

/**
 * Slow and greedy clients against the real entry point (bff/src/main.ts in a child process, its memory
 * measured from outside): dribbled headers and bodies are cut off without starving anyone else, a huge
 * upload is refused before it is read and costs no memory, and long answers (SSE) are not cut.
 * Here the BFF gives 1 s for headers and 2 s for a whole request.
 */

let upstream: Listening;
let upstreamRequests = 0;
let bff: BffMain;

beforeAll(async () => {
  upstream = await listen(0, '127.0.0.1');
  upstream.handle((req, res) => {
    upstreamRequests++;
    if (req.method === 'GET') {
      // An SSE stream that lasts longer than the BFF's request timeout.
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let n = 0;
      const timer = setInterval(() => {
        n++;
        res.write(`event: message\ndata: {"n":${n}}\n\n`);
        if (n === 7) {
          clearInterval(timer);
          res.end();
        }
      }, 500);
      res.on('close', () => clearInterval(timer));
      return;
    }
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"jsonrpc":"2.0","id":1,"result":{}}');
    });
  });
  bff = await startBffMain({
    PUBLIC_URL: 'http://localhost:1',
    MCP_SERVER_URL: `${upstream.origin}/mcp`,
    SESSION_SECRET: TEST_SESSION_SECRET,
    ALLOW_HTTP_LOOPBACK: '1',
    HEADERS_TIMEOUT_MS: '1000',
    REQUEST_TIMEOUT_MS: '2000',
    MAX_BODY_BYTES: String(1024 * 1024),
  });
}, 60_000);

afterAll(async () => {
  await bff?.stop();
  await upstream?.close();
});

/** A connection that sends `head` at once, then `drip` every `everyMs`; resolves when the server closes it. */
function dribble(head: string, drip: string, everyMs: number): { closed: Promise<{ afterMs: number; answer: string }>; socket: Socket } {
  const socket = connect(bff.port, '127.0.0.1');
  const started = Date.now();
  let answer = '';
  let timer: NodeJS.Timeout | undefined;
  socket.on('connect', () => {
    socket.write(head);
    timer = setInterval(() => {
      if (!socket.destroyed) socket.write(drip);
    }, everyMs);
  });
  socket.on('data', (d) => {
    answer += d.toString('latin1');
  });
  socket.on('error', () => {});
  const closed = new Promise<{ afterMs: number; answer: string }>((resolve) => {
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ afterMs: Date.now() - started, answer });
    });
  });
  return { closed, socket };
}

async function healthy(): Promise<number> {
  const started = Date.now();
  const res = await fetch(`${bff.url}/healthz`);
  expect(res.status).toBe(200);
  await res.arrayBuffer();
  return Date.now() - started;
}

describe('slow clients', () => {
  it('headers dribbled in (slowloris) are cut off after the headers timeout; others are served meanwhile', async () => {
    const slow = Array.from({ length: 30 }, (_, i) => dribble(`GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow-${i}: 1\r\n`, 'X-More: 1\r\n', 200));
    // While 30 connections dribble, others get answers at once.
    for (let i = 0; i < 5; i++) expect(await healthy()).toBeLessThan(3_000);
    const results = await Promise.all(slow.map((s) => s.closed));
    for (const { afterMs, answer } of results) {
      expect(afterMs).toBeLessThan(6_000);
      expect(answer).toMatch(/^(HTTP\/1\.1 408|$)/);
    }
    expect(await healthy()).toBeLessThan(3_000);
  }, 20_000);

  it('a body dribbled in is cut off after the request timeout; nothing reaches the MCP server', async () => {
    const before = upstreamRequests;
    const head =
      'POST /mcp/default HTTP/1.1\r\nHost: localhost\r\nX-CSRF: 1\r\nContent-Type: application/json\r\n' +
      'Accept: application/json, text/event-stream\r\nContent-Length: 100000\r\n\r\n';
    const slow = Array.from({ length: 10 }, () => dribble(head, ' ', 200));
    for (let i = 0; i < 3; i++) expect(await healthy()).toBeLessThan(3_000);
    const results = await Promise.all(slow.map((s) => s.closed));
    for (const { afterMs } of results) expect(afterMs).toBeLessThan(7_000);
    expect(upstreamRequests).toBe(before);
    expect(await healthy()).toBeLessThan(3_000);
    await bff.flushed();
    expect(bff.output()).not.toMatch(/"event":"unhandled_error"/);
  }, 20_000);

  it('an SSE answer may outlive the request timeout: only receiving the request is timed', async () => {
    const res = await fetch(`${bff.url}/mcp/default`, { headers: { 'x-csrf': '1', accept: 'text/event-stream' } });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text.match(/^data: /gm)).toHaveLength(7);
  }, 20_000);

  it('headers over 16 kB: 431, before the app sees them', async () => {
    const res = await rawHttp(bff.port, `GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(20_000)}\r\nConnection: close\r\n\r\n`);
    expect(res.status).toBe(431);
  });
});

describe('a 50 MB upload', () => {
  it('is answered 413 long before it is all sent, and the BFF’s memory stays flat', async () => {
    const before = upstreamRequests;
    // Settle first, so that the baseline is the process at rest.
    for (let i = 0; i < 3; i++) await healthy();
    const baseline = residentBytes(bff.pid);
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, residentBytes(bff.pid));
    }, 10);

    const total = 50 * 1024 * 1024;
    const chunk = Buffer.alloc(256 * 1024, 0x20);
    const outcome = await new Promise<{ sentWhenAnswered: number; answer: string }>((resolve) => {
      const socket = connect(bff.port, '127.0.0.1');
      let sent = 0;
      let sentWhenAnswered = -1;
      let answer = '';
      const pump = () => {
        while (sent < total && !socket.destroyed) {
          sent += chunk.length;
          // Chunked: no Content-Length to refuse it by, the count is what stops it.
          if (!socket.write(`${chunk.length.toString(16)}\r\n`) || !socket.write(chunk) || !socket.write('\r\n')) return void socket.once('drain', pump);
        }
        if (!socket.destroyed) socket.write('0\r\n\r\n');
      };
      socket.on('connect', () => {
        socket.write(
          'POST /mcp/default HTTP/1.1\r\nHost: localhost\r\nX-CSRF: 1\r\nContent-Type: application/json\r\n' +
            'Accept: application/json, text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n',
        );
        pump();
      });
      socket.on('data', (d) => {
        if (sentWhenAnswered < 0) sentWhenAnswered = sent;
        answer += d.toString('latin1');
      });
      socket.on('error', () => {});
      socket.on('close', () => resolve({ sentWhenAnswered, answer }));
    });
    // The last samples, after the upload.
    await new Promise((r) => setTimeout(r, 200));
    clearInterval(sampler);

    expect(outcome.answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(outcome.answer).toMatch(/"error":"payload_too_large"/);
    expect(outcome.sentWhenAnswered).toBeGreaterThan(0);
    expect(outcome.sentWhenAnswered).toBeLessThan(total / 2);
    expect(upstreamRequests).toBe(before);
    // Reading 1 MiB and throwing the rest away: far below the 50 MB a buffering proxy would hold.
    expect(peak - baseline).toBeLessThan(20 * 1024 * 1024);
    expect(await healthy()).toBeLessThan(3_000);
  }, 30_000);
});
