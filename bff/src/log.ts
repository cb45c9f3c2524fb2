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

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    { level, redact: { paths: REDACT, censor: '[redacted]' }, base: { service: 'mcp-bff' } },
    destination as pino.DestinationStream | undefined,
  );
}
