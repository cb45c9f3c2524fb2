import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Listening, listen } from '../../demo/src/listen.js';
import { loadConfig } from '../src/config.js';
import { Drain, SHUTDOWN_TRAILER } from '../src/http/drain.js';
import { watchSignal } from '../src/http/node.js';
import { createLogger } from '../src/log.js';
import { endsEvent, UpstreamClient } from '../src/mcp/upstream.js';
import type { OAuthClient } from '../src/oauth/client.js';
import { TokenManager } from '../src/oauth/tokens.js';
import { refreshLockName } from '../src/store/locks.js';
import { MemoryTokenStore } from '../src/store/memory.js';
import { until } from './vault-support.js';

/**
 * The parts of a graceful shutdown on their own: the setting, where an SSE stream may be ended, the
 * drain's bookkeeping, a stream ended at its next event boundary, and a refresh lock released when a
 * refresh is cut off. The whole of it, under load with two instances, is rolling-restart.test.ts.
 */

describe('SHUTDOWN_TIMEOUT_MS', () => {
  const base = {
    PUBLIC_URL: 'https://app.example.com',
    MCP_SERVER_URL: 'https://mcp.example.com/mcp',
    SESSION_SECRET: 'NJQA7l/CJUKp+wCOMZfFr1oEnfR1tDEyZd495OrN7qWg09pxMdYpbzvoRIFeukRC',
  };

  it('is 25 s unless set, under the 30 s an orchestrator waits by default', () => {
    expect(loadConfig(base).shutdownTimeoutMs).toBe(25_000);
    expect(loadConfig({ ...base, SHUTDOWN_TIMEOUT_MS: '5000' }).shutdownTimeoutMs).toBe(5_000);
  });

  it('refuses what is not a whole number of milliseconds between 1 s and 10 minutes, saying so', () => {
    expect(() => loadConfig({ ...base, SHUTDOWN_TIMEOUT_MS: 'soon' })).toThrow('SHUTDOWN_TIMEOUT_MS must be a number');
    expect(() => loadConfig({ ...base, SHUTDOWN_TIMEOUT_MS: '1.5' })).toThrow('SHUTDOWN_TIMEOUT_MS must be an integer');
    expect(() => loadConfig({ ...base, SHUTDOWN_TIMEOUT_MS: '500' })).toThrow('SHUTDOWN_TIMEOUT_MS must be at least 1000');
    expect(() => loadConfig({ ...base, SHUTDOWN_TIMEOUT_MS: '600001' })).toThrow('SHUTDOWN_TIMEOUT_MS must be at most 600000');
  });
});

it('an SSE stream is between events after a blank line, whatever the line ends', () => {
  for (const tail of ['\n\n', 'a\n\n', '\r\n\r\n', '\r\r', '\n\r\n', '\r\n\n', ':\n\r']) expect(endsEvent(tail), JSON.stringify(tail)).toBe(true);
  for (const tail of ['', 'data', 'ta\n', 'a\r\n', 'x\r', '\n\nda']) expect(endsEvent(tail), JSON.stringify(tail)).toBe(false);
});

describe('Drain', () => {
  it('closes never-ending streams when it begins, a call’s stream only when told, and those opened later at once', () => {
    const drain = new Drain();
    const closed: string[] = [];
    drain.stream('long_lived', () => closed.push('listen'));
    drain.stream('call', () => closed.push('call'));
    const forget = drain.stream('long_lived', () => closed.push('gone before'));
    forget();
    expect(drain.draining).toBe(false);
    drain.begin();
    expect(drain.draining).toBe(true);
    expect(closed).toEqual(['listen']);
    drain.stream('long_lived', () => closed.push('late listen'));
    drain.stream('call', () => closed.push('late call'));
    expect(closed).toEqual(['listen', 'late listen']);
    drain.closeStreams();
    expect(closed).toEqual(['listen', 'late listen', 'call', 'late call']);
    drain.stream('call', () => closed.push('after'));
    expect(closed.at(-1)).toBe('after');
    expect(drain.openStreams).toBe(0);
  });

  it('says when the last lock is released, and releases the locks still registered, once', async () => {
    const drain = new Drain();
    await drain.locksReleased();
    const released: string[] = [];
    let allReleased = false;
    drain.lock(async () => void released.push('held'));
    const forget = drain.lock(async () => void released.push('released already'));
    void drain.locksReleased().then(() => {
      allReleased = true;
    });
    forget();
    await Promise.resolve();
    expect(allReleased).toBe(false);
    drain.lock(() => Promise.reject(new Error('store down')));
    expect(await drain.releaseLocks()).toBe(2);
    expect(allReleased).toBe(true);
    expect(await drain.releaseLocks()).toBe(0);
    expect(released).toEqual(['held']);
  });
});

describe('an SSE answer ended early', () => {
  let mcp: Listening;
  let bff: Listening;
  const client = new UpstreamClient();
  /** The MCP server's side of the current stream, and how the proxy would end the browser's. */
  const current: { upstream?: { write(text: string): void; closed: Promise<void> }; end?: (trailer: string) => void } = {};

  beforeAll(async () => {
    mcp = await listen(0);
    mcp.handle((req: IncomingMessage, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
      current.upstream = { write: (text) => res.write(text), closed: new Promise((resolve) => req.socket.once('close', () => resolve())) };
    });
    // A stand-in for the proxy: the MCP server's stream piped into the browser's response.
    bff = await listen(0);
    bff.handle(async (_req, res) => {
      const answer = await client.send(new URL(mcp.origin), {
        method: 'GET',
        headers: {},
        body: undefined,
        headersTimeoutMs: 2_000,
        watchClient: watchSignal(new AbortController().signal),
      });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
      current.end = answer.pipeEventStreamTo(res);
    });
  });
  afterAll(async () => {
    await client.close();
    await Promise.all([mcp.close(), bff.close()]);
  });

  it('in the middle of an event: the event is finished first, then the retry hint, then the end; the MCP server’s stream is closed', async () => {
    const res = await fetch(bff.origin);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    const read = async () => {
      const { value } = await reader.read();
      text += new TextDecoder().decode(value);
    };
    await until(() => current.upstream !== undefined && current.end !== undefined, 5_000, 'the stream to open');
    current.upstream?.write('id: 1\ndata: {"one":1}\n\n');
    await read();
    current.upstream?.write('id: 2\ndata: {"tw');
    await read();
    current.end?.(SHUTDOWN_TRAILER);
    current.upstream?.write('o":2}\n');
    current.upstream?.write('\n');
    current.upstream?.write('data: never sent\n\n');
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    expect(text).toBe(`id: 1\ndata: {"one":1}\n\nid: 2\ndata: {"two":2}\n\n${SHUTDOWN_TRAILER}`);
    await current.upstream?.closed;
  });

  it('between events: ended at once', async () => {
    Object.assign(current, { upstream: undefined, end: undefined });
    const res = await fetch(bff.origin);
    await until(() => current.upstream !== undefined && current.end !== undefined, 5_000, 'the stream to open');
    current.upstream?.write('data: 1\r\n\r\n');
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    current.end?.(SHUTDOWN_TRAILER);
    const rest = await new Response(new ReadableStream({ pull: async (c) => {
      const { done, value } = await reader.read();
      if (done) c.close();
      else c.enqueue(value);
    } })).text();
    expect(new TextDecoder().decode(first.value) + rest).toBe(`data: 1\r\n\r\n${SHUTDOWN_TRAILER}`);
    await current.upstream?.closed;
  });
});

it('a refresh still running when time is up: its lock is released for other instances at once', async () => {
  const store = new MemoryTokenStore();
  const now = Date.now();
  await store.createSession({ id: 'sid', createdAt: now, expiresAt: now + 3_600_000, idleExpiresAt: now + 3_600_000 });
  await store.putConnection('sid', 'default', {
    accessToken: 'at',
    refreshToken: 'rt',
    scopes: [],
    issuedAt: now - 600_000,
    expiresAt: now + 1_000,
    issuer: 'https://as.example.com',
    clientId: 'client',
    resource: 'https://mcp.example.com/mcp',
    generation: 0,
  });
  let refreshing = false;
  // The authorization server never answers.
  const hanging = {
    refresh: () => {
      refreshing = true;
      return new Promise(() => {});
    },
  } as unknown as OAuthClient;
  const drain = new Drain();
  const tokens = new TokenManager(store, new Map([['default', hanging]]), createLogger('silent'), { lockTtlMs: 60_000, locks: drain });
  void tokens.getAccess('sid', 'default');
  await until(() => refreshing, 5_000, 'the refresh to start');
  const name = refreshLockName('sid', 'default');
  expect(await store.acquireLock(name, 1_000)).toBeUndefined();
  expect(await drain.releaseLocks()).toBe(1);
  expect(await store.acquireLock(name, 1_000)).toEqual(expect.any(String));
});
