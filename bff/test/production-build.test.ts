import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_SESSION_SECRET } from '../../demo/src/stack.js';
import { buildCheck, ensureBuilt, ROOT } from './build-support.js';
import { type BffProcess, newKey, startBffProcess, tempDir } from './vault-support.js';

/**
 * `pnpm build` then `pnpm serve`, as an operator runs them: the built server started with plain Node
 * (no tsx, nothing built at start), several at once from one checkout, and a clear refusal when the
 * build is missing or older than the sources.
 */

/** Every file under the build outputs with its size and modification time: starting must change none. */
function outputs(): string {
  const lines: string[] = [];
  const visit = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) visit(path);
      else {
        const stat = statSync(path);
        lines.push(`${path} ${stat.size} ${stat.mtimeMs}`);
      }
    }
  };
  visit(join(ROOT, 'bff/dist'));
  visit(join(ROOT, 'web/dist'));
  return lines.sort().join('\n');
}

const env = () => ({
  PUBLIC_URL: 'http://localhost:3000',
  MCP_SERVER_URL: 'http://127.0.0.1:9/mcp',
  SESSION_SECRET: DEMO_SESSION_SECRET,
  ALLOW_HTTP_LOOPBACK: '1',
  TOKEN_STORE: 'memory',
  LOG_LEVEL: 'warn',
});

describe('the built server', () => {
  const started: BffProcess[] = [];
  const data = tempDir('built-sqlite');
  beforeAll(ensureBuilt, 120_000);
  afterAll(async () => {
    await Promise.all(started.map((p) => p.stop()));
    data.remove();
  });

  it('three instances started at once from one checkout all come up, serve the SPA and the API, and write nothing into the build', async () => {
    const before = outputs();
    // The default store, SQLite: the native driver loads from the bundle (one file per instance here).
    const listening = (n: number) => ({ ...env(), LOG_LEVEL: 'info', TOKEN_STORE: `sqlite:${join(data.path, `${n}.db`)}`, TOKEN_ENCRYPTION_KEYS: newKey('k1').env });
    started.push(...(await Promise.all([1, 2, 3].map((n) => startBffProcess(listening(n), { built: true })))));
    for (const instance of started) {
      const health = await fetch(`${instance.url}/healthz`);
      expect(health.status).toBe(200);
      const page = await fetch(`${instance.url}/servers`);
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/<script type="module"[^>]+src="\/assets\/index-[\w-]+\.js"/);
      const session = await fetch(`${instance.url}/bff/session`, { headers: { 'x-csrf': '1' } });
      expect(session.status).toBe(200);
      expect(instance.output()).not.toMatch(/error/i);
    }
    expect(outputs()).toBe(before);
    expect(started[0]?.logs.find((l) => l.event === 'listening')).toMatchObject({ store: expect.stringMatching(/sqlite/i) });
  });

  it('SIGTERM on an idle instance: it stops at once, with exit code 0', async () => {
    const instance = await startBffProcess({ ...env(), LOG_LEVEL: 'info' }, { built: true });
    const t = Date.now();
    await instance.stop();
    expect(instance.exitCode()).toBe(0);
    expect(Date.now() - t).toBeLessThan(4_000);
    expect(instance.logs.map((l) => l.event)).toEqual(expect.arrayContaining(['shutting_down', 'stopped']));
  });
});

describe('a build that does not match the sources is refused', () => {
  // A copy of what the check reads (the launcher, the build, the stamped sources): edited freely here
  // while other tests use the real checkout's build.
  const copy = tempDir('build-check');
  const serve = () => spawnSync(process.execPath, [join(copy.path, 'scripts/serve.mjs')], { encoding: 'utf8', env: { ...process.env, ...env() }, timeout: 20_000 });

  beforeAll(async () => {
    await ensureBuilt();
    const check = buildCheck();
    if (!check.ok) throw new Error(check.message);
    for (const file of [...Object.keys(check.stamp.files), 'scripts/serve.mjs', 'bff/dist', 'web/dist/index.html']) {
      mkdirSync(dirname(join(copy.path, file)), { recursive: true });
      cpSync(join(ROOT, file), join(copy.path, file), { recursive: true });
    }
  }, 120_000);
  afterAll(() => copy.remove());

  it('the copy as built passes', () => {
    expect(buildCheck(copy.path)).toMatchObject({ ok: true });
  });

  it('a source changed since the build: the start fails at once, naming the file and saying to run pnpm build', () => {
    const file = join(copy.path, 'bff/src/log.ts');
    const original = statSync(file).size;
    appendFileSync(file, '\n// changed\n');
    const out = serve();
    expect(out.status).toBe(1);
    expect(out.stderr).toMatch(/^The build is older than the sources: since `pnpm build` at \S+, bff\/src\/log\.ts changed\. Run `pnpm build` in this checkout, then start it again\.\n$/);
    expect(out.stdout).toBe('');
    expect(statSync(file).size).toBeGreaterThan(original);
  });

  it('a source added or removed since the build: refused too', () => {
    appendFileSync(join(copy.path, 'web/src/added.ts'), 'export {};\n');
    rmSync(join(copy.path, 'shared/src/api.ts'));
    const out = serve();
    expect(out.status).toBe(1);
    expect(out.stderr).toContain('web/src/added.ts was added');
    expect(out.stderr).toContain('shared/src/api.ts was removed');
  });

  it('only the modification times changed (a fresh checkout): not stale', () => {
    // What git does on a clone or checkout: every file's mtime is "now", later than the build.
    const check = buildCheck(ROOT);
    expect(check.ok).toBe(true);
    const fresh = tempDir('build-mtime');
    try {
      for (const file of ['scripts/build-stamp.mjs', 'bff/dist', 'web/dist/index.html', ...Object.keys(check.ok ? check.stamp.files : {})]) {
        mkdirSync(dirname(join(fresh.path, file)), { recursive: true });
        // cpSync without preserveTimestamps: every copy is newer than the build.
        cpSync(join(ROOT, file), join(fresh.path, file), { recursive: true });
      }
      expect(buildCheck(fresh.path)).toMatchObject({ ok: true });
    } finally {
      fresh.remove();
    }
  });

  it('no build at all: the start fails at once and says to run pnpm build', () => {
    rmSync(join(copy.path, 'bff/dist'), { recursive: true });
    const out = serve();
    expect(out.status).toBe(1);
    expect(out.stderr).toBe(
      'No build to start: bff/dist/build.json is missing (the build was never made, or did not finish). Run `pnpm build` in this checkout, then start it again.\n',
    );
  });
});
