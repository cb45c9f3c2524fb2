import { execSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestBrowser } from '../bff/test/support.js';
import { checkout } from './lib/checkout.js';
import { CPU_LOAD, CPU_SERVERS, Child, freePort, pinned } from './lib/child.js';
import { cpuTicks, processCpuMs, TICKS_PER_SECOND } from './lib/cpu.js';
import { type FirstLoad, measureFirstLoad } from './lib/firstload.js';
import { findNginx, type Nginx, startNginx } from './lib/nginx.js';
import { summarizeProfile } from './lib/profile.js';
import { type Era, LEGACY, MCP_HEADERS, MEASURED, MODERN } from './lib/requests.js';
import { median } from './lib/stats.js';
import type { CannonResult, HttpTarget } from './load/worker.js';
import type { SessionsResult } from './servers/sessions.js';
import { type BenchResults, type Mode, type Setup, writeReport } from './report.js';
import type { MemorySample } from './lib/memory.js';

/**
 * `pnpm bench`: what the BFF costs per MCP call, next to the MCP server alone and nginx adding the same
 * Authorization header. Every server runs in its own process pinned to CPU_SERVERS; autocannon runs in
 * another process pinned to CPU_LOAD. Knobs: BENCH_ROUNDS, BENCH_SECONDS, BENCH_SESSIONS (counts),
 * BENCH_SKIP (comma list of: throughput, modern, dpop, storm, sse, streams, profile, sessions, firstload), BENCH_BEFORE_REF (a git
 * commit whose BFF runs as "before the fixes"; 0 for none),
 * BENCH_TOKEN_STORE (memory, sqlite (default), or a redis:// URL), BENCH_PIN=0, BENCH_BFF_LOG=1,
 * BENCH_BFF_NODE_ARGS (more node options for the measured BFF, e.g. V8's heap flags),
 * BENCH_FLOOR (json16 (default), all, 0), BENCH_FLOOR_WEB=1 (two more bare proxies: node:http answered
 * through a web stream, and fetch with JSON answers buffered), BENCH_WAIT_QUIET=<seconds>,
 * BENCH_RESULTS_DIR (default bench/results/: a short trial run elsewhere leaves the committed report alone).
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,16,64').split(',').map(Number);
const SESSION_COUNTS = (process.env.BENCH_SESSIONS ?? '10000,100000').split(',').map(Number);
const SKIP = new Set((process.env.BENCH_SKIP ?? '').split(',').filter(Boolean));
const STORM = Number(process.env.BENCH_STORM ?? 1000);
const STREAMS = Number(process.env.BENCH_STREAMS ?? 1000);
/**
 * The BFF "before the fixes": bff/ as it was at this commit (the last one before the performance work:
 * no session-cookie cache, fetch() and web streams towards the MCP server), run by today's harness
 * from a git worktree, interleaved with the others. BENCH_BEFORE_REF=0 leaves it out.
 */
const BEFORE_REF = process.env.BENCH_BEFORE_REF ?? '543a026^';
/**
 * Bare proxies (node:http piping, Hono piping, Hono + fetch): what any Node proxy costs. By default
 * measured for JSON answers at concurrency 16 only; BENCH_FLOOR=all everywhere, BENCH_FLOOR=0 never.
 */
const FLOOR = process.env.BENCH_FLOOR ?? 'json16';
const measured = (setup: Setup, mode: Mode, connections: number) =>
  !setup.startsWith('floor-') || FLOOR === 'all' || (mode === 'json' && connections === 16);
const PROFILE_CONCURRENCY = Number(process.env.BENCH_PROFILE_CONCURRENCY ?? 16);
/**
 * The measured call is also sent as a 2026-07-28 client sends it (bench/lib/requests.ts), interleaved with
 * the 2025-11-25 one, through these setups only: the floors forward only 2025-11-25's headers, and the BFF
 * before the fixes predates 2026-07-28. The demo server answers it as JSON in either mode (the new era
 * streams only a call that sends notifications first), so it is measured with the JSON answers only.
 * BENCH_SKIP=modern leaves it out.
 */
const MODERN_SETUPS: Setup[] = ['direct', 'nginx', 'bff'];
const erasOf = (setup: Setup, mode: Mode): Era[] => (mode === 'json' && !SKIP.has('modern') && MODERN_SETUPS.includes(setup) ? [LEGACY, MODERN] : [LEGACY]);
const MODES: Mode[] = ['json', 'sse'];
const RESULTS_DIR = process.env.BENCH_RESULTS_DIR ?? fileURLToPath(new URL('./results/', import.meta.url));

/** A call's own headers and body; the setups add where it goes and their credentials. */
type Call = { headers: Record<string, string>; body: string };
const slowTask = (steps: number, delayMs: number): Call => ({
  headers: MCP_HEADERS,
  body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'slow_task', arguments: { steps, delayMs }, _meta: { progressToken: 1 } } }),
});

const log = (...args: unknown[]) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...args);


function uptime(): string {
  try {
    return execSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return `load average: ${loadavg().map((l) => l.toFixed(2)).join(', ')}`;
  }
}

const children: Child[] = [];
/** Run at the end, also after a failure. */
const cleanups: Array<() => void> = [];
let nginx: Nginx | undefined;
async function start(name: string, script: string, options: Parameters<typeof Child.start>[2]): Promise<Child> {
  const child = await Child.start(name, script, options);
  children.push(child);
  return child;
}
async function stopAll(): Promise<void> {
  await nginx?.stop().catch(() => {});
  nginx = undefined;
  await Promise.all(children.splice(0).map((c) => c.stop()));
  for (const cleanup of cleanups.splice(0)) {
    try {
      cleanup();
    } catch (error) {
      log('cleanup failed:', (error as Error).message);
    }
  }
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    stopAll().finally(() => process.exit(130));
  });
}

async function main(): Promise<void> {
  // BENCH_WAIT_QUIET=<seconds>: wait up to that long for the 1-minute load to drop below 0.5.
  const waitUntil = Date.now() + Number(process.env.BENCH_WAIT_QUIET ?? 0) * 1000;
  while ((loadavg()[0] ?? 0) >= 0.5 && Date.now() < waitUntil) {
    log(`waiting for a quiet machine: ${uptime()}`);
    await new Promise((r) => setTimeout(r, 15_000));
  }
  const loadStart = loadavg();
  const uptimeStart = uptime();
  log(uptimeStart);
  if (loadStart[0]! >= 0.5) log('the machine is busy (1-minute load ≥ 0.5): numbers will be noisy; the report says so');
  const ticksStart = cpuTicks();
  const startedAt = new Date();
  const tmp = join(tmpdir(), `mcp-bff-bench-${process.pid}`);
  mkdirSync(tmp, { recursive: true, mode: 0o700 });
  mkdirSync(RESULTS_DIR, { recursive: true });

  const [asPort, mcpPort, bffPort, beforePort, profilePort, nginxPort, dpopPort] = (await Promise.all(Array.from({ length: 7 }, freePort))) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const floorPorts = {
    'floor-node': await freePort(),
    'floor-hono-undici': await freePort(),
    'floor-hono-pipe': await freePort(),
    ...(process.env.BENCH_FLOOR_WEB === '1' ? { 'floor-hono-web': await freePort(), 'floor-hono-buffer': await freePort() } : {}),
    'floor-hono': await freePort(),
  };
  const issuer = `http://127.0.0.1:${asPort}`;
  const mcpUrl = `http://127.0.0.1:${mcpPort}/mcp`;
  const appUrl = (port: number) => `http://localhost:${port}`;
  // Today's BFF logs in at /bff/callback/<server>; a BFF from before e4d1a56 (BENCH_BEFORE_REF) at /bff/callback.
  const redirects = [bffPort, beforePort, profilePort, dpopPort].flatMap((p) => [`${appUrl(p)}/bff/callback/default`, `${appUrl(p)}/bff/callback`]).join(',');

  const as = await start('auth server', 'servers/auth.ts', { cpus: CPU_SERVERS, args: [String(asPort), mcpUrl, redirects] });
  const mcp = await start('mcp server', 'servers/mcp.ts', { cpus: CPU_SERVERS, args: [String(mcpPort), mcpUrl, issuer], nodeArgs: ['--expose-gc'] });
  const bffStdout = process.env.BENCH_BFF_LOG ? 'inherit' : 'ignore';
  // The store `pnpm serve` uses by default: SQLite in a file.
  const tokenStore = (name: string) => (process.env.BENCH_TOKEN_STORE ?? 'sqlite').replace(/^sqlite$/, `sqlite:${join(tmp, `${name}.db`)}`);
  const bff = await start('bff', 'servers/bff.ts', {
    cpus: CPU_SERVERS,
    args: [String(bffPort), mcpUrl, tokenStore('bff')],
    nodeArgs: ['--expose-gc', ...(process.env.BENCH_BFF_NODE_ARGS ?? '').split(' ').filter(Boolean)],
    stdout: bffStdout,
  });
  // The BFF with DPoP-bound tokens: a proof signed for every call (BENCH_SKIP=dpop leaves it out).
  const bffDpop = SKIP.has('dpop')
    ? undefined
    : await start('bff (DPoP)', 'servers/bff.ts', {
        cpus: CPU_SERVERS,
        args: [String(dpopPort), mcpUrl, tokenStore('dpop')],
        nodeArgs: ['--expose-gc'],
        stdout: bffStdout,
        env: { BENCH_BFF_DPOP: '1' },
      });
  // The BFF as it was before the fixes, from a worktree of BEFORE_REF, in the same run.
  const beforeCheckout = BEFORE_REF !== '0' ? checkout(BEFORE_REF, join(tmp, 'before')) : undefined;
  if (beforeCheckout) cleanups.push(beforeCheckout.remove);
  const bffBefore = beforeCheckout
    ? await start('bff (before)', 'servers/bff.ts', {
        cpus: CPU_SERVERS,
        args: [String(beforePort), mcpUrl, tokenStore('before')],
        stdout: bffStdout,
        env: { BENCH_BFF_ROOT: beforeCheckout.bffRoot },
      })
    : undefined;
  const load = await start('load', 'load/worker.ts', { cpus: CPU_LOAD });

  async function login(port: number): Promise<{ cookie: string; sid: string }> {
    const browser = new TestBrowser(appUrl(port));
    await browser.login();
    const cookie = browser.jar.header(new URL(appUrl(port)));
    if (!cookie) throw new Error('no session cookie after login');
    return { cookie, sid: await browser.sessionId() };
  }
  const session = await login(bffPort);
  const sessionBefore = bffBefore ? await login(beforePort) : undefined;
  const sessionDpop = bffDpop ? await login(dpopPort) : undefined;
  const accessToken = await bff.call<string>('accessToken', session.sid);
  log('logged in; token obtained');

  const nginxBinary = findNginx();
  if (nginxBinary) {
    nginx = await startNginx({ binary: nginxBinary, dir: join(tmp, 'nginx'), port: nginxPort, upstreamPort: mcpPort, accessToken, cpus: CPU_SERVERS });
  } else {
    log('nginx not found (Debian: apt-get install -y nginx): the nginx setup is skipped');
  }

  const floors: Partial<Record<Setup, Child>> = {};
  if (FLOOR !== '0') {
    for (const [setup, port] of Object.entries(floorPorts)) {
      floors[setup as Setup] = await start(setup, 'servers/floor.ts', {
        cpus: CPU_SERVERS,
        args: [setup.replace('floor-', ''), String(port), mcpUrl, accessToken],
      });
    }
  }
  const floorTarget = (setup: 'floor-node' | 'floor-hono-undici' | 'floor-hono-pipe' | 'floor-hono-web' | 'floor-hono-buffer' | 'floor-hono') => {
    const port = (floorPorts as Partial<Record<string, number>>)[setup];
    return floors[setup] && port ? { [setup]: (call = MEASURED[LEGACY]) => ({ url: `http://127.0.0.1:${port}/mcp`, ...call }) } : {};
  };

  const bffTarget = (port: number, cookie: string, call: Call = MEASURED[LEGACY]): HttpTarget => ({
    url: `http://127.0.0.1:${port}/mcp/default`,
    headers: { ...call.headers, cookie, 'x-csrf': '1' },
    body: call.body,
  });
  const targets: Partial<Record<Setup, (call?: Call) => HttpTarget>> = {
    direct: (call = MEASURED[LEGACY]) => ({ url: mcpUrl, headers: { ...call.headers, authorization: `Bearer ${accessToken}` }, body: call.body }),
    ...(nginx ? { nginx: (call = MEASURED[LEGACY]) => ({ url: `${nginx?.url}/mcp`, ...call }) } : {}),
    ...floorTarget('floor-node'),
    ...floorTarget('floor-hono-undici'),
    ...floorTarget('floor-hono-pipe'),
    ...floorTarget('floor-hono-web'),
    ...floorTarget('floor-hono-buffer'),
    ...floorTarget('floor-hono'),
    ...(sessionBefore ? { 'bff-before': (call?: Call) => bffTarget(beforePort, sessionBefore.cookie, call) } : {}),
    bff: (call?: Call) => bffTarget(bffPort, session.cookie, call),
    ...(sessionDpop ? { 'bff-dpop': (call?: Call) => bffTarget(dpopPort, sessionDpop.cookie, call) } : {}),
  };
  const setups = Object.keys(targets) as Setup[];
  /** The processes whose CPU time is the proxy's: nginx's master and worker, or the BFF. */
  const proxyPids = (setup: Setup): number[] =>
    setup === 'bff'
      ? [bff.pid]
      : setup === 'bff-before'
        ? [bffBefore?.pid ?? -1]
        : setup === 'bff-dpop'
          ? [bffDpop?.pid ?? -1]
        : setup === 'nginx'
          ? (nginx?.pids() ?? [])
          : floors[setup]
            ? [floors[setup].pid]
            : [];
  const cpuOf = (pids: number[]) => pids.reduce((sum, pid) => sum + processCpuMs(pid), 0);
  const target = (setup: Setup, call?: Call) => (targets[setup] as (call?: Call) => HttpTarget)(call);
  /** Each setup with the eras measured through it in `mode`, the 2026-07-28 call right after the 2025-11-25 one. */
  const cells = (mode: Mode) => setups.flatMap((setup) => erasOf(setup, mode).map((era) => ({ setup, era })));
  const eraLabel = (era: Era) => (era === LEGACY ? '' : ` ${era}`);

  // Every setup must answer the same thing before any of them is timed.
  for (const mode of MODES) {
    await mcp.call('mode', mode);
    for (const { setup, era } of cells(mode)) {
      const answer = await load.call<{ status: number; contentType: string; body: string }>('check', target(setup, MEASURED[era]));
      const expected = mode === 'json' ? 'application/json' : 'text/event-stream';
      if (answer.status !== 200 || !answer.contentType.startsWith(expected) || !answer.body.includes('hello from pnpm bench')) {
        throw new Error(`${setup}${eraLabel(era)} (${mode}) answered ${answer.status} ${answer.contentType}: ${answer.body.slice(0, 300)}`);
      }
    }
  }
  log(`all setups answer: ${cells('json').map(({ setup, era }) => `${setup}${eraLabel(era)}`).join(', ')}`);

  const results: BenchResults = {
    startedAt: startedAt.toISOString(),
    finishedAt: '',
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      node: process.version,
      nginx: nginx?.version,
      pinned,
      cpuServers: CPU_SERVERS,
      cpuLoad: CPU_LOAD,
      loadStart,
      loadEnd: [],
      uptimeStart,
      uptimeEnd: '',
      othersCores: Number.NaN,
    },
    settings: {
      rounds: ROUNDS,
      seconds: SECONDS,
      concurrency: CONCURRENCY,
      tokenStore: tokenStore('bff').replace(/^(sqlite):.*/, '$1'),
      ...(beforeCheckout ? { before: { commit: beforeCheckout.commit, subject: beforeCheckout.subject } } : {}),
    },
    throughput: [],
    failures: [],
  };
  /** A section that fails is reported as failed; the others still run and the report is written. */
  async function section(name: string, run: () => Promise<void>): Promise<void> {
    if (SKIP.has(name)) return;
    try {
      await run();
    } catch (error) {
      log(`${name} failed:`, error);
      results.failures.push(`${name}: ${(error as Error).message.split('\n')[0]}`);
    }
  }

  await section('throughput', async () => {
    for (const mode of MODES) {
      await mcp.call('mode', mode);
      // Warm-up: JIT, connection pools, the JWKS cache.
      for (const { setup, era } of cells(mode)) {
        if (measured(setup, mode, 16)) await load.call('cannon', { ...target(setup, MEASURED[era]), connections: 16, seconds: 2 });
      }
      const runs = new Map<string, Array<CannonResult & { proxyUs: number; mcpUs: number; upstreamConnections: number }>>();
      for (let round = 1; round <= ROUNDS; round++) {
        for (const connections of CONCURRENCY) {
          for (const { setup, era } of cells(mode).filter((s) => measured(s.setup, mode, connections))) {
            const proxyBefore = cpuOf(proxyPids(setup));
            const mcpBefore = processCpuMs(mcp.pid);
            const connectionsBefore = await mcp.call<number>('connections');
            const r = await load.call<CannonResult>('cannon', { ...target(setup, MEASURED[era]), connections, seconds: SECONDS });
            const answered = Math.max(1, r.requests + r.non2xx);
            const cpu = {
              proxyUs: ((cpuOf(proxyPids(setup)) - proxyBefore) * 1000) / answered,
              mcpUs: ((processCpuMs(mcp.pid) - mcpBefore) * 1000) / answered,
              upstreamConnections: ((await mcp.call<number>('connections')) - connectionsBefore) / answered,
            };
            const key = `${connections}\u0000${setup}\u0000${era}`;
            runs.set(key, [...(runs.get(key) ?? []), { ...r, ...cpu }]);
            log(`${mode} c=${connections} ${`${setup}${eraLabel(era)}`.padEnd(26)} round ${round}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms${r.non2xx + r.errors ? `, ${r.non2xx} non-2xx, ${r.errors} errors` : ''}`);
          }
        }
      }
      for (const connections of CONCURRENCY) {
        for (const { setup, era } of cells(mode)) {
          const rounds = runs.get(`${connections}\u0000${setup}\u0000${era}`) ?? [];
          if (rounds.length === 0) continue;
          results.throughput.push({
            mode,
            era,
            concurrency: connections,
            setup,
            rps: median(rounds.map((r) => r.rps)),
            p50: median(rounds.map((r) => r.p50)),
            p99: median(rounds.map((r) => r.p99)),
            rpsRange: [Math.min(...rounds.map((r) => r.rps)), Math.max(...rounds.map((r) => r.rps))],
            failures: rounds.reduce((a, r) => a + r.non2xx + r.errors, 0),
            proxyCpuUs: setup === 'direct' ? undefined : median(rounds.map((r) => r.proxyUs)),
            mcpCpuUs: median(rounds.map((r) => r.mcpUs)),
            upstreamConnectionsPerRequest: median(rounds.map((r) => r.upstreamConnections)),
          });
        }
      }
    }
  });

  await section('sse', async () => {
    // Latency per event: the MCP server records when it writes each event, the load process when
    // the event arrives; the clocks' offset cancels out in the difference between setups.
    await mcp.call('mode', 'sse');
    const steps = 20;
    const perSetup: Partial<Record<Setup, number[]>> = {};
    for (let round = 0; round < 5; round++) {
      for (const setup of setups.filter((s) => !s.startsWith('floor-'))) {
        await mcp.call('recordWrites', true);
        const { status, arrivals } = await load.call<{ status: number; arrivals: number[] }>('sseArrivals', target(setup, slowTask(steps, 20)));
        const writes = await mcp.call<number[]>('takeWrites');
        await mcp.call('recordWrites', false);
        if (status !== 200 || arrivals.length !== writes.length) {
          throw new Error(`SSE probe via ${setup}: status ${status}, ${arrivals.length} events for ${writes.length} writes`);
        }
        perSetup[setup] = [...(perSetup[setup] ?? []), ...arrivals.map((a, i) => a - (writes[i] as number))];
      }
    }
    const base = median(perSetup.direct ?? []);
    results.sse = {
      events: (perSetup.direct ?? []).length,
      medianMs: Object.fromEntries(Object.keys(perSetup).map((s) => [s, median(perSetup[s as Setup] ?? []) - base])) as Partial<Record<Setup, number>>,
    };
    log('SSE added latency per event (ms, vs direct):', results.sse.medianMs);
  });

  await section('streams', async () => {
    await mcp.call('mode', 'sse');
    const before = await bff.call<MemorySample>('memory');
    const mcpBefore = await mcp.call<MemorySample>('memory');
    // 50 steps of 2 s: each stream stays open (and gets an event every 2 s) for 100 s.
    const statuses = await load.call<Record<string, number>>('openStreams', { ...target('bff', slowTask(50, 2000)), count: STREAMS });
    await new Promise((r) => setTimeout(r, 2500));
    const during = await bff.call<MemorySample>('memory');
    const mcpDuring = await mcp.call<MemorySample>('memory');
    await load.call('closeStreams');
    await new Promise((r) => setTimeout(r, 1500));
    const afterClose = await bff.call<MemorySample>('memory');
    results.streams = { count: STREAMS, statuses, before, during, afterClose, mcpBefore, mcpDuring };
    log(`${STREAMS} open streams: BFF heap +${((during.heapUsed - before.heapUsed) / 1024 / 1024).toFixed(1)} MiB, rss +${((during.rss - before.rss) / 1024 / 1024).toFixed(1)} MiB`, statuses);
  });

  await section('storm', async () => {
    await mcp.call('mode', 'json');
    await load.call('warmConnections', { url: `http://127.0.0.1:${bffPort}/healthz`, count: STORM });
    await bff.call('expireSoon', session.sid);
    const refreshesBefore = await as.call<number>('refreshCount');
    const storm = await load.call<{ ms: number; statuses: Record<string, number> }>('storm', { ...target('bff'), count: STORM });
    const refreshes = (await as.call<number>('refreshCount')) - refreshesBefore;
    results.storm = { requests: STORM, refreshes, ms: storm.ms, statuses: storm.statuses };
    log(`refresh storm: ${STORM} requests, ${refreshes} refresh(es) at the AS, all answered in ${storm.ms.toFixed(0)} ms`, storm.statuses);
  });

  await nginx?.stop();
  nginx = undefined;

  await section('profile', async () => {
    await mcp.call('mode', 'json');
    const profileDir = join(tmp, 'profile');
    const profiled = await start('bff (profiled)', 'servers/bff.ts', {
      cpus: CPU_SERVERS,
      args: [String(profilePort), mcpUrl, tokenStore('profiled')],
      nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profileDir],
      stdout: 'ignore',
    });
    const s = await login(profilePort);
    const seconds = Math.max(5, SECONDS * 2);
    // Warm-up first, and only the timed window is summarized: start-up (module loading) is not load.
    await load.call<CannonResult>('cannon', { ...bffTarget(profilePort, s.cookie), connections: 16, seconds: 2 });
    const from = await profiled.call<number>('clock');
    const r = await load.call<CannonResult>('cannon', { ...bffTarget(profilePort, s.cookie), connections: PROFILE_CONCURRENCY, seconds });
    const to = await profiled.call<number>('clock');
    await profiled.stop();
    const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error('no .cpuprofile written');
    const kept = join(RESULTS_DIR, 'bff.cpuprofile');
    writeFileSync(kept, readFileSync(join(profileDir, file)));
    results.profile = { seconds, concurrency: PROFILE_CONCURRENCY, rps: r.rps, file: 'bff.cpuprofile', summary: summarizeProfile(kept, 15, [from, to]) };
    log(`profile: ${r.rps.toFixed(0)} req/s under --cpu-prof; top frame ${results.profile.summary.topSelf[0]?.name}`);
  });

  await stopAll();

  await section('sessions', async () => {
    results.sessions = [];
    const probe = await Child.start('sessions', 'servers/sessions.ts', { cpus: CPU_SERVERS });
    const stores = await probe.call<string[]>('stores');
    log(`sessions: stores ${stores.join(', ')}`);
    await probe.stop();
    for (const store of stores) {
      for (const count of SESSION_COUNTS) {
        // A fresh process per measurement: no heap left over from the previous one.
        const child = await Child.start('sessions', 'servers/sessions.ts', { cpus: CPU_SERVERS, nodeArgs: ['--expose-gc'] });
        try {
          const r = await child.call<SessionsResult>('measure', { store, count });
          results.sessions.push(r);
          log(`sessions: ${store} × ${count}: heap ${r.heapBytesPerSession.toFixed(0)} B/session, ${r.writesPerSecond.toFixed(0)} sessions/s`);
        } finally {
          await child.stop();
        }
      }
    }
  });

  await section('firstload', async () => {
    results.firstLoad = await firstLoad();
    log(`first load: ${results.firstLoad.cold.wireBytes} bytes over the wire in ${results.firstLoad.cold.requests} responses`);
  });

  const ticksEnd = cpuTicks();
  const wallS = (Date.now() - startedAt.getTime()) / 1000;
  results.machine.othersCores = (ticksEnd.machine - ticksStart.machine - (ticksEnd.ours - ticksStart.ours)) / TICKS_PER_SECOND / wallS;
  results.machine.loadEnd = loadavg();
  results.machine.uptimeEnd = uptime();
  results.finishedAt = new Date().toISOString();
  rmSync(tmp, { recursive: true, force: true });

  writeReport(RESULTS_DIR, results);
  log(`report: ${join(RESULTS_DIR, 'report.md')} (${wallS.toFixed(0)} s)`);
}

/**
 * The first page as a new visitor's browser loads it from the BFF serving this tree's SPA, built
 * afresh (`pnpm build`: Vite, then the precompressed .br/.gz copies the BFF serves).
 */
export async function firstLoad(): Promise<FirstLoad> {
  const root = fileURLToPath(new URL('../', import.meta.url));
  execSync('pnpm build', { cwd: root, stdio: 'ignore' });
  const [asPort, mcpPort, bffPort] = (await Promise.all(Array.from({ length: 3 }, freePort))) as [number, number, number];
  const mcpUrl = `http://127.0.0.1:${mcpPort}/mcp`;
  const servers: Child[] = [];
  try {
    servers.push(await Child.start('auth server', 'servers/auth.ts', { cpus: CPU_SERVERS, args: [String(asPort), mcpUrl, `http://localhost:${bffPort}/bff/callback/default`] }));
    servers.push(await Child.start('mcp server', 'servers/mcp.ts', { cpus: CPU_SERVERS, args: [String(mcpPort), mcpUrl, `http://127.0.0.1:${asPort}`] }));
    servers.push(
      await Child.start('bff (SPA)', 'servers/bff.ts', {
        cpus: CPU_SERVERS,
        args: [String(bffPort), mcpUrl, 'memory'],
        stdout: 'ignore',
        env: { BENCH_STATIC_DIR: join(root, 'web/dist') },
      }),
    );
    return await measureFirstLoad(`http://localhost:${bffPort}/`);
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

/** `tsx bench/run.ts --first-load`: measures only the first load and puts it into the committed results. */
async function firstLoadOnly(): Promise<void> {
  const results = JSON.parse(readFileSync(join(RESULTS_DIR, 'results.json'), 'utf8')) as BenchResults;
  results.firstLoad = await firstLoad();
  writeReport(RESULTS_DIR, results);
  log(`first load: ${results.firstLoad.cold.wireBytes} bytes over the wire; report: ${join(RESULTS_DIR, 'report.md')}`);
}

(process.argv.includes('--first-load') ? firstLoadOnly() : main()).catch(async (error: unknown) => {
  console.error(error);
  await stopAll();
  process.exit(1);
});
