import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestBrowser } from '../bff/test/support.js';
import { type Checkout, checkout } from './lib/checkout.js';
import { CPU_LOAD, CPU_SERVERS, Child, freePort } from './lib/child.js';
import { processCpuMs } from './lib/cpu.js';
import { ECHO, MCP_HEADERS } from './lib/requests.js';
import { median } from './lib/stats.js';
import type { CannonResult, HttpTarget } from './load/worker.js';

/**
 * `pnpm bench:compare [ref]`: the BFF of this working tree against the BFF at a git ref (default HEAD),
 * for checking one change before running the whole `pnpm bench`. Both run side by side on the same
 * demo MCP server and authorization server, pinned like the bench (servers on CPU_SERVERS, autocannon on
 * CPU_LOAD), in interleaved rounds; prints the median req/s, BFF CPU time per call and p50 of each.
 * Knobs: BENCH_ROUNDS (5), BENCH_SECONDS (4), BENCH_CONCURRENCY (1,16), BENCH_MODE (json or sse),
 * BENCH_TOKEN_STORE (sqlite, memory or a redis:// URL).
 */
const REF = process.argv[2] ?? 'HEAD';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,16').split(',').map(Number);
const MODE = process.env.BENCH_MODE ?? 'json';

const children: Child[] = [];
let base: Checkout | undefined;
const tmp = join(tmpdir(), `mcp-bff-compare-${process.pid}`);

async function main(): Promise<void> {
  mkdirSync(tmp, { recursive: true, mode: 0o700 });
  base = checkout(REF, join(tmp, 'base'));
  const [asPort, mcpPort, basePort, workPort] = (await Promise.all(Array.from({ length: 4 }, freePort))) as [number, number, number, number];
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
    args: [String(asPort), mcpUrl, [basePort, workPort].map((p) => `${appUrl(p)}/bff/callback`).join(',')],
  });
  const mcp = await start('mcp server', 'servers/mcp.ts', { cpus: CPU_SERVERS, args: [String(mcpPort), mcpUrl, issuer] });
  const store = (name: string) => (process.env.BENCH_TOKEN_STORE ?? 'sqlite').replace(/^sqlite$/, `sqlite:${join(tmp, `${name}.db`)}`);
  const variants = [
    { name: `${base.commit} (${REF})`, port: basePort, env: { BENCH_BFF_ROOT: base.bffRoot } },
    { name: 'working tree', port: workPort, env: {} },
  ];
  const targets: Array<{ name: string; pid: number; target: HttpTarget }> = [];
  for (const v of variants) {
    const bff = await start(v.name, 'servers/bff.ts', { cpus: CPU_SERVERS, args: [String(v.port), mcpUrl, store(String(v.port))], stdout: 'ignore', env: v.env });
    const browser = new TestBrowser(appUrl(v.port));
    await browser.login();
    const cookie = browser.jar.header(new URL(appUrl(v.port)));
    if (!cookie) throw new Error(`${v.name}: no session cookie after login`);
    targets.push({
      name: v.name,
      pid: bff.pid,
      target: { url: `http://127.0.0.1:${v.port}/mcp/default`, headers: { ...MCP_HEADERS, cookie, 'x-csrf': '1' }, body: ECHO },
    });
  }
  const load = await start('load', 'load/worker.ts', { cpus: CPU_LOAD });
  await mcp.call('mode', MODE);
  for (const t of targets) await load.call('cannon', { ...t.target, connections: 16, seconds: 2 });

  const runs = new Map<string, Array<{ rps: number; cpuUs: number; p50: number }>>();
  for (let round = 1; round <= ROUNDS; round++) {
    for (const connections of CONCURRENCY) {
      for (const t of targets) {
        const cpuBefore = processCpuMs(t.pid);
        const r = await load.call<CannonResult>('cannon', { ...t.target, connections, seconds: SECONDS });
        const cpuUs = ((processCpuMs(t.pid) - cpuBefore) * 1000) / Math.max(1, r.requests);
        if (r.non2xx || r.errors) throw new Error(`${t.name}: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
        const key = `${connections}\u0000${t.name}`;
        runs.set(key, [...(runs.get(key) ?? []), { rps: r.rps, cpuUs, p50: r.p50 }]);
        console.log(`round ${round} c=${connections} ${t.name}: ${r.rps.toFixed(0)} req/s, ${cpuUs.toFixed(0)} µs CPU/call`);
      }
    }
  }
  console.log(`\n${MODE.toUpperCase()}, ${ROUNDS} rounds of ${SECONDS} s, medians:`);
  console.log('| concurrency | BFF | req/s | CPU µs/call | p50 ms |\n|---|---|---|---|---|');
  for (const connections of CONCURRENCY) {
    for (const t of targets) {
      const r = runs.get(`${connections}\u0000${t.name}`) ?? [];
      const m = (pick: (x: { rps: number; cpuUs: number; p50: number }) => number) => median(r.map(pick));
      console.log(`| ${connections} | ${t.name} | ${m((x) => x.rps).toFixed(0)} | ${m((x) => x.cpuUs).toFixed(0)} | ${m((x) => x.p50).toFixed(2)} |`);
    }
  }
}

async function cleanup(): Promise<void> {
  await Promise.all(children.splice(0).map((c) => c.stop()));
  try {
    base?.remove();
  } catch (error) {
    console.error('could not remove the worktree:', (error as Error).message);
  }
  rmSync(tmp, { recursive: true, force: true });
}

main()
  .then(cleanup)
  .catch(async (error: unknown) => {
    console.error(error);
    await cleanup();
    process.exit(1);
  });
