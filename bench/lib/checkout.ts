import { execFileSync } from 'node:child_process';
import { existsSync, symlinkSync } from 'node:fs';
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
  for (const sub of ['', 'bff', 'shared', 'demo']) {
    const modules = join(REPO, sub, 'node_modules');
    if (existsSync(modules) && !existsSync(join(dir, sub, 'node_modules'))) symlinkSync(modules, join(dir, sub, 'node_modules'));
  }
  return { bffRoot: join(dir, 'bff'), commit, subject, remove: () => git('worktree', 'remove', '--force', dir) };
}
