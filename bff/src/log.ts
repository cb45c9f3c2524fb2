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

/**
 * Standard output, written in batches: pino's default writes every line on its own through libuv's
 * thread pool (a thread hop and a syscall per line, so per proxied call), which the bench measured as
 * the largest single item of a proxied call's CPU. Lines are gathered up to LOG_BUFFER_BYTES and
 * written at the latest LOG_FLUSH_MS later; the process's exit (process.exit, an uncaught error) writes
 * what is left synchronously, so only a SIGKILL can lose the last LOG_FLUSH_MS of lines.
 */
export function bufferedStdout(): pino.DestinationStream {
  // pino registers the exit-time flush for an asynchronous destination; the flush timer is unref'd.
  return pino.destination({ dest: 1, sync: false, minLength: LOG_BUFFER_BYTES, periodicFlush: LOG_FLUSH_MS });
}

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    { level, redact: { paths: REDACT, censor: '[redacted]' }, base: { service: 'mcp-bff' } },
    (destination as pino.DestinationStream | undefined) ?? bufferedStdout(),
  );
}
