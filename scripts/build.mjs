// `pnpm build`: the SPA into web/dist (Vite), the BFF into bff/dist/main.js (one ES module bundled by
// esbuild: bff/src and the shared module compiled once, its npm dependencies left to node_modules), and
// last the build stamp (scripts/build-stamp.mjs) that `pnpm serve` checks before starting.
//
// The sources are hashed before anything is built: a file edited while the build runs leaves the
// stamp naming its old content, so the next start says the build is stale rather than passing it.
// The stamp is removed first and written last, so an interrupted or failed build never passes for a
// finished one.

import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { hashSources, SERVER_PATH, STAMP_PATH } from './build-stamp.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const started = Date.now();

rmSync(join(root, STAMP_PATH), { force: true });
const files = hashSources(root);

// A production bundle whatever NODE_ENV the caller has (vitest sets `test`, which would bundle React's
// development build).
const web = spawnSync('pnpm', ['--filter', '@mcp-bff/web', 'build'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, NODE_ENV: 'production' },
  shell: process.platform === 'win32',
});
if (web.status !== 0) {
  console.error(`\nThe SPA build failed (${web.error?.message ?? `exit ${web.status ?? web.signal}`}); nothing was stamped.`);
  process.exit(1);
}

// npm packages stay external: node_modules has them at run time, built for this platform and Node
// (better-sqlite3 is a native addon, and bff/src/store/sqlite-driver.ts picks between two of them with
// require() at run time). The workspace's own shared module is TypeScript and is compiled in.
const manifest = JSON.parse(readFileSync(join(root, 'bff/package.json'), 'utf8'));
const external = Object.keys({ ...manifest.dependencies, ...manifest.optionalDependencies }).filter((name) => !name.startsWith('@mcp-bff/'));
const outDir = join(root, dirname(SERVER_PATH));
rmSync(outDir, { recursive: true, force: true });
try {
  await build({
    absWorkingDir: root,
    entryPoints: ['bff/src/main.ts'],
    outfile: SERVER_PATH,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20.19',
    external,
    sourcemap: 'linked',
    keepNames: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
} catch {
  // esbuild has printed what failed.
  console.error('\nThe BFF build failed; nothing was stamped.');
  process.exit(1);
}

mkdirSync(outDir, { recursive: true });
const stamp = { builtAt: new Date().toISOString(), node: process.version, files };
const partial = join(root, `${STAMP_PATH}.${process.pid}.partial`);
writeFileSync(partial, `${JSON.stringify(stamp, null, 1)}\n`);
renameSync(partial, join(root, STAMP_PATH));
console.log(`\nBuilt the SPA (web/dist) and the server (${SERVER_PATH}) in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
