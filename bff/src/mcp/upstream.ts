import type { ServerResponse } from 'node:http';
import { Agent, type Dispatcher } from 'undici';
import type { ClientWatch } from '../http/node.js';
import type { NodeHeaders } from './headers.js';

/**
 * Requests to MCP servers through undici's dispatcher, its lowest-level API: the answer's bytes go
 * straight from undici's parser into the browser's response, with no stream objects in between.
 * Measured in bench/ against node:http plus pipe() (and fetch() plus web streams before that), this is
 * where most of a proxied request's CPU went.
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

/** Bytes of an answer held while nobody consumes it yet; beyond this the upstream is paused. */
const MAX_UNCLAIMED_BYTES = 64 * 1024;

/** Where an answer's body goes once its consumer is known. */
interface BodySink {
  /** False when the sink is full: the upstream pauses until the sink calls resume. */
  write(chunk: Buffer): boolean;
  end(): void;
  fail(error: Error): void;
}

/** Where a dropped answer's body goes. */
const DROPPED: BodySink = { write: () => true, end: () => {}, fail: () => {} };

/** A Node response as a BodySink (a class: no per-call functions). */
class ResponseSink implements BodySink {
  constructor(private readonly out: ServerResponse) {}
  write(chunk: Buffer): boolean {
    return this.out.write(chunk);
  }
  end(): void {
    this.out.end();
  }
  fail(): void {
    this.out.destroy();
  }
}

/**
 * A Node response as the BodySink of an SSE answer that can be ended early, at an event boundary (see
 * UpstreamAnswer.pipeEventStreamTo).
 */
class EventStreamSink implements BodySink {
  /** The last few bytes written, enough to see a blank line. */
  private tail = '';
  private closing: string | undefined;
  private ended = false;

  constructor(
    private readonly out: ServerResponse,
    /** Closes the upstream (once the browser's stream has been ended early). */
    private readonly stopUpstream: () => void,
  ) {}

  write(chunk: Buffer): boolean {
    if (this.ended) return true;
    const room = this.out.write(chunk);
    this.tail = (this.tail + chunk.toString('latin1', Math.max(0, chunk.byteLength - 4))).slice(-4);
    if (this.closing !== undefined && endsEvent(this.tail)) this.endWith(this.closing);
    return room;
  }

  end(): void {
    if (this.closing !== undefined && (this.tail === '' || endsEvent(this.tail))) this.endWith(this.closing);
    else if (!this.ended) {
      this.ended = true;
      this.out.end();
    }
  }

  fail(): void {
    if (this.ended) return;
    this.ended = true;
    this.out.destroy();
  }

  /** Ends the stream with `trailer` at the next event boundary (at once if it is at one). */
  close(trailer: string): void {
    if (this.ended || this.out.destroyed || this.out.writableEnded) return;
    this.closing = trailer;
    if (this.tail === '' || endsEvent(this.tail)) this.endWith(trailer);
  }

  private endWith(trailer: string): void {
    if (this.ended) return;
    this.ended = true;
    this.out.end(trailer);
    this.stopUpstream();
  }
}

/**
 * The MCP server's answer: status and headers, and a body that arrives whether or not it is consumed
 * yet (it is held, bounded, until the proxy decides where it goes). Exactly one of destroy, pipeTo or
 * toWeb consumes it.
 */
export class UpstreamAnswer {
  private outcome: { error: Error | undefined } | undefined;
  /** Who awaits `finished`; made only when somebody asks (not on every proxied call). */
  private waiters: Array<(outcome: Error | undefined) => void> | undefined;
  private held: Buffer[] = [];
  private heldBytes = 0;
  private sink: BodySink | undefined;

  constructor(
    private readonly controller: Dispatcher.DispatchController,
    readonly statusCode: number,
    readonly headers: NodeHeaders,
  ) {}

  /** Settles when the body is over: undefined when complete, the error when cut off or dropped. */
  get finished(): Promise<Error | undefined> {
    if (this.outcome) return Promise.resolve(this.outcome.error);
    return new Promise((resolve) => {
      this.waiters ??= [];
      this.waiters.push(resolve);
    });
  }

  /** The body has been read to its end. */
  get complete(): boolean {
    return this.outcome !== undefined && this.outcome.error === undefined;
  }

  /**
   * Drops the answer. A body already read to its end leaves its connection for reuse; an unfinished one
   * is closed, never drained: a hostile server could drip a body (a 401 "stream") for ever.
   */
  destroy(error: Error = new Error('answer dropped')): void {
    this.held = [];
    this.sink ??= DROPPED;
    if (!this.outcome) this.controller.abort(error);
  }

  /**
   * Streams the body into the browser's response, pausing the upstream while the browser reads slowly.
   * The browser going away closes the upstream (an SSE stream would otherwise stay open); a body cut
   * off upstream cuts the browser's response off too, rather than ending it as if it were whole.
   */
  pipeTo(out: ServerResponse): void {
    out.on('drain', () => this.controller.resume());
    out.on('close', () => {
      if (!this.outcome) this.destroy(Object.assign(new Error('client disconnected'), { name: 'AbortError' }));
    });
    this.attach(new ResponseSink(out));
  }

  /**
   * pipeTo for an SSE answer, with a way to end the browser's stream early: the returned function
   * ends it at the next event boundary (at once if the stream is at one) with `trailer` (an SSE
   * retry field, say), and closes the upstream. Only at a boundary: cut in the middle of an event, the
   * browser would drop the part it has; cut right after one, nothing is lost.
   */
  pipeEventStreamTo(out: ServerResponse): (trailer: string) => void {
    out.on('drain', () => this.controller.resume());
    out.on('close', () => {
      if (!this.outcome) this.destroy(Object.assign(new Error('client disconnected'), { name: 'AbortError' }));
    });
    // The upstream is closed, not drained, when the stream ends early; what it still sends is dropped.
    const sink = new EventStreamSink(out, () => {
      if (!this.outcome) this.controller.abort(new Error('stream closed early'));
    });
    this.attach(sink);
    return (trailer) => sink.close(trailer);
  }

  /** The body as a web stream, for runtimes without Node's response object. */
  toWeb(): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>(
      {
        start: (stream) => {
          this.attach({
            write: (chunk) => {
              stream.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
              return (stream.desiredSize ?? 1) > 0;
            },
            end: () => stream.close(),
            fail: (error) => stream.error(error),
          });
        },
        pull: () => this.controller.resume(),
        cancel: () => this.destroy(),
      },
      { highWaterMark: MAX_UNCLAIMED_BYTES, size: (chunk) => chunk.byteLength },
    );
  }

  /** @internal from the dispatch handler */
  push(chunk: Buffer): void {
    if (this.sink) {
      if (!this.sink.write(chunk)) this.controller.pause();
      return;
    }
    this.held.push(chunk);
    this.heldBytes += chunk.byteLength;
    if (this.heldBytes >= MAX_UNCLAIMED_BYTES) this.controller.pause();
  }

  /** @internal from the dispatch handler */
  finish(error: Error | undefined): void {
    if (this.outcome) return;
    this.outcome = { error };
    for (const resolve of this.waiters ?? []) resolve(error);
    this.waiters = undefined;
    if (!this.sink) return;
    if (error) this.sink.fail(error);
    else this.sink.end();
  }

  private attach(sink: BodySink): void {
    if (this.sink) throw new Error('the answer is already consumed');
    this.sink = sink;
    const held = this.held;
    this.held = [];
    let room = true;
    for (const chunk of held) room = sink.write(chunk) && room;
    if (this.outcome) {
      if (this.outcome.error) sink.fail(this.outcome.error);
      else sink.end();
    } else if (room) {
      this.controller.resume();
    }
  }
}

/**
 * Whether an SSE stream whose last bytes are `tail` is between events: its last line is blank, i.e. it
 * ends with two line ends (CRLF, LF or CR each). A CR at the very end could still become a CRLF; either
 * way it ended a line.
 */
export function endsEvent(tail: string): boolean {
  let ends = 0;
  let i = tail.length - 1;
  while (i >= 0 && ends < 2) {
    if (tail[i] === '\n') i -= tail[i - 1] === '\r' ? 2 : 1;
    else if (tail[i] === '\r') i -= 1;
    else break;
    ends++;
  }
  return ends >= 2;
}

/**
 * One request's dispatch handler: settles UpstreamClient.send with the answer once its head arrives,
 * or with the error (the headers timeout, the browser gone, a failed connection). A class rather than
 * closures: a proxied call makes one object, not half a dozen functions (each named at run time in
 * the esbuild bundle, `keepNames`).
 */
class AnswerHandler implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private answer: UpstreamAnswer | undefined;
  private failure: Error | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopWatching: (() => void) | undefined;

  constructor(
    private readonly resolve: (answer: UpstreamAnswer) => void,
    private readonly reject: (error: Error) => void,
  ) {}

  get failed(): boolean {
    return this.failure !== undefined;
  }

  /** Starts the headers timeout and watches the browser; either fails the request. */
  watch(headersTimeoutMs: number, watchClient: ClientWatch): void {
    this.timer = setTimeout(headersTimedOut, headersTimeoutMs, this);
    this.stopWatching = watchClient(() => this.fail(Object.assign(new Error('client disconnected'), { name: 'AbortError' })));
    // The browser was gone already: fail() ran before there was anything to stop.
    if (this.failure) this.stopWatching();
  }

  fail(error: Error): void {
    if (this.answer || this.failure) return;
    this.failure = error;
    this.cleanup();
    // Before the request is on a connection there is no controller yet: it aborts when it gets one.
    this.controller?.abort(error);
    this.reject(error);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.failure) controller.abort(this.failure);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[]>): void {
    // 1xx informational answers are not the answer.
    if (this.failure || this.answer || statusCode < 200) return;
    this.answer = new UpstreamAnswer(controller, statusCode, headers as NodeHeaders);
    this.cleanup();
    this.resolve(this.answer);
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.answer?.push(chunk);
  }

  onResponseEnd(): void {
    this.answer?.finish(undefined);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    // After the answer, an error (reset, upstream crash, dropped answer) is its body's concern.
    if (this.answer) this.answer.finish(error);
    else this.fail(error);
  }

  private cleanup(): void {
    clearTimeout(this.timer);
    this.stopWatching?.();
  }
}

function headersTimedOut(handler: AnswerHandler): void {
  handler.fail(new UpstreamTimeout());
}

export class UpstreamClient {
  // No cap on connections: an SSE stream holds its connection for as long as it is open, and a cap
  // would make the next requests queue behind open streams until they time out. Idle connections are
  // kept for reuse. undici's own timeouts are off: the headers timeout is this client's (it counts the
  // connect too), and a stream's body has no time limit.
  // The pool keeps one (small) client object per connection it ever had open at once, until no
  // connection to that server is left. Not `clientTtl`: in undici 7.30 every later request calls
  // close() again on an expired client that still carries an open stream, and each call queues one more
  // callback until the stream ends.
  private readonly agent = new Agent({ connections: null, pipelining: 1, headersTimeout: 0, bodyTimeout: 0 });

  send(url: URL, r: UpstreamRequest): Promise<UpstreamAnswer> {
    return new Promise((resolve, reject) => {
      const handler = new AnswerHandler(resolve, reject);
      handler.watch(r.headersTimeoutMs, r.watchClient);
      if (handler.failed) return;
      try {
        this.agent.dispatch(
          { origin: url.origin, path: `${url.pathname}${url.search}`, method: r.method as Dispatcher.HttpMethod, headers: r.headers, body: r.body },
          handler,
        );
      } catch (error) {
        handler.fail(error as Error);
      }
    });
  }

  close(): Promise<void> {
    return this.agent.destroy();
  }
}
