import { writeSync } from 'node:fs';
import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Paths pino blanks out wherever they appear. A belt to the braces of never passing secrets to the
 * logger in the first place: request logs carry the path without its query (the callback's query holds
 * the code and state).
 */
const REDACT = [
  'access_token',
  'refresh_token',
  'id_token',
  'code',
  'code_verifier',
  'state',
  'client_secret',
  'initialAccessToken',
  'password',
  'cookie',
  'authorization',
  '*.access_token',
  '*.refresh_token',
  '*.id_token',
  '*.code',
  '*.code_verifier',
  '*.state',
  '*.client_secret',
  '*.initialAccessToken',
  '*.cookie',
  '*.authorization',
  'headers.cookie',
  'headers.authorization',
  'headers["set-cookie"]',
];

/** Bytes of log lines gathered before they are written to stdout in one go. */
export const LOG_BUFFER_BYTES = 4096;
/** The longest a log line waits in that buffer. */
export const LOG_FLUSH_MS = 100;
/** Lines held while the destination cannot take them (a non-blocking pipe that is full); older ones are dropped past this. */
const MAX_HELD_BYTES = 8 * 1024 * 1024;

/**
 * A file descriptor (stdout) written in batches: lines are gathered up to LOG_BUFFER_BYTES and written
 * with one synchronous write, at the latest LOG_FLUSH_MS later. Measured per proxied call: pino's
 * default writes every line with its own syscall, and sonic-boom's asynchronous mode (a thread-pool
 * write per batch, and the pending batch rebuilt as one string on every line) cost more than 10 µs a
 * line. A synchronous write keeps the lines in order without a write in flight, as pino's default
 * destination does; the process's exit writes what is left, so only a SIGKILL can lose the last
 * LOG_FLUSH_MS of lines. Logging never throws: a closed stdout (EPIPE) drops lines, and a full
 * non-blocking one keeps them (up to MAX_HELD_BYTES) for the next write.
 */
export class BatchedWriter {
  private lines: string[] = [];
  private bytes = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Lines dropped because the destination was gone or full, said in the next line written. */
  private dropped = 0;

  constructor(
    private readonly fd: number,
    private readonly maxBytes = LOG_BUFFER_BYTES,
    private readonly maxDelayMs = LOG_FLUSH_MS,
  ) {}

  write(line: string): boolean {
    this.lines.push(line);
    this.bytes += line.length;
    if (this.bytes >= this.maxBytes) this.flushSync();
    else this.timer ??= setTimeout(flushLater, this.maxDelayMs, this).unref();
    return true;
  }

  /** Writes what is gathered now (pino calls it from logger.flush(), and the process's exit). */
  flushSync(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.lines.length === 0) return;
    // Lines dropped before are said first; the count goes with the notice (and comes back if it is lost).
    const earlier = this.dropped;
    const notice = earlier > 0 ? `${JSON.stringify({ level: 40, time: Date.now(), service: 'mcp-bff', event: 'log_lines_dropped', count: earlier })}\n` : '';
    if (notice) this.lines.unshift(notice);
    this.dropped = 0;
    const data = Buffer.from(this.lines.join(''));
    this.lines = [];
    this.bytes = 0;
    let offset = 0;
    while (offset < data.byteLength) {
      try {
        offset += writeSync(this.fd, data, offset);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN' && data.byteLength - offset <= MAX_HELD_BYTES) {
          // Full for now: the rest waits for the next write.
          const rest = data.subarray(offset).toString();
          this.lines = [rest];
          this.bytes = rest.length;
          this.timer = setTimeout(flushLater, this.maxDelayMs, this).unref();
          return;
        }
        // Gone (EPIPE, EBADF) or full for too long: these lines are lost, and the next write says so. A
        // notice lost with them is not a line of its own: the count it carried is kept instead.
        this.dropped = offset < notice.length ? earlier + countLines(data.subarray(notice.length)) : countLines(data.subarray(offset));
        return;
      }
    }
  }

  flush(callback?: (error?: Error) => void): void {
    this.flushSync();
    callback?.();
  }
}

function flushLater(writer: BatchedWriter): void {
  writer.flushSync();
}

function countLines(data: Buffer): number {
  let count = 0;
  for (let at = data.indexOf(10); at !== -1; at = data.indexOf(10, at + 1)) count++;
  return Math.max(count, 1);
}

let stdout: BatchedWriter | undefined;

/** The process's standard output as a BatchedWriter: one per process, flushed when the process exits. */
export function bufferedStdout(): BatchedWriter {
  if (!stdout) {
    const writer = new BatchedWriter(1);
    process.on('exit', () => writer.flushSync());
    stdout = writer;
  }
  return stdout;
}

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    { level, redact: { paths: REDACT, censor: '[redacted]' }, base: { service: 'mcp-bff' } },
    (destination as pino.DestinationStream | undefined) ?? bufferedStdout(),
  );
}

/** What the request log line says: fixed fields, none of them secret (the path has no query). */
export interface RequestLine {
  reqId: string;
  method: string;
  path: string;
  status: number;
  ms: number;
}

/**
 * Writes `{ event: 'request', ...line }` at info level as `log` would, to the same destination, without
 * going through pino's serializer (its key walk, string escaping and redaction pass): one line per
 * request, so per proxied call, where it was a measurable share of the CPU. Its fields are fixed and
 * never secret, so there is nothing to redact; the line is the one pino writes (logs.test.ts compares).
 */
export function requestLogWriter(log: Logger): (line: RequestLine) => void {
  const target = log as unknown as Record<symbol, unknown>;
  const stream = target[pino.symbols.streamSym] as { write(line: string): unknown };
  // The logger's bindings as pino writes them after the time: `,"service":"mcp-bff"`.
  const bindings = target[pino.symbols.chindingsSym] as string;
  const level = log.levels.values.info;
  return (line) => {
    if (!log.isLevelEnabled('info')) return;
    stream.write(
      `{"level":${level},"time":${Date.now()}${bindings},"event":"request","reqId":${JSON.stringify(line.reqId)},"method":${JSON.stringify(line.method)},"path":${JSON.stringify(line.path)},"status":${line.status},"ms":${line.ms}}\n`,
    );
  };
}
