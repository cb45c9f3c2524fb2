import { execSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestBrowser } from '../bff/test/support.js';
import { type Checkout, checkout } from './lib/checkout.js';
import { CPU_LOAD, CPU_SERVERS, Child, freePort } from './lib/child.js';
import { cpuTicks, processCpuMs, TICKS_PER_SECOND, threadCpuMs } from './lib/cpu.js';
import { findNginx, type Nginx, startNginx } from './lib/nginx.js';
import { type Frame, summarizeProfile } from './lib/profile.js';
import { type Era, ERAS, LEGACY, MEASURED, MODERN } from './lib/requests.js';
import { median } from './lib/stats.js';
import type { CannonResult, HttpTarget } from './load/worker.js';

/**
 * `pnpm bench:compare [ref]`: the BFF of this working tree against the BFF at a git ref (default HEAD),
 * for checking one change before running the whole `pnpm bench`. Both run side by side on the same
 * demo MCP server and authorization server, pinned like the bench (servers on CPU_SERVERS, autocannon on
 * CPU_LOAD), in interleaved rounds (the order reversed every other round); prints the median req/s, BFF
 * CPU time per call and p50 of each, and the machine's load.
 *
 * `pnpm bench:compare --eras [ref]`: one BFF (this working tree's, or the one at ref) with the same echo
 * call in both protocol eras, 2025-11-25 and 2026-07-28 (bench/lib/requests.ts), interleaved; prints
 * the 2026-07-28 / 2025-11-25 ratio of BFF CPU per call, whose target is ≤ 1.10. JSON answers only (the
 * 2026-07-28 echo is answered as JSON whatever the server's mode). nginx, when installed, goes through
 * the same pairs as a control: its ratio is what the longer request and answer cost any proxy, plus how
 * the slower 2026-07-28 upstream changes the batching of a proxy that shares its core. BENCH_RATE=<req/s>
 * caps the offered load, the same for both eras, so that the upstream's speed does not move the batching.
 *
 * `--cpu-prof` (with either): the BFF(s) run under `node --cpu-prof`; each setup's samples are taken
 * from its own timed windows and printed as µs per call per frame, with the difference between the
 * last two setups (2026-07-28 − 2025-11-25, or working tree − ref). CPU per call is then inflated by
 * the profiler; read the ratios from a run without it. Profiles are kept in bench/results/.
 *
 * Knobs: BENCH_ROUNDS (5), BENCH_SECONDS (4), BENCH_CONCURRENCY (1,16), BENCH_MODE (json or sse), BENCH_RATE,
 * BENCH_TOKEN_STORE (sqlite, memory or a redis:// URL), BENCH_RESULTS_DIR (where profiles go; bench/results/).
 */
const argv = process.argv.slice(2);
const ERAS_MODE = argv.includes('--eras');
const PROFILE = argv.includes('--cpu-prof');
const unknown = argv.filter((a) => a.startsWith('--') && a !== '--eras' && a !== '--cpu-prof');
const REF_ARG = argv.find((a) => !a.startsWith('--'));
const REF = REF_ARG ?? 'HEAD';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,16').split(',').map(Number);
const MODE = process.env.BENCH_MODE ?? 'json';
const RATE = process.env.BENCH_RATE ? Number(process.env.BENCH_RATE) : undefined;
/** The ratio of 2026-07-28 to 2025-11-25 BFF CPU per call that the eras comparison must stay under. */
const ERA_TARGET = 1.1;
const RESULTS_DIR = process.env.BENCH_RESULTS_DIR ?? fileURLToPath(new URL('./results/', import.meta.url));

const children: Child[] = [];
let base: Checkout | undefined;
let nginx: Nginx | undefined;
const tmp = join(tmpdir(), `mcp-bff-compare-${process.pid}`);

interface Target {
  name: string;
  /** The proxy it goes through: a BFF (variant) or nginx. */
  variant: string;
  era: Era;
  /** The processes whose CPU time is the proxy's. */
  pids: () => number[];
  /** The BFF, for its profiler's clock; none for nginx. */
  bff?: Child | undefined;
  target: HttpTarget;
}
interface Run {
  rps: number;
  cpuUs: number;
  /** The proxy's main thread alone (JavaScript and its syscalls; not V8's GC helpers, libuv's pool or the profiler). */
  mainUs: number;
  p50: number;
}

function uptime(): string {
  try {
    return execSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return `load average: ${loadavg().map((l) => l.toFixed(2)).join(', ')}`;
  }
}

async function main(): Promise<() => void> {
  if (unknown.length) throw new Error(`unknown option ${unknown.join(' ')} (known: --eras, --cpu-prof)`);
  if (ERAS_MODE && MODE !== 'json') throw new Error('--eras compares JSON answers only: a 2026-07-28 echo is answered as JSON whatever BENCH_MODE says');
  const loadStart = uptime();
  console.log(`load at start: ${loadStart}`);
  const ticksStart = cpuTicks();
  const startedAt = Date.now();
  mkdirSync(tmp, { recursive: true, mode: 0o700 });
  if (!ERAS_MODE || REF_ARG) base = checkout(REF, join(tmp, 'base'));
  const [asPort, mcpPort, basePort, workPort, nginxPort] = (await Promise.all(Array.from({ length: 5 }, freePort))) as [number, number, number, number, number];
  const issuer = `http://127.0.0.1:${asPort}`;
  const mcpUrl = `http://127.0.0.1:${mcpPort}/mcp`;
  const appUrl = (port: number) => `http://localhost:${port}`;
  const start = async (name: string, script: string, options: Parameters<typeof Child.start>[2]) => {
    const child = await Child.start(name, script, options);
    children.push(child);
    return child;
  };
  await start('auth server', 'servers/auth.ts', {
    cpus: CPU_SERVERS,
    // Today's BFF logs in at /bff/callback/<server>; one at a ref from before e4d1a56 at /bff/callback.
    args: [String(asPort), mcpUrl, [basePort, workPort].flatMap((p) => [`${appUrl(p)}/bff/callback/default`, `${appUrl(p)}/bff/callback`]).join(',')],
  });
  const mcp = await start('mcp server', 'servers/mcp.ts', { cpus: CPU_SERVERS, args: [String(mcpPort), mcpUrl, issuer] });
  const store = (name: string) => (process.env.BENCH_TOKEN_STORE ?? 'sqlite').replace(/^sqlite$/, `sqlite:${join(tmp, `${name}.db`)}`);
  const atRef = base ? [{ name: `${base.commit} (${REF})`, port: basePort, env: { BENCH_BFF_ROOT: base.bffRoot } }] : [];
  const workingTree = ERAS_MODE && REF_ARG ? [] : [{ name: 'working tree', port: workPort, env: {} }];
  const variants = [...atRef, ...workingTree];
  const eras = ERAS_MODE ? ERAS : [LEGACY];
  const profileDir = (port: number) => join(tmp, `profile-${port}`);

  const targets: Target[] = [];
  for (const v of variants) {
    const bff = await start(v.name, 'servers/bff.ts', {
      cpus: CPU_SERVERS,
      args: [String(v.port), mcpUrl, store(String(v.port))],
      stdout: 'ignore',
      env: v.env,
      nodeArgs: PROFILE ? ['--cpu-prof', '--cpu-prof-dir', profileDir(v.port)] : [],
    });
    const browser = new TestBrowser(appUrl(v.port));
    await browser.login();
    const cookie = browser.jar.header(new URL(appUrl(v.port)));
    if (!cookie) throw new Error(`${v.name}: no session cookie after login`);
    for (const era of eras) {
      const { headers, body } = MEASURED[era];
      targets.push({
        name: ERAS_MODE ? `${v.name}, ${era}` : v.name,
        variant: v.name,
        era,
        pids: () => [bff.pid],
        bff,
        target: { url: `http://127.0.0.1:${v.port}/mcp/default`, headers: { ...headers, cookie, 'x-csrf': '1' }, body },
      });
    }
    const binary = findNginx();
    if (ERAS_MODE && !nginx && binary) {
      const accessToken = await bff.call<string>('accessToken', await browser.sessionId());
      const proxy = await startNginx({ binary, dir: join(tmp, 'nginx'), port: nginxPort, upstreamPort: mcpPort, accessToken, cpus: CPU_SERVERS });
      nginx = proxy;
      for (const era of eras) {
        const { headers, body } = MEASURED[era];
        targets.push({ name: `nginx, ${era}`, variant: 'nginx', era, pids: () => proxy.pids(), target: { url: `${proxy.url}/mcp`, headers, body } });
      }
    }
  }
  const load = await start('load', 'load/worker.ts', { cpus: CPU_LOAD });
  await mcp.call('mode', MODE);
  // The same answer from every setup before any is timed (a modern call answered as SSE, or refused, would compare nothing).
  for (const t of targets) {
    const answer = await load.call<{ status: number; contentType: string; body: string }>('check', t.target);
    const expected = MODE === 'json' ? 'application/json' : 'text/event-stream';
    if (answer.status !== 200 || !answer.contentType.startsWith(expected) || !answer.body.includes('hello from pnpm bench')) {
      throw new Error(`${t.name} answered ${answer.status} ${answer.contentType}: ${answer.body.slice(0, 300)}`);
    }
  }
  for (const t of targets) await load.call('cannon', { ...t.target, connections: 16, seconds: 2 });

  const runs = new Map<string, Run[]>();
  /** Per setup: the BFF's clock (µs) around each of its timed runs, and how many calls they answered. */
  const windows = new Map<string, { spans: Array<[number, number]>; requests: number }>();
  const loads: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    // Reversed every other round: neither setup always runs right after the other.
    const order = round % 2 === 1 ? targets : [...targets].reverse();
    for (const connections of CONCURRENCY) {
      for (const t of order) {
        const cpu = () => t.pids().reduce((sum, pid) => sum + processCpuMs(pid), 0);
        const main = () => t.pids().reduce((sum, pid) => sum + threadCpuMs(pid), 0);
        const from = PROFILE && t.bff ? await t.bff.call<number>('clock') : 0;
        const [cpuBefore, mainBefore] = [cpu(), main()];
        const r = await load.call<CannonResult>('cannon', { ...t.target, connections, seconds: SECONDS, rate: RATE });
        const cpuUs = ((cpu() - cpuBefore) * 1000) / Math.max(1, r.requests);
        const mainUs = ((main() - mainBefore) * 1000) / Math.max(1, r.requests);
        if (PROFILE && t.bff) {
          const to = await t.bff.call<number>('clock');
          const key = `${t.name}\u0000${connections}`;
          const w = windows.get(key) ?? { spans: [], requests: 0 };
          w.spans.push([from, to]);
          w.requests += r.requests;
          windows.set(key, w);
        }
        if (r.non2xx || r.errors) throw new Error(`${t.name}: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
        const key = `${connections}\u0000${t.name}`;
        runs.set(key, [...(runs.get(key) ?? []), { rps: r.rps, cpuUs, mainUs, p50: r.p50 }]);
        console.log(`round ${round} c=${connections} ${t.name}: ${r.rps.toFixed(0)} req/s, ${cpuUs.toFixed(0)} µs CPU/call (main thread ${mainUs.toFixed(0)})`);
      }
    }
    loads.push(loadavg()[0] ?? Number.NaN);
  }

  // The profiles are written when the BFFs exit.
  const profiles = new Map<string, string>();
  if (PROFILE) {
    for (const v of variants) {
      await targets.find((x) => x.variant === v.name)?.bff?.stop();
      const file = readdirSync(profileDir(v.port)).find((f) => f.endsWith('.cpuprofile'));
      if (!file) throw new Error(`${v.name}: no .cpuprofile written`);
      const kept = join(RESULTS_DIR, `compare-${v.name.replace(/[^A-Za-z0-9]+/g, '-')}.cpuprofile`);
      copyFileSync(join(profileDir(v.port), file), kept);
      profiles.set(v.name, kept);
    }
  }

  // Printed after the cleanup, which stops nginx.
  const proxies = [...variants.map((v) => v.name), ...(nginx ? ['nginx'] : [])];
  return function print(): void {
    const m = (r: Run[], pick: (x: Run) => number) => median(r.map(pick));
    console.log(
      `\n${MODE.toUpperCase()}, ${ROUNDS} rounds of ${SECONDS} s${RATE ? ` at ${RATE} req/s` : ''}, medians${PROFILE ? ' (under --cpu-prof: BFF CPU inflated by the profiler)' : ''}:`,
    );
    console.log('| concurrency | proxy | req/s | CPU µs/call | main thread µs/call | p50 ms |\n|---|---|---|---|---|---|');
    for (const connections of CONCURRENCY) {
      for (const t of targets) {
        const r = runs.get(`${connections}\u0000${t.name}`) ?? [];
        console.log(
          `| ${connections} | ${t.name} | ${m(r, (x) => x.rps).toFixed(0)} | ${m(r, (x) => x.cpuUs).toFixed(0)} | ${m(r, (x) => x.mainUs).toFixed(0)} | ${m(r, (x) => x.p50).toFixed(2)} |`,
        );
      }
    }
    if (ERAS_MODE) {
      console.log(`\nProxy CPU per call, ${MODERN} / ${LEGACY} (target for the BFF ≤ ${ERA_TARGET.toFixed(2)}; nginx is the control):`);
      console.log('| concurrency | proxy | ratio of medians | median of per-round ratios (min–max) | main thread: ratio of medians | req/s ratio | |\n|---|---|---|---|---|---|---|');
      for (const connections of CONCURRENCY) {
        for (const proxy of proxies) {
          const of = (era: Era) => runs.get(`${connections}\u0000${proxy}, ${era}`) ?? [];
          const [legacy, modern] = [of(LEGACY), of(MODERN)];
          const ratio = m(modern, (x) => x.cpuUs) / m(legacy, (x) => x.cpuUs);
          // Paired by round: the two ran back to back, under the same background load.
          const perRound = modern.map((x, i) => x.cpuUs / (legacy[i]?.cpuUs ?? Number.NaN));
          const rps = m(modern, (x) => x.rps) / m(legacy, (x) => x.rps);
          const main = m(modern, (x) => x.mainUs) / m(legacy, (x) => x.mainUs);
          const verdict = proxy === 'nginx' ? '(control)' : ratio <= ERA_TARGET ? '✅' : '❌';
          console.log(
            `| ${connections} | ${proxy} | ${ratio.toFixed(3)} | ${median(perRound).toFixed(3)} (${Math.min(...perRound).toFixed(2)}–${Math.max(...perRound).toFixed(2)}) | ${main.toFixed(3)} | ${rps.toFixed(3)} | ${verdict} |`,
          );
        }
      }
    }
    if (PROFILE) printProfiles(targets, windows, profiles);
    const wallS = (Date.now() - startedAt) / 1000;
    const ticksEnd = cpuTicks();
    const others = (ticksEnd.machine - ticksStart.machine - (ticksEnd.ours - ticksStart.ours)) / TICKS_PER_SECOND / wallS;
    console.log(`\nload at start: ${loadStart}`);
    console.log(`load at end:   ${uptime()} (includes this comparison)`);
    console.log(`1-minute load after each round: ${loads.map((l) => l.toFixed(2)).join(', ')}`);
    console.log(`CPU used by other processes during the run: ${Math.max(0, others).toFixed(2)} cores on average (of 2; the comparison itself keeps ~2 busy)`);
  };
}

type Windows = Map<string, { spans: Array<[number, number]>; requests: number }>;

/**
 * µs per call per frame for each BFF setup over all concurrencies; then, for all of them and for each
 * concurrency alone, where the last BFF setup spends more or less than the one before it.
 */
function printProfiles(targets: Target[], windows: Windows, profiles: Map<string, string>): void {
  const key = (f: Frame) => `${f.name} ${f.where}`;
  /** One setup's samples at these concurrencies, per call. */
  const perCall = (t: Target, concurrencies: number[]) => {
    const ws = concurrencies.map((c) => windows.get(`${t.name}\u0000${c}`)).filter((w) => w !== undefined);
    const file = profiles.get(t.variant);
    if (ws.length === 0 || !file) return undefined;
    const requests = ws.reduce((sum, w) => sum + w.requests, 0);
    const s = summarizeProfile(file, 400, ws.flatMap((w) => w.spans));
    const us = (ms: number) => (ms * 1000) / Math.max(1, requests);
    return {
      summary: s,
      requests,
      us,
      self: new Map(s.topSelf.map((f) => [key(f), us(f.ms)])),
      bff: new Map(s.topInclusiveBff.map((f) => [key(f), us(f.ms)])),
      busyUs: us((s.totalMs * s.busyPct) / 100),
    };
  };
  const profiled = targets.filter((t) => t.bff);
  for (const t of profiled) {
    const p = perCall(t, CONCURRENCY);
    if (!p) continue;
    console.log(`\nProfile, ${t.name}: ${p.busyUs.toFixed(0)} µs busy per call (${p.requests} calls). Top frames by self time, µs per call:`);
    for (const f of p.summary.topSelf.slice(0, 12)) console.log(`  ${p.us(f.ms).toFixed(1).padStart(6)}  ${f.name}  ${f.where}`);
    console.log('  BFF functions by total time, µs per call:');
    for (const f of p.summary.topInclusiveBff.slice(0, 10)) console.log(`  ${p.us(f.ms).toFixed(1).padStart(6)}  ${f.name}  ${f.where}`);
  }
  const [a, b] = profiled.slice(-2);
  if (!a || !b) return;
  const diff = (x: Map<string, number>, y: Map<string, number>) =>
    [...new Set([...x.keys(), ...y.keys()])]
      .map((k) => [k, (y.get(k) ?? 0) - (x.get(k) ?? 0)] as const)
      .sort((p, q) => Math.abs(q[1]) - Math.abs(p[1]))
      .slice(0, 12);
  const signed = (d: number) => `${d >= 0 ? '+' : ''}${d.toFixed(1)}`.padStart(6);
  for (const concurrencies of [CONCURRENCY, ...(CONCURRENCY.length > 1 ? CONCURRENCY.map((c) => [c]) : [])]) {
    const [pa, pb] = [perCall(a, concurrencies), perCall(b, concurrencies)];
    if (!pa || !pb) continue;
    const scope = concurrencies.length === 1 ? `concurrency ${concurrencies[0]}` : `concurrency ${concurrencies.join(', ')} together`;
    console.log(
      `\n${b.name} − ${a.name}, ${scope}: ${pa.busyUs.toFixed(0)} → ${pb.busyUs.toFixed(0)} µs busy per call (${signed(pb.busyUs - pa.busyUs).trim()}). Largest differences, µs per call (self time):`,
    );
    for (const [k, d] of diff(pa.self, pb.self)) console.log(`  ${signed(d)}  ${k}`);
    console.log('  BFF functions (total time):');
    for (const [k, d] of diff(pa.bff, pb.bff)) console.log(`  ${signed(d)}  ${k}`);
  }
}

async function cleanup(): Promise<void> {
  await nginx?.stop().catch(() => {});
  nginx = undefined;
  await Promise.all(children.splice(0).map((c) => c.stop()));
  try {
    base?.remove();
  } catch (error) {
    console.error('could not remove the worktree:', (error as Error).message);
  }
  rmSync(tmp, { recursive: true, force: true });
}

main()
  .then(async (print) => {
    // After the children are gone, so that their CPU counts as ours in the load figures.
    await cleanup();
    print();
  })
  .catch(async (error: unknown) => {
    console.error(error);
    await cleanup();
    process.exit(1);
  });
