/**
 * Measures what the browser downloads to show the first page (`/`), gzipped: the entry chunk, the
 * servers page's own chunk and everything they import statically (the MCP SDK among them), and the
 * CSS. Fails the build when that passes the budget. Reads Vite's manifest; run after `vite build`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const BUDGET_BYTES = 250 * 1024;
const dist = join(import.meta.dirname, '../dist');
const manifest = JSON.parse(readFileSync(join(dist, '.vite/manifest.json'), 'utf8'));

function closure(keys) {
  const seen = new Set();
  const visit = (key) => {
    if (seen.has(key)) return;
    seen.add(key);
    for (const imported of manifest[key]?.imports ?? []) visit(imported);
  };
  for (const key of keys) visit(key);
  return seen;
}

const gz = (file) => gzipSync(readFileSync(join(dist, file))).length;
const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;
const sum = (keys) => [...keys].reduce((total, key) => total + gz(manifest[key].file), 0);

const entryKey = Object.keys(manifest).find((key) => manifest[key].isEntry);
const homeKey = Object.keys(manifest).find((key) => key.endsWith('routes/home.tsx'));
if (!entryKey || !homeKey) throw new Error('bundle-size: entry or home route not found in the manifest');

const entry = closure([entryKey]);
const firstPage = closure([entryKey, homeKey]);
const css = (manifest[entryKey].css ?? []).reduce((total, file) => total + gz(file), 0);
const entryJs = sum(entry);
const firstPageJs = sum(firstPage);

console.log(`initial JS, gzipped: entry ${kb(entryJs)}; first page (entry + servers page + MCP SDK) ${kb(firstPageJs)}; CSS ${kb(css)}`);
if (firstPageJs > BUDGET_BYTES) {
  console.error(`bundle-size: the first page's JS (${kb(firstPageJs)}) is over the ${kb(BUDGET_BYTES)} budget`);
  process.exit(1);
}
