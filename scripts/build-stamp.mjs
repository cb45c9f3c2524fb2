// The build stamp: which sources `pnpm build` built from, by content. scripts/build.mjs writes it next to
// the built server; scripts/serve.mjs compares it with the sources before starting, so a checkout whose
// sources changed since the last build (a `git pull`, an edit) refuses to start an old build.
//
// By content, not by modification time: a fresh clone or a checkout sets every file's mtime to "now",
// which says nothing about whether the build matches; the same bytes always give the same hash.
// Plain JavaScript (no TypeScript, no dependencies): it runs before anything is built.

import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/** Where the build stamp lives, relative to the repository root. */
export const STAMP_PATH = 'bff/dist/build.json';
/** The built server, relative to the repository root. */
export const SERVER_PATH = 'bff/dist/main.js';
/** The built SPA's page, relative to the repository root. */
export const SPA_INDEX_PATH = 'web/dist/index.html';

/**
 * What the build reads: the BFF's and the SPA's sources, the shared module, how they are built, and
 * the lockfile (the SPA bundles its dependencies). Directories are taken whole, so a file added to one
 * makes the build stale too. Missing entries (web/public is optional) are simply absent.
 */
export const SOURCES = [
  'bff/src',
  'bff/package.json',
  'shared/src',
  'shared/package.json',
  'web/src',
  'web/public',
  'web/index.html',
  'web/vite.config.ts',
  'web/package.json',
  'web/scripts',
  'scripts/build.mjs',
  'scripts/build-stamp.mjs',
  'tsconfig.json',
  'tsconfig.base.json',
  'pnpm-lock.yaml',
];

/** Every source file (repository-relative, `/`-separated) with the SHA-256 of its content. */
export function hashSources(root) {
  const files = {};
  const visit = (path) => {
    const stat = statSync(path, { throwIfNoEntry: false });
    if (!stat) return;
    if (stat.isDirectory()) {
      for (const name of readdirSync(path).sort()) {
        // Editor and OS leftovers (.DS_Store, .swp) are never part of the build.
        if (!name.startsWith('.')) visit(join(path, name));
      }
      return;
    }
    if (!stat.isFile()) return;
    files[relative(root, path).split(sep).join('/')] = createHash('sha256').update(readFileSync(path)).digest('hex');
  };
  for (const source of SOURCES) visit(join(root, source));
  return files;
}

/**
 * Whether the build in `root` can be started: `{ ok: true, stamp }`, or `{ ok: false, message }` with
 * what is wrong and what to do, in words for the person starting it.
 */
export function checkBuild(root) {
  const rebuild = 'Run `pnpm build` in this checkout, then start it again.';
  const stampFile = join(root, STAMP_PATH);
  if (!existsSync(stampFile)) {
    return {
      ok: false,
      message: `No build to start: ${STAMP_PATH} is missing (the build was never made, or did not finish). ${rebuild}`,
    };
  }
  let stamp;
  try {
    stamp = JSON.parse(readFileSync(stampFile, 'utf8'));
  } catch (error) {
    return { ok: false, message: `The build stamp ${STAMP_PATH} cannot be read (${error.message}). ${rebuild}` };
  }
  if (typeof stamp !== 'object' || stamp === null || typeof stamp.files !== 'object' || stamp.files === null) {
    return { ok: false, message: `The build stamp ${STAMP_PATH} is not one \`pnpm build\` wrote. ${rebuild}` };
  }
  for (const output of [SERVER_PATH, SPA_INDEX_PATH]) {
    if (!existsSync(join(root, output))) {
      return { ok: false, message: `The build is incomplete: ${output} is missing. ${rebuild}` };
    }
  }
  const now = hashSources(root);
  const changes = [];
  for (const [file, hash] of Object.entries(now)) {
    if (!(file in stamp.files)) changes.push(`${file} was added`);
    else if (stamp.files[file] !== hash) changes.push(`${file} changed`);
  }
  for (const file of Object.keys(stamp.files)) if (!(file in now)) changes.push(`${file} was removed`);
  if (changes.length > 0) {
    const shown = changes.slice(0, 3).join(', ');
    const more = changes.length > 3 ? ` and ${changes.length - 3} more` : '';
    return {
      ok: false,
      message: `The build is older than the sources: since \`pnpm build\` at ${stamp.builtAt ?? 'an unknown time'}, ${shown}${more}. ${rebuild}`,
    };
  }
  return { ok: true, stamp };
}
