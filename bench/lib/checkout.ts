import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository this bench/ belongs to. */
export const REPO = fileURLToPath(new URL('../../', import.meta.url));

export interface Checkout {
  /** The checkout's bff/ directory, for servers/bff.ts's BENCH_BFF_ROOT. */
  bffRoot: string;
  /** Short commit hash. */
  commit: string;
  subject: string;
  remove: () => void;
}

/** A detached git worktree of `ref` in `dir`, sharing this checkout's installed packages. */
export function checkout(ref: string, dir: string): Checkout {
  const git = (...args: string[]) => execFileSync('git', ['-C', REPO, ...args], { encoding: 'utf8' }).trim();
  const commit = git('rev-parse', '--short', `${ref}^{commit}`);
  const subject = git('log', '-1', '--format=%s', commit);
  git('worktree', 'add', '--detach', '--force', dir, commit);
  for (const sub of ['', 'shared', 'demo']) {
    const modules = join(REPO, sub, 'node_modules');
    if (existsSync(modules) && !existsSync(join(dir, sub, 'node_modules'))) symlinkSync(modules, join(dir, sub, 'node_modules'));
  }
  linkBffModules(join(dir, 'bff', 'node_modules'));
  return { bffRoot: join(dir, 'bff'), commit, subject, remove: () => git('worktree', 'remove', '--force', dir) };
}

/**
 * The checkout's bff/node_modules: this checkout's packages, one link each, except that an older BFF
 * that imports `better-sqlite3` directly gets the build this Node can load. better-sqlite3 13 needs
 * Node-API 10 (Node 22+) and crashes Node 20 (SIGSEGV); today's store picks `better-sqlite3-node20`
 * itself (bff/src/store/sqlite-driver.ts), a BFF from before that choice does not.
 */
function linkBffModules(target: string): void {
  if (existsSync(target)) return;
  const source = join(REPO, 'bff', 'node_modules');
  if (!existsSync(source)) return;
  mkdirSync(target);
  const nodeApi = Number(process.versions.napi);
  for (const name of readdirSync(source)) {
    const from = name === 'better-sqlite3' && nodeApi < 10 && existsSync(join(source, 'better-sqlite3-node20')) ? 'better-sqlite3-node20' : name;
    symlinkSync(join(source, from), join(target, name));
  }
}
