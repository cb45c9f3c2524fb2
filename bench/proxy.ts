import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestBrowser } from '../bff/test/support.js';
import { type Checkout, checkout } from './lib/checkout.js';
import { CPU_LOAD, CPU_SERVERS, Child, freePort } from './lib/child.js';
import { processCpuMs } from './lib/cpu.js';
import { summarizeProfile } from './lib/profile.js';
import { LEGACY, MEASURED } from './lib/requests.js';
import { median } from './lib/stats.js';
import type { CannonResult, HttpTarget } from './load/worker.js';

/**
 * `pnpm bench:proxy`: the proxy's own CPU per call, steadily, for working on it. The full `pnpm bench`
 * measures next to the real demo MCP server, whose ~700 µs per call share the core and make a proxy's
 * 200–300 µs noisy from run to run; here the upstream is bench/servers/canned.ts, which answers the
 * measured call for next to nothing, so the BFF and the bare proxies are measured alone.
 * Knobs: PROXY_ROUNDS (5), PROXY_SECONDS (5), PROXY_CONCURRENCY (16), PROXY_SETUPS (bff,floor-hono-undici,
 * floor-node), PROXY_PROFILE=<dir> (every proxy runs under --cpu-prof; the profiles are kept there),
 * PROXY_NODE_ARGS (more node options for the proxies, e.g. --perf-basic-prof to read them with `perf`),
 * PROXY_BEFORE_REF=<git ref> (one more setup, `bff-before`: the BFF as it was at that commit, from a git
 * worktree, interleaved with the others: a change's effect measured side by side, not across runs).
 */
const ROUNDS = Number(process.env.PROXY_ROUNDS ?? 5);
const SECONDS = Number(process.env.PROXY_SECONDS ?? 5);
const CONCURRENCY = Number(process.env.PROXY_CONCURRENCY ?? 16);
const SETUPS = (process.env.PROXY_SETUPS ?? 'bff,floor-hono-undici,floor-node').split(',');
const PROFILE = process.env.PROXY_PROFILE;
const NODE_ARGS = (process.env.PROXY_NODE_ARGS ?? '').split(' ').filter(Boolean);
const BEFORE_REF = process.env.PROXY_BEFORE_REF;
if (BEFORE_REF && !SETUPS.includes('bff-before')) SETUPS.push('bff-before');

const log = (...args: unknown[]) => console.log(`[bench:proxy ${new Date().toISOString().slice(11, 19)}]`, ...args);
const children: Child[] = [];
const start = async (name: string, script: string, options: Parameters<typeof Child.start>[2]) => {
  const child = await Child.start(name, script, options);
  children.push(child);
  return child;
};

async function main(): Promise<void> {
  const tmp = join(tmpdir(), `mcp-bff-bench-proxy-${process.pid}`);
  mkdirSync(tmp, { recursive: true, mode: 0o700 });
  const [asPort, mcpPort, cannedPort, bffPort, bffBeforePort] = (await Promise.all(Array.from({ length: 5 }, freePort))) as [number, number, number, number, number];
  const issuer = `http://127.0.0.1:${asPort}`;
  // Tokens are issued for the canned server's URL: that is the URL every proxy sends to.
  const cannedUrl = `http://127.0.0.1:${cannedPort}/mcp`;
  const appUrl = `http://localhost:${bffPort}`;
  const beforeUrl = `http://localhost:${bffBeforePort}`;
  await start('auth server', 'servers/auth.ts', {
    cpus: CPU_SERVERS,
    args: [String(asPort), cannedUrl, [appUrl, beforeUrl].map((url) => `${url}/bff/callback/default`).join(',')],
  });
  await start('mcp server', 'servers/mcp.ts', { cpus: CPU_SERVERS, args: [String(mcpPort), cannedUrl, issuer] });
  await start('canned', 'servers/canned.ts', { cpus: CPU_SERVERS, args: [String(cannedPort), `http://127.0.0.1:${mcpPort}/mcp`] });
  /** Under PROXY_PROFILE every proxy runs under the CPU profiler, sampling every 100 µs. */
  const profiled = (setup: string) => [
    ...(PROFILE ? ['--cpu-prof', '--cpu-prof-dir', join(tmp, `profile-${setup}`), '--cpu-prof-interval', '100'] : []),
    ...NODE_ARGS,
  ];
  const bff = await start('bff', 'servers/bff.ts', {
    cpus: CPU_SERVERS,
    args: [String(bffPort), cannedUrl, `sqlite:${join(tmp, 'bff.db')}`],
    nodeArgs: profiled('bff'),
    stdout: 'ignore',
  });
  let before: Checkout | undefined;
  let bffBefore: Child | undefined;
  if (BEFORE_REF) {
    before = checkout(BEFORE_REF, join(tmp, 'before'));
    log(`bff-before: ${before.commit} ${before.subject}`);
    bffBefore = await start('bff-before', 'servers/bff.ts', {
      cpus: CPU_SERVERS,
      args: [String(bffBeforePort), cannedUrl, `sqlite:${join(tmp, 'bff-before.db')}`],
      nodeArgs: profiled('bff-before'),
      stdout: 'ignore',
      env: { BENCH_BFF_ROOT: before.bffRoot },
    });
  }
  const load = await start('load', 'load/worker.ts', { cpus: CPU_LOAD });

  const call = MEASURED[LEGACY];
  /** Logs in at the BFF serving `url`: its browser, and the measured call to it with that session. */
  const loggedIn = async (url: string, name: string) => {
    const browser = new TestBrowser(url);
    await browser.login();
    const cookie = browser.jar.header(new URL(url));
    if (!cookie) throw new Error(`${name}: no session cookie after login`);
    const target: HttpTarget = { url: `${url.replace('localhost', '127.0.0.1')}/mcp/default`, headers: { ...call.headers, cookie, 'x-csrf': '1' }, body: call.body };
    return { browser, target };
  };
  const ours = await loggedIn(appUrl, 'bff');
  const accessToken = await bff.call<string>('accessToken', await ours.browser.sessionId());

  const proxies: Record<string, Child> = { bff };
  const targets: Record<string, { target: HttpTarget; pid: number }> = { bff: { target: ours.target, pid: bff.pid } };
  if (bffBefore) {
    proxies['bff-before'] = bffBefore;
    targets['bff-before'] = { target: (await loggedIn(beforeUrl, 'bff-before')).target, pid: bffBefore.pid };
  }
  for (const setup of SETUPS.filter((s) => s.startsWith('floor-'))) {
    const port = await freePort();
    const floor = await start(setup, 'servers/floor.ts', {
      cpus: CPU_SERVERS,
      args: [setup.replace('floor-', ''), String(port), cannedUrl, accessToken],
      nodeArgs: profiled(setup),
    });
    proxies[setup] = floor;
    targets[setup] = { target: { url: `http://127.0.0.1:${port}/mcp`, ...call }, pid: floor.pid };
  }

  log(`pids: ${Object.entries(targets).map(([setup, t]) => `${setup}=${t.pid}`).join(' ')}`);
  const samples: Record<string, Array<{ cpu: number; rps: number }>> = {};
  for (const setup of SETUPS) {
    const t = targets[setup];
    if (!t) throw new Error(`unknown setup ${setup}`);
    await load.call<CannonResult>('cannon', { ...t.target, connections: CONCURRENCY, seconds: 2 });
  }
  for (let round = 1; round <= ROUNDS; round++) {
    for (const setup of SETUPS) {
      const t = targets[setup]!;
      const before = processCpuMs(t.pid);
      const r = await load.call<CannonResult>('cannon', { ...t.target, connections: CONCURRENCY, seconds: SECONDS });
      const cpu = ((processCpuMs(t.pid) - before) * 1000) / Math.max(1, r.requests);
      if (r.non2xx > 0 || r.errors > 0) throw new Error(`${setup}: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
      samples[setup] = [...(samples[setup] ?? []), { cpu, rps: r.rps }];
      log(`${setup.padEnd(18)} round ${round}: ${r.rps.toFixed(0)} req/s, ${cpu.toFixed(0)} µs CPU/call`);
    }
  }
  console.log(`\nconcurrency ${CONCURRENCY}, ${ROUNDS} rounds of ${SECONDS} s (median; min–max)`);
  const floorCpu = samples['floor-hono-undici'] ? median(samples['floor-hono-undici'].map((s) => s.cpu)) : undefined;
  for (const setup of SETUPS) {
    const cpus = samples[setup]!.map((s) => s.cpu);
    const rps = median(samples[setup]!.map((s) => s.rps));
    const m = median(cpus);
    const ratio = floorCpu ? ` (${(m / floorCpu).toFixed(2)}× Hono + undici)` : '';
    console.log(`${setup.padEnd(18)} ${m.toFixed(0)} µs/call (${Math.min(...cpus).toFixed(0)}–${Math.max(...cpus).toFixed(0)})${ratio}, ${rps.toFixed(0)} req/s`);
  }
  if (PROFILE) {
    mkdirSync(PROFILE, { recursive: true });
    for (const setup of SETUPS) {
      await proxies[setup]?.stop();
      const dir = join(tmp, `profile-${setup}`);
      const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
      if (!file) throw new Error(`no .cpuprofile written by ${setup}`);
      const kept = join(PROFILE, `${setup}.cpuprofile`);
      copyFileSync(join(dir, file), kept);
      const top = summarizeProfile(kept, 15).topSelf.map((f) => `  ${f.pct.toFixed(1).padStart(5)}% ${f.name} ${f.where}`);
      console.log(`\n${setup}: ${kept}\n${top.join('\n')}`);
    }
  }
  before?.remove();
  rmSync(tmp, { recursive: true, force: true });
}

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => Promise.all(children.map((c) => c.stop())));
