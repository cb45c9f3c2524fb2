// `pnpm serve` (or `node scripts/serve.mjs`): starts the built server with plain Node, after checking
// that `pnpm build` made it from the sources in this checkout (scripts/build-stamp.mjs). Nothing is
// built or written here, so any number of instances can start from one checkout at once.
//
// `node bff/dist/main.js` starts the same server without the check, for an image that ships the build
// without its sources.

import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { checkBuild, SERVER_PATH } from './build-stamp.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const check = checkBuild(root);
if (!check.ok) {
  console.error(check.message);
  process.exit(1);
}
// Stack traces name bff/src's files and lines rather than the bundle's.
process.setSourceMapsEnabled(true);
await import(pathToFileURL(join(root, SERVER_PATH)).href);
