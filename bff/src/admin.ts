import { parseArgs } from 'node:util';
import { type Config, ConfigError, DEFAULT_TOKEN_STORE, loadConfig } from './config.js';
import { createLogger } from './log.js';
import { createOAuthClients } from './oauth/clients.js';
import { REVOKE_TIMEOUT_MS } from './routes/auth.js';
import {
  formatTable,
  MIN_SESSION_PREFIX,
  type RevokeTarget,
  revokes,
  type SessionRow,
  sessionRow,
  SHOWN_SESSION_PREFIX,
} from './session/admin-sessions.js';
import { endSessions } from './session/end-sessions.js';
import { describeTokenStore, openTokenStore } from './store/open.js';
import { ServerBoundStore } from './store/server-bound.js';
import type { StoredSession } from './store/types.js';

/**
 * Sessions an administrator can see and end, on the live store of running BFF instances. Run with the
 * BFF's own environment (TOKEN_STORE, TOKEN_ENCRYPTION_KEYS, the servers...):
 *
 *   pnpm admin sessions list [--user SUB] [--all] [--json]
 *   pnpm admin sessions revoke --user SUB [--issuer URL]
 *   pnpm admin sessions revoke --session PREFIX
 *
 * `revoke` ends the sessions in the store, so the next request from those browsers, to any instance,
 * is refused (401 login_required), then revokes their tokens at the authorization servers as a logout
 * does. Nothing printed is a token or a session id.
 */
const USAGE = `Usage:
  admin sessions list [--user SUB] [--all] [--json]
      Live sessions that hold connections (--all: also those that hold none), with who they belong to.
  admin sessions revoke --user SUB [--issuer URL]
      Ends every session with a connection of that user (at that authorization server only, with --issuer).
  admin sessions revoke --session PREFIX
      Ends the one session whose id (as "list" shows it) starts with PREFIX (at least ${MIN_SESSION_PREFIX} characters).
Run with the BFF's environment (TOKEN_STORE, TOKEN_ENCRYPTION_KEYS, servers): it works on the live store.`;

class UsageError extends Error {}

interface Command {
  action: 'list' | 'revoke';
  user: string | undefined;
  issuer: string | undefined;
  session: string | undefined;
  all: boolean;
  json: boolean;
}

function parse(argv: string[]): Command {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: withValuesJoined(argv), options: OPTIONS, allowPositionals: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const [noun, action, ...rest] = parsed.positionals;
  if (noun !== 'sessions' || (action !== 'list' && action !== 'revoke') || rest.length > 0) throw new UsageError('expected "sessions list" or "sessions revoke"');
  const { user, issuer, session, all = false, json = false } = parsed.values;
  if (action === 'revoke') {
    if ((user === undefined) === (session === undefined)) throw new UsageError('revoke needs exactly one of --user SUB or --session PREFIX');
    if (session !== undefined && session.length < MIN_SESSION_PREFIX) throw new UsageError(`--session needs at least ${MIN_SESSION_PREFIX} characters of the id`);
    if (issuer !== undefined && user === undefined) throw new UsageError('--issuer goes with --user');
  } else if (session !== undefined) {
    throw new UsageError('--session is for revoke');
  }
  return { action, user, issuer, session, all, json };
}

/**
 * `--session -Xy…` as `--session=-Xy…`: a session prefix is base64url (one in 64 starts with "-"), and a
 * subject may start with one too; parseArgs would take such a value for an option and refuse it.
 */
function withValuesJoined(argv: string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const value = argv[i + 1];
    if ((arg === '--session' || arg === '--user' || arg === '--issuer') && value !== undefined) {
      joined.push(`${arg}=${value}`);
      i++;
    } else joined.push(arg);
  }
  return joined;
}

const OPTIONS = {
  user: { type: 'string' },
  issuer: { type: 'string' },
  session: { type: 'string' },
  all: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

async function run(config: Config, command: Command): Promise<number> {
  if (config.tokenStore.kind === 'memory') {
    console.error('TOKEN_STORE is memory: sessions live inside the server process, and there is no store to administer.');
    return 78;
  }
  // To stderr: stdout is the command's answer (--json may be piped). An audit line for every revoke.
  const log = createLogger(config.logLevel === 'silent' ? 'silent' : 'info', process.stderr);
  const raw = await openTokenStore(config, log);
  // As the server reads them: a record issued for another host than its server's is not shown or used.
  const store = new ServerBoundStore(raw, config.servers, log);
  try {
    if (command.action === 'list') {
      const rows: SessionRow[] = [];
      const byUser = command.user === undefined ? undefined : revokes({ user: command.user, issuer: command.issuer });
      for await (const session of store.listSessions()) {
        if (!command.all && session.connections.size === 0) continue;
        if (byUser && !byUser(session)) continue;
        rows.push(sessionRow(session, config.sessionIdleTimeoutSeconds));
      }
      rows.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
      if (command.json) console.log(JSON.stringify(rows, null, 2));
      else {
        console.log(formatTable(rows));
        console.log(`${rows.length} session(s) in ${describeTokenStore(config)}.`);
      }
      return 0;
    }
    const target: RevokeTarget = command.session !== undefined ? { sessionPrefix: command.session } : { user: command.user as string, issuer: command.issuer };
    const matches = revokes(target);
    if ('sessionPrefix' in target) {
      // A prefix must name one session: never end several by a typo.
      const found: StoredSession[] = [];
      for await (const session of store.listSessions()) if (matches(session)) found.push(session);
      if (found.length > 1) {
        console.error(`${found.length} sessions start with "${target.sessionPrefix}": give more of the id.`);
        return 2;
      }
    }
    const { clients } = createOAuthClients(config, store);
    const ended = await endSessions({ store, clients, log, revokeTimeoutMs: REVOKE_TIMEOUT_MS }, matches);
    if (ended.length === 0) {
      console.error('No live session matched; nothing was ended.');
      return 1;
    }
    log.info({ event: 'sessions_revoked_by_admin', by: 'sessionPrefix' in target ? 'session' : 'user', sessions: ended.length });
    for (const session of ended) console.log(`ended ${session.key.slice(0, SHOWN_SESSION_PREFIX)} (${[...session.connections.keys()].join(', ') || 'no connections'})`);
    console.log(`${ended.length} session(s) ended; their tokens were revoked where the authorization server allows it.`);
    return 0;
  } finally {
    await store.close();
  }
}

async function main(): Promise<void> {
  let command: Command;
  try {
    if (process.argv.includes('--help') || process.argv.includes('-h')) {
      console.log(USAGE);
      return;
    }
    command = parse(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n\n${USAGE}`);
    process.exitCode = 64;
    return;
  }
  let config: Config;
  try {
    config = loadConfig(process.env, { defaultTokenStore: DEFAULT_TOKEN_STORE });
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exitCode = 78;
      return;
    }
    throw error;
  }
  process.exitCode = await run(config, command);
}

await main();
