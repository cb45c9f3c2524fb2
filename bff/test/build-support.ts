import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkBuild } from '../../scripts/build-stamp.mjs';
import { until } from './vault-support.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

/** scripts/build-stamp.mjs's check of the build in `root`. */
export function buildCheck(root = ROOT): ReturnType<typeof checkBuild> {
  return checkBuild(root);
}

/**
 * Makes sure this checkout has a fresh build (`pnpm build`), building it when it has none or an old
 * one. Test files run in parallel: one builds, under a lock directory, the others wait for it.
 */
export async function ensureBuilt(): Promise<void> {
  if (buildCheck().ok) return;
  const lock = join(ROOT, 'node_modules/.cache/mcp-bff-test-build.lock');
  mkdirSync(dirname(lock), { recursive: true });
  let mine = false;
  await until(
    () => {
      try {
        mkdirSync(lock);
        mine = true;
        return true;
      } catch {
        return buildCheck().ok;
      }
    },
    120_000,
    'another test file to finish `pnpm build`',
  );
  if (!mine) return;
  try {
    if (buildCheck().ok) return;
    const output: string[] = [];
    const child = spawn('pnpm', ['build'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => output.push(d.toString()));
    child.stderr.on('data', (d: Buffer) => output.push(d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0) throw new Error(`pnpm build failed (exit ${code}):\n${output.join('')}`);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
