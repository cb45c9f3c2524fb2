import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBinary } from '../scripts/node-binary.js';
import { expectationFor, REQUIRED_EXTENSIONS } from './expectations.js';
import { type Outcome, parseOutcome } from './outcome.js';
import { isRevision, REVISIONS, type RequirementSet, readRequirementSet } from './requirements.js';

/**
 * Runs the official MCP conformance suite (@modelcontextprotocol/conformance, pinned in package.json)
 * against the real BFF through conformance/adapter.ts: for each spec revision, exactly the client
 * scenarios of that revision's requirement set (requirements/<revision>.yaml in the suite), each at
 * that revision's wire. A required scenario must end with no failed check, no warning, and the BFF's
 * answer to the browser that expectations.ts expects; the set's not-scored client scenarios
 * (extensions such as client credentials) run too and are printed apart, never failing the run, except
 * those the project implements (REQUIRED_EXTENSIONS in expectations.ts: DPoP, service credentials,
 * enterprise-managed authorization), which are required.
 *
 *   pnpm test:conformance                                  both revisions' sets (2026-07-28, then 2025-11-25)
 *   pnpm test:conformance --revision 2025-11-25            one revision's set
 *   pnpm test:conformance --scenario auth/scope-step-up [--scenario ...] [--revision R ...]
 *                                                          just those (at 2026-07-28 unless --revision)
 *   pnpm test:conformance --parallel 3                     scenarios at once (default 2)
 *   pnpm test:conformance --with-backcompat                also the 2025-03-26 back-compat scenarios
 *   pnpm test:conformance --cross-wire                     also 2026-07-28's auth-only scenarios at 2025-11-25
 *   pnpm test:conformance --verbose                        stream the suite's log
 *   pnpm test:conformance --timeout 60000                  per scenario, ms
 *
 * Why one suite process per scenario instead of `conformance client --requirements R`: in client mode
 * that runs every scenario of the set at once (Promise.all), one BFF and one browser stand-in each,
 * which times out on a small machine. Each single run gets what --requirements gives it: the revision
 * as --spec-version (the wire the mock servers speak) and --force (run even where a scenario is not
 * tagged for that revision); see the suite's dist/index.js, client action: `Nc(command, scenario,
 * timeout, outputDir, yc(revision), e.force || !!requirements)`.
 *
 * The suite needs Node 22 or later (it imports fs.globSync, which Node 20 lacks); the BFF and the
 * adapter run on the Node that runs this script (20 in CI). The Node 22 binary comes from the pinned
 * `node` devDependency's version; see node22() for why its install script stays disabled.
 * CONFORMANCE_NODE=/path/to/node22 overrides it, CONFORMANCE_CLI=/path/to/conformance/dist/index.js
 * runs another version of the suite (one that ships requirements/<revision>.yaml next to its dist/).
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

interface Args {
  /** Empty: every revision in REVISIONS for a full run, 2026-07-28 for --scenario runs. */
  revisions: string[];
  scenarios: string[];
  parallel: number;
  withBackcompat: boolean;
  crossWire: boolean;
  verbose: boolean;
  timeoutMs: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    revisions: [],
    scenarios: [],
    parallel: 2,
    withBackcompat: false,
    crossWire: false,
    verbose: false,
    timeoutMs: 60_000,
  };
  const value = (i: number, name: string): string => {
    const v = argv[i];
    if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--scenario') args.scenarios.push(value(++i, a));
    else if (a === '--revision') args.revisions.push(value(++i, a));
    else if (a === '--parallel') args.parallel = Number(value(++i, a));
    else if (a === '--with-backcompat') args.withBackcompat = true;
    else if (a === '--cross-wire') args.crossWire = true;
    else if (a === '--verbose') args.verbose = true;
    else if (a === '--timeout') args.timeoutMs = Number(value(++i, a));
    else if (a === '--') continue;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(args.parallel) || args.parallel < 1) throw new Error('--parallel must be a positive integer');
  if (!Number.isInteger(args.timeoutMs) || args.timeoutMs < 1000) throw new Error('--timeout must be at least 1000 (ms)');
  for (const r of args.revisions) {
    if (!isRevision(r)) throw new Error(`--revision ${r}: one of ${REVISIONS.join(', ')}`);
  }
  return args;
}

/**
 * The Node 22 the suite runs on. The pinned `node` package's own install script is deliberately not
 * approved (pnpm 10 leaves it unbuilt): once built it links node_modules/.bin/node, which every
 * `pnpm <script>` puts first on PATH, and the whole project (tsx, vitest, Playwright, native modules)
 * would silently run on Node 22. So this fetches the same binary that script would fetch, for the
 * pinned version, into node_modules/.cache (scripts/node-binary.ts), where no PATH sees it.
 */
function node22(): string {
  const check = (bin: string) => {
    const out = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    return out.status === 0 && out.stdout.startsWith('v22.') ? out.stdout.trim() : undefined;
  };
  const fromEnv = process.env.CONFORMANCE_NODE;
  if (fromEnv) {
    if (!check(fromEnv)) throw new Error(`CONFORMANCE_NODE=${fromEnv} is not a Node 22 binary`);
    return fromEnv;
  }
  const built = join(root, 'node_modules/node/bin/node');
  if (existsSync(built) && check(built)) return built;

  const { version } = JSON.parse(readFileSync(join(root, 'node_modules/node/package.json'), 'utf8')) as { version: string };
  return nodeBinary(version).bin;
}

function conformanceCli(): string {
  return process.env.CONFORMANCE_CLI ?? join(dirname(require.resolve('@modelcontextprotocol/conformance/package.json')), 'dist/index.js');
}

/** Which part of the report a run belongs to, and whether it can fail the run. */
type Section =
  /** In the revision's requirement set: judged. */
  | 'required'
  /** A not_scored client entry of the set: printed, never judged. */
  | 'not_scored'
  /** Asked for with --scenario, --with-backcompat or --cross-wire: judged. */
  | 'selected';

interface Run {
  scenario: string;
  /** The suite's --spec-version: the wire the mock servers speak. */
  revision: string;
  section: Section;
  /** Why it is not scored, or which opt-in added it. */
  note?: string;
}

function requirementSet(cli: string, revision: string): RequirementSet {
  const path = join(dirname(cli), '..', 'requirements', `${revision}.yaml`);
  if (!existsSync(path)) throw new Error(`this version of the suite has no requirement set for ${revision} (${path})`);
  return readRequirementSet(path, revision);
}

/** Client scenario names and their revision tags, per `conformance list --client`. */
function listedClientScenarios(node: string, cli: string): Array<{ name: string; tags: string[] }> {
  const out = spawnSync(node, [cli, 'list', '--client'], { encoding: 'utf8' }).stdout;
  return [...out.matchAll(/^\s*- (\S+)(?: \[([^\]]*)\])?$/gm)].map((m) => ({ name: m[1] as string, tags: (m[2] ?? '').split(',') }));
}

function plan(args: Args, node: string, cli: string): Run[] {
  if (args.scenarios.length > 0) {
    const revisions = args.revisions.length > 0 ? args.revisions : [REVISIONS[0]];
    return revisions.flatMap((revision) => args.scenarios.map((scenario): Run => ({ scenario, revision, section: 'selected' })));
  }
  const revisions = args.revisions.length > 0 ? args.revisions : [...REVISIONS];
  const runs: Run[] = [];
  for (const revision of revisions) {
    const set = requirementSet(cli, revision);
    for (const scenario of set.client) runs.push({ scenario, revision, section: 'required' });
    for (const n of set.notScored) {
      // An extension the project implements is judged like a required scenario (expectations.ts).
      const required = REQUIRED_EXTENSIONS[n.scenario];
      runs.push(required ? { scenario: n.scenario, revision, section: 'required', note: required } : { scenario: n.scenario, revision, section: 'not_scored', note: n.reason });
    }
  }
  // Coverage the two sets leave out, on request: neither set has the 2025-03-26 back-compat scenarios
  // (discovery without protected resource metadata), and 2026-07-28's auth-only scenarios (iss,
  // resource and issuer mismatch, AS migration, offline_access) say nothing about a 2025-11-25 server.
  if (args.withBackcompat) {
    for (const s of listedClientScenarios(node, cli)) {
      if (s.tags.length === 1 && s.tags[0] === '2025-03-26') {
        runs.push({ scenario: s.name, revision: '2025-03-26', section: 'selected', note: '--with-backcompat' });
      }
    }
  }
  if (args.crossWire) {
    const older = new Set(requirementSet(cli, '2025-11-25').client);
    for (const scenario of requirementSet(cli, '2026-07-28').client) {
      if (scenario.startsWith('auth/') && !older.has(scenario)) {
        runs.push({ scenario, revision: '2025-11-25', section: 'selected', note: '--cross-wire' });
      }
    }
  }
  return runs;
}

interface ScenarioResult {
  run: Run;
  seconds: number;
  passed: number;
  failed: string[];
  warnings: string[];
  outcome: Outcome | undefined;
  problems: string[];
}

/** Runs the suite for one scenario; its whole output goes to a log file next to the results. */
function runScenario(node: string, cli: string, command: string, run: Run, outDir: string, args: Args): Promise<ScenarioResult> {
  const revisionDir = join(outDir, run.revision);
  const logPath = join(revisionDir, `${run.scenario}.log`);
  mkdirSync(dirname(logPath), { recursive: true });
  const log = createWriteStream(logPath);
  const full = [
    cli,
    'client',
    '--command',
    command,
    '--scenario',
    run.scenario,
    '--spec-version',
    run.revision,
    '--force',
    '--timeout',
    String(args.timeoutMs),
    '-o',
    revisionDir,
  ];
  log.write(`$ ${node} ${full.join(' ')}\n`);
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(node, full, { cwd: root, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const tee = (d: Buffer) => {
      log.write(d);
      if (args.verbose) process.stderr.write(d);
    };
    child.stdout.on('data', tee);
    child.stderr.on('data', tee);
    child.on('close', (code) => {
      log.end();
      const result = readResult(run, revisionDir, (Date.now() - started) / 1000);
      if (code !== 0 && result.failed.length === 0 && result.problems.length === 0 && !result.outcome) {
        result.problems.push(`the suite exited with ${code}; see ${relative(root, logPath)}`);
      }
      resolve(result);
    });
  });
}

/** The newest `<scenario>-<ISO time with : and . replaced>` directory the suite wrote for this scenario. */
function resultDir(revisionDir: string, scenario: string): string | undefined {
  const parent = join(revisionDir, dirname(scenario));
  if (!existsSync(parent)) return undefined;
  const base = scenario.split('/').at(-1) as string;
  const pattern = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-\\d{4}-\\d\\d-\\d\\dT\\d\\d-\\d\\d-\\d\\d-\\d{3}Z$`);
  const dirs = readdirSync(parent)
    .filter((name) => pattern.test(name) && statSync(join(parent, name)).isDirectory())
    .sort();
  const last = dirs.at(-1);
  return last ? join(parent, last) : undefined;
}

function readResult(run: Run, revisionDir: string, seconds: number): ScenarioResult {
  const result: ScenarioResult = { run, seconds, passed: 0, failed: [], warnings: [], outcome: undefined, problems: [] };
  const dir = resultDir(revisionDir, run.scenario);
  if (!dir || !existsSync(join(dir, 'checks.json'))) {
    result.problems.push('the suite wrote no results (unknown scenario, or the suite failed before running it)');
    return result;
  }
  const checks = JSON.parse(readFileSync(join(dir, 'checks.json'), 'utf8')) as Array<{
    id: string;
    status: string;
    description: string;
    errorMessage?: string;
  }>;
  const describeCheck = (c: (typeof checks)[number]) => `${c.id}: ${c.errorMessage ?? c.description}`;
  result.passed = checks.filter((c) => c.status === 'SUCCESS').length;
  result.failed = checks.filter((c) => c.status === 'FAILURE').map(describeCheck);
  result.warnings = checks.filter((c) => c.status === 'WARNING').map(describeCheck);
  const stdoutPath = join(dir, 'stdout.txt');
  const outcome = existsSync(stdoutPath) ? parseOutcome(readFileSync(stdoutPath, 'utf8')) : undefined;
  result.outcome = outcome;
  const expected = expectationFor(run.scenario, run.revision);
  if (!outcome) result.problems.push('the adapter reported no outcome (crashed or timed out?)');
  else if (outcome.kind !== expected.kind) {
    result.problems.push(`expected ${expected.kind} (${expected.why}), the adapter got ${outcome.kind}: ${outcome.detail}`);
  } else if (expected.loginError && outcome.logins.at(-1)?.loginError !== expected.loginError) {
    result.problems.push(`expected login_error=${expected.loginError}, the BFF said ${outcome.logins.at(-1)?.loginError ?? 'nothing'}`);
  }
  return result;
}

function isClean(r: ScenarioResult): boolean {
  return r.failed.length === 0 && r.warnings.length === 0 && r.problems.length === 0;
}

function printResult(r: ScenarioResult, details: boolean): void {
  const outcome = r.outcome ? `${r.outcome.kind}, ${r.outcome.logins.length} login(s)` : 'no outcome';
  const note = r.run.note ? ` (${r.run.note})` : '';
  const ok = isClean(r);
  console.log(
    `${ok ? '✓' : '✗'} ${r.run.scenario}${note}: ${r.passed} passed, ${r.failed.length} failed, ${r.warnings.length} warnings; BFF: ${outcome}`,
  );
  if (ok) return;
  if (!details) {
    // Not scored: one line of what failed, the rest is in the results directory.
    const ids = [...new Set([...r.failed, ...r.warnings].map((c) => c.slice(0, c.indexOf(':'))))];
    if (ids.length > 0) console.log(`    not passed: ${ids.join(', ')}`);
    return;
  }
  for (const f of r.failed) console.log(`    FAILURE ${f}`);
  for (const w of r.warnings) console.log(`    WARNING ${w}`);
  for (const p of r.problems) console.log(`    ADAPTER ${p}`);
  if (r.problems.length === 0 && r.outcome && r.outcome.kind !== 'completed') console.log(`    (${r.outcome.detail})`);
}

async function main(): Promise<number> {
  const started = Date.now();
  const args = parseArgs(process.argv.slice(2));
  const node = node22();
  const cli = conformanceCli();
  const version = spawnSync(node, [cli, '--version'], { encoding: 'utf8' }).stdout.trim();
  // The adapter runs on this process's Node (the project's), never on the suite's Node 22.
  const command = `${process.execPath} --import tsx ${join(root, 'conformance/adapter.ts')}`;
  const outDir = join(root, 'conformance/results', new Date().toISOString().replace(/[:.]/g, '-'));
  mkdirSync(outDir, { recursive: true });
  const runs = plan(args, node, cli);
  console.log(`MCP conformance suite ${version} on Node ${spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim()}`);
  console.log(`client under test: the BFF + browser stand-in on Node ${process.version} (conformance/adapter.ts)`);
  console.log(`${runs.length} scenario run(s), ${args.parallel} at a time; results: ${relative(root, outDir)}\n`);

  const results: ScenarioResult[] = [];
  const queue = [...runs];
  const worker = async () => {
    for (let run = queue.shift(); run; run = queue.shift()) {
      const r = await runScenario(node, cli, command, run, outDir, args);
      results.push(r);
      const tag = r.run.section === 'not_scored' ? ' (not scored)' : '';
      console.log(`[${results.length}/${runs.length}] ${isClean(r) ? '✓' : '✗'} ${run.revision} ${run.scenario}${tag} ${r.seconds.toFixed(1)}s`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(args.parallel, runs.length) }, worker));

  let bad = 0;
  let judged = 0;
  const order = (a: ScenarioResult, b: ScenarioResult) => runs.indexOf(a.run) - runs.indexOf(b.run);
  for (const revision of [...new Set(runs.map((r) => r.revision))]) {
    const mine = results.filter((r) => r.run.revision === revision).sort(order);
    for (const section of ['required', 'selected'] as const) {
      const list = mine.filter((r) => r.run.section === section);
      if (list.length === 0) continue;
      const clean = list.filter(isClean).length;
      judged += list.length;
      bad += list.length - clean;
      const title = section === 'required' ? `required by ${revision}` : `selected, at the ${revision} wire`;
      console.log(`\n══ ${title}: ${clean}/${list.length} clean ══`);
      for (const r of list) printResult(r, true);
    }
    const extra = mine.filter((r) => r.run.section === 'not_scored');
    if (extra.length > 0) {
      console.log(`\n── not scored for ${revision} (run for visibility; never fails the run): ${extra.filter(isClean).length}/${extra.length} clean ──`);
      for (const r of extra) printResult(r, args.verbose);
    }
  }
  const seconds = Math.round((Date.now() - started) / 1000);
  console.log(`\n${judged - bad}/${judged} judged scenario runs clean (no failure, no warning, expected BFF behaviour); wall time ${seconds}s`);
  console.log(`details: ${relative(root, outDir)}/<revision>/<scenario>.log and <scenario>-<time>/{checks.json,stdout.txt,stderr.txt}`);
  return bad > 0 || judged === 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
