import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { delimiter, dirname, join, relative, sep } from 'node:path';
import { type NodeBinary, nodeBinary, npmEnvironment, root } from './node-binary.js';

/**
 * The tests on another Node.js version, as an operator would run them there: a copy of this working
 * tree, `pnpm install` on that Node (native modules are built, or chosen, for it), then the whole
 * unit/integration suite and one Playwright test through the real stack, all on that Node.
 *
 *   pnpm test:node24                          (package.json pins the exact version)
 *   tsx scripts/test-node.ts 22.23.3          any exact version from the npm `node` package
 *
 * Why a copy rather than this tree: a native module has one build per directory, and this tree's is for
 * the Node running pnpm (better-sqlite3 12, the SQLite driver on Node 20: bff/src/store/sqlite-driver.ts);
 * rebuilding it in place would break any test running here meanwhile, and leave it broken if interrupted.
 * The copy is .test-node/node-<major> (git-ignored), with its own node_modules kept between runs (the next
 * install only relinks); everything else in it is replaced by this tree's files (tracked, and untracked
 * but not ignored) on every run. Test results stay there. Not under node_modules/.cache: Node 22.18+ and
 * 24 refuse to strip the types of a .ts file under a node_modules directory
 * (ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING), which is how Playwright loads its config there.
 *
 * Why it is on that Node throughout: its directory comes first on PATH, so `pnpm` (corepack's shim, `env
 * node`), the Playwright web server's `pnpm exec tsx` and every script run on it; vitest's workers and the
 * suites' child BFFs (vault-support.ts, hostile-support.ts) start with process.execPath.
 *
 * Native builds need that Node's headers: npm_config_nodedir points at the ones in its npm package, so
 * nothing is downloaded and a user or machine npmrc `nodedir` (like Debian's /usr, for its own Node) does
 * not build for another Node. On Node 22 and 24 the BFF's SQLite driver is better-sqlite3 13, prebuilt
 * for Node-API and not compiled at all; the install still compiles the optional Node 20 driver, unused.
 */

const version = process.argv[2] ?? '';
if (!/^\d+\.\d+\.\d+$/.test(version)) {
  console.error('usage: tsx scripts/test-node.ts <exact Node.js version, e.g. 24.21.0>');
  process.exit(2);
}
// Before anything slow: the Playwright test needs Chromium.
await import('../e2e/check-browser.js');

/** What the BFF's SQLite store opens its database with, on this Node. */
const SQLITE_CHECK = `
const { Database } = await import('./src/store/sqlite-driver.ts');
const { v } = new Database(':memory:').prepare('SELECT sqlite_version() AS v').get();
console.log('SQLite ' + v + ' on Node-API ' + process.versions.napi);
`;

const started = Date.now();
const steps: Array<[string, number]> = [];
const node = nodeBinary(version);
const tree = join(root, '.test-node', `node-${version.split('.')[0]}`);
const env = environment(node);

step('copy of the working tree', () => copyWorkingTree(root, tree));
step(`pnpm install on Node ${version}`, () => run('pnpm', ['install', '--frozen-lockfile', '--prefer-offline']));
step('the SQLite driver loads', () =>
  run(node.bin, ['--import', 'tsx', '--input-type=module', '-e', SQLITE_CHECK], { cwd: join(tree, 'bff') }),
);
step('unit and integration suite (vitest)', () => run(node.bin, ['node_modules/vitest/vitest.mjs', 'run']));
step('build (the SPA the Playwright test is served)', () => run('pnpm', ['build']));
step('one Playwright test through the real stack', () =>
  run(node.bin, ['node_modules/@playwright/test/cli.js', 'test', 'e2e/app.spec.ts', '--grep', 'a person logs in across sites'], {
    env: { ...env, ...e2ePorts() },
  }),
);

console.log(`\nNode ${version}: all passed in ${seconds(Date.now() - started)}`);
for (const [name, ms] of steps) console.log(`  ${seconds(ms).padStart(6)}  ${name}`);

function step(name: string, action: () => void): void {
  console.log(`\n── Node ${version}: ${name} ──`);
  const t = Date.now();
  action();
  steps.push([name, Date.now() - t]);
}

function run(command: string, args: string[], options: SpawnSyncOptions = {}): void {
  const result = spawnSync(command, args, { cwd: tree, env, stdio: 'inherit', ...options });
  if (result.status !== 0) {
    console.error(
      `\nNode ${version}: \`${[command === node.bin ? 'node' : command, ...args].join(' ')}\` failed (${result.error?.message ?? `exit ${result.status ?? result.signal}`}).` +
        `\n  The copy it ran in, with test-results/ and playwright-report/: ${relative(root, tree)}`,
    );
    process.exit(1);
  }
}

/** The environment of a shell where `node` is that Node, without what the calling pnpm script added. */
function environment(node: NodeBinary): NodeJS.ProcessEnv {
  // The calling script's node_modules/.bin directories (this tree's tsx, vitest...) are left out.
  const path = (process.env.PATH ?? '').split(delimiter).filter((p) => p && !p.startsWith(root + sep));
  return { ...npmEnvironment(), PATH: [dirname(node.bin), ...path].join(delimiter), npm_config_nodedir: node.dir };
}

/** Ports of their own (the main run's plus 40), unless E2E_*_PORT say otherwise: another run may be on the defaults. */
function e2ePorts(): Record<string, string> {
  const own = { E2E_APP_PORT: '3350', E2E_AS_PORT: '4350', E2E_MCP_PORT: '4450', E2E_INSPECT_PORT: '4550' };
  return Object.fromEntries(Object.entries(own).map(([name, port]) => [name, process.env[name] ?? port]));
}

/** Makes `to` hold exactly `from`'s working tree files, keeping every node_modules directory in it. */
function copyWorkingTree(from: string, to: string): void {
  const listed = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: from, encoding: 'utf8' });
  if (listed.status !== 0) throw new Error(`git ls-files failed in ${from}: ${listed.stderr}`);
  const files = listed.stdout.split('\0').filter((f) => f && existsSync(join(from, f)));
  mkdirSync(to, { recursive: true });
  removeAllButNodeModules(to);
  for (const file of files) {
    mkdirSync(dirname(join(to, file)), { recursive: true });
    copyFileSync(join(from, file), join(to, file));
  }
  console.log(`${files.length} files into ${relative(root, to)}`);
}

function removeAllButNodeModules(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules') continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      removeAllButNodeModules(path);
      if (readdirSync(path).length === 0) rmSync(path, { recursive: true });
    } else rmSync(path, { force: true });
  }
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}
