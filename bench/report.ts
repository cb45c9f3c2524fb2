import type { FirstLoad, LoadBytes } from './lib/firstload.js';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MemorySample } from './lib/memory.js';
import type { ProfileSummary } from './lib/profile.js';
import { type Era, LEGACY, MODERN } from './lib/requests.js';
import type { SessionsResult } from './servers/sessions.js';

export type Mode = 'json' | 'sse';
/**
 * bff-before: the BFF as it was before the performance fixes (BENCH_BEFORE_REF), run by the same harness.
 * bff-dpop: today's BFF with DPoP-bound tokens (a proof signed per call).
 */
export type Setup =
  | 'direct'
  | 'nginx'
  | 'floor-node'
  | 'floor-hono-undici'
  | 'floor-hono-pipe'
  | 'floor-hono-web'
  | 'floor-hono-buffer'
  | 'floor-hono'
  | 'bff-before'
  | 'bff'
  | 'bff-dpop';

export interface ThroughputRow {
  mode: Mode;
  /** The protocol revision the measured call was sent in; absent (results from before 2026-07-28) is 2025-11-25. */
  era?: Era | undefined;
  concurrency: number;
  setup: Setup;
  /** Medians over the rounds. */
  rps: number;
  p50: number;
  p99: number;
  rpsRange: [number, number];
  failures: number;
  /** CPU time the proxy process(es) used per answered request, µs (none for direct). */
  proxyCpuUs?: number | undefined;
  /** CPU time the MCP server used per answered request, µs. */
  mcpCpuUs?: number | undefined;
  /** New TCP connections the MCP server accepted per request (0 when the proxy keeps them alive). */
  upstreamConnectionsPerRequest?: number | undefined;
}

export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  machine: {
    cpus: number;
    cpuModel: string;
    node: string;
    nginx: string | undefined;
    pinned: boolean;
    cpuServers: string;
    cpuLoad: string;
    loadStart: number[];
    loadEnd: number[];
    uptimeStart: string;
    uptimeEnd: string;
    /** Average number of cores that processes other than the bench's kept busy during the run. */
    othersCores: number;
  };
  settings: {
    rounds: number;
    seconds: number;
    concurrency: number[];
    tokenStore: string;
    /** The commit whose BFF ran as bff-before. */
    before?: { commit: string; subject: string };
  };
  throughput: ThroughputRow[];
  /** Sections that failed, with the first line of their error. */
  failures: string[];
  sse?: { events: number; medianMs: Partial<Record<Setup, number>> };
  streams?: {
    count: number;
    statuses: Record<string, number>;
    before: MemorySample;
    during: MemorySample;
    afterClose: MemorySample;
    mcpBefore: MemorySample;
    mcpDuring: MemorySample;
  };
  storm?: { requests: number; refreshes: number; ms: number; statuses: Record<string, number> };
  profile?: { seconds: number; concurrency?: number; rps: number; file: string; summary: ProfileSummary };
  sessions?: SessionsResult[];
  firstLoad?: FirstLoad;
}

const SETUP_LABEL: Record<Setup, string> = {
  direct: 'direct',
  nginx: 'nginx',
  'floor-node': 'bare node:http pipe',
  'floor-hono-undici': 'bare Hono + undici (the BFF’s upstream client)',
  'floor-hono-pipe': 'bare Hono + node:http pipe',
  'floor-hono-web': 'bare Hono + node:http, web stream',
  'floor-hono-buffer': 'bare Hono + fetch, JSON buffered',
  'floor-hono': 'bare Hono + fetch',
  'bff-before': 'BFF before the fixes',
  bff: 'BFF',
  'bff-dpop': 'BFF, DPoP-bound tokens',
};
const COLORS: Record<Setup, string> = {
  direct: '#4c78a8',
  nginx: '#72b7b2',
  'floor-node': '#b279a2',
  'floor-hono-undici': '#bd86b4',
  'floor-hono-pipe': '#c994c7',
  'floor-hono-web': '#dcb0d6',
  'floor-hono-buffer': '#e2bcd9',
  'floor-hono': '#e7c6df',
  'bff-before': '#f2b0a8',
  bff: '#e45756',
  'bff-dpop': '#9d2f2c',
};
const MiB = 1024 * 1024;

const f0 = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '–' : Math.round(n).toLocaleString('en-US'));
const f2 = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '–' : n.toFixed(2));
const ratio = (a: number | undefined, b: number | undefined) => (a && b ? (a / b).toFixed(2) : '–');

const ORDER: Setup[] = ['direct', 'nginx', 'floor-node', 'floor-hono-undici', 'floor-hono-pipe', 'floor-hono-web', 'floor-hono-buffer', 'floor-hono', 'bff-before', 'bff', 'bff-dpop'];
function setupsOf(results: BenchResults): Setup[] {
  return ORDER.filter((s) => results.throughput.some((r) => r.setup === s));
}

const eraOf = (r: ThroughputRow): Era => r.era ?? LEGACY;

function row(results: BenchResults, mode: Mode, concurrency: number, setup: Setup, era: Era = LEGACY): ThroughputRow | undefined {
  return results.throughput.find((r) => r.mode === mode && r.concurrency === concurrency && r.setup === setup && eraOf(r) === era);
}

/** The eras measured for `mode`, 2025-11-25 first. */
function erasOf(results: BenchResults, mode: Mode): Era[] {
  return [LEGACY, MODERN].filter((era) => results.throughput.some((r) => r.mode === mode && eraOf(r) === era));
}
const eraSuffix = (era: Era) => (era === LEGACY ? '' : `, ${era}`);

export function isQuiet(results: BenchResults): boolean {
  return (results.machine.loadStart[0] ?? 1) < 0.5 && results.machine.othersCores < 0.15;
}

/** Pass/fail against the targets, per mode, at the concurrencies that carry load. */
export function targetLines(results: BenchResults): string[] {
  const lines: string[] = [];
  const modes = [...new Set(results.throughput.map((r) => r.mode))];
  for (const [mode, era] of modes.flatMap((mode) => erasOf(results, mode).map((era) => [mode, era] as const))) {
    for (const c of results.settings.concurrency) {
      const bff = row(results, mode, c, 'bff', era);
      const direct = row(results, mode, c, 'direct', era);
      const nginx = row(results, mode, c, 'nginx', era);
      if (!bff || !direct) continue;
      const vsDirect = bff.rps / direct.rps;
      const vsNginx = nginx ? bff.rps / nginx.rps : Number.NaN;
      const parts = [
        `${vsDirect.toFixed(2)} ${vsDirect >= 0.6 ? '✅' : '❌'}`,
        nginx ? `${vsNginx.toFixed(2)} ${vsNginx >= 0.8 ? '✅' : '❌'}` : '–',
      ];
      const added = bff.p50 - direct.p50;
      parts.push(c === 1 ? `${added.toFixed(2)} ms ${added < 1 ? '✅' : '❌'} (< 1 ms)` : `${added.toFixed(2)} ms`);
      lines.push(`| ${mode.toUpperCase()}${eraSuffix(era)} | ${c} | ${parts.join(' | ')} |`);
    }
  }
  return lines;
}

function markdown(results: BenchResults): string {
  const m = results.machine;
  const quiet = isQuiet(results);
  const setups = setupsOf(results);
  const out: string[] = [];
  out.push('# MCP BFF benchmark');
  out.push('');
  out.push(`Run \`pnpm bench\` (${results.startedAt.replace('T', ' ').slice(0, 19)} UTC → ${results.finishedAt.slice(11, 19)}).`);
  out.push('');
  if (!quiet) {
    out.push(
      `> **Taken on a busy machine.** 1-minute load ${f2(m.loadStart[0])} at the start; other processes kept ` +
        `${f2(Math.max(0, m.othersCores))} cores busy on average during the run. Treat the numbers as indicative and rerun on a quiet machine.`,
    );
    out.push('');
  }
  out.push('## Machine');
  out.push('');
  out.push(`- ${m.cpus} CPUs (${m.cpuModel}), Node ${m.node}, nginx ${m.nginx ?? 'not installed (setup skipped)'}`);
  out.push(
    m.pinned
      ? `- Pinned with taskset: MCP server, authorization server, nginx and BFF on CPU ${m.cpuServers}; autocannon on CPU ${m.cpuLoad}. So the proxy and its upstream share one core, and throughput ratios show the proxy's CPU cost per request.`
      : '- Not pinned (no taskset): every process may run on any CPU.',
  );
  out.push(`- Load at start: \`${m.uptimeStart}\``);
  out.push(`- Load at end: \`${m.uptimeEnd}\` (includes the bench itself)`);
  out.push(`- CPU used by other processes during the run: ${f2(Math.max(0, m.othersCores))} cores on average (${quiet ? 'quiet' : 'not quiet'})`);
  out.push('');
  out.push('## Setup');
  out.push('');
  out.push(
    '- Request: `tools/call` of `echo` (a 21-character message) to the demo MCP server (official MCP SDK, stateless mode), answered ' +
      'as JSON (`enableJsonResponse`) or as an SSE stream with one event.',
  );
  if (results.throughput.some((r) => eraOf(r) === MODERN)) {
    out.push(
      `- The same call as a ${MODERN} client sends it (rows marked ${MODERN}): no MCP session, \`MCP-Protocol-Version: ${MODERN}\`, \`Mcp-Method: tools/call\` and \`Mcp-Name: echo\` headers (which the BFF checks before forwarding), and the \`_meta\` envelope (protocol version, client info, capabilities) in the params: 305 bytes instead of 119. The same demo server answers it on the same URL as JSON (210 bytes with its \`_meta\`, 94 before) whether it answers ${LEGACY} calls as JSON or SSE, so it is measured with the JSON answers, interleaved right after the ${LEGACY} call through the same setup, for direct, nginx and the BFF.`,
    );
  }
  out.push(
    '- **direct**: to the MCP server with the bearer token. **nginx**: Debian nginx as a plain reverse proxy (one worker, upstream keep-alive, `proxy_buffering off`) adding the same Authorization header. ' +
      `**BFF**: \`/mcp/default\` with the logged-in session cookie and \`X-CSRF: 1\`; the BFF as \`main.ts\` runs it (${results.settings.tokenStore ?? 'memory'} token store, info-level request logs to /dev/null).`,
  );
  if (setups.includes('bff-before')) {
    const before = results.settings.before;
    out.push(
      `- **BFF before the fixes**: the BFF's sources at commit \`${before?.commit ?? '?'}\`, the last before the performance work (see the end), run from a git worktree by the same harness with the same settings.`,
    );
  }
  if (setups.some((s) => s.startsWith('floor-'))) {
    out.push(
      '- Floors (JSON at concurrency 16; `BENCH_FLOOR=all` for every row, `BENCH_FLOOR=0` for none), each adding the bearer token and nothing else (no session, CSRF check, store or logs), passing the answer\'s Content-Length through as the BFF does: **bare node:http pipe** forwards with `http.request` on a keep-alive agent and pipes the answer back; **bare Hono + undici** forwards from a Hono route with the BFF\'s own upstream client (undici\'s dispatcher, `bff/src/mcp/upstream.ts`), writing to the Node response itself (`RESPONSE_ALREADY_SENT`), as the BFF does; **bare Hono + node:http pipe** does the same over `http.request` and `pipe()`, as the BFF did until undici; **bare Hono + fetch** forwards with `fetch()` and returns the upstream body as a web stream, as the BFF did before the fixes.',
    );
  }
  out.push(
    `- autocannon in its own process; ${results.settings.rounds} interleaved rounds (direct, nginx, BFF, direct, …) of ${results.settings.seconds} s ` +
      'per setup and concurrency after a 2 s warm-up; the table shows the median round. Latencies are taken from every response (not autocannon\'s whole-millisecond histogram).',
  );
  out.push('');
  if (results.failures?.length) {
    out.push('## Sections that failed');
    out.push('');
    for (const f of results.failures) out.push(`- ${f}`);
    out.push('');
  }
  out.push('## Targets');
  out.push('');
  out.push('| answer | concurrency | BFF / direct (≥ 0.6) | BFF / nginx (≥ 0.8) | added p50 (< 1 ms at 1) |');
  out.push('|---|---|---|---|---|');
  out.push(...targetLines(results));
  out.push('');
  out.push('## Throughput and latency');
  out.push('');
  out.push('![throughput and p99 per setup](chart.svg)');
  out.push('');
  for (const mode of ['json', 'sse'] as Mode[]) {
    if (!results.throughput.some((r) => r.mode === mode)) continue;
    out.push(`### ${mode === 'json' ? 'JSON answer' : 'SSE answer'}`);
    out.push('');
    out.push('| concurrency | setup | req/s (median) | req/s (min–max) | p50 ms | p99 ms | proxy CPU µs/req | MCP server CPU µs/req | new upstream connections/req | BFF / this |');
    out.push('|---|---|---|---|---|---|---|---|---|---|');
    for (const c of results.settings.concurrency) {
      // Each era's rows together, the BFF compared with the setups of its own era.
      for (const era of erasOf(results, mode)) {
        const bff = row(results, mode, c, 'bff', era);
        for (const setup of setups) {
          const r = row(results, mode, c, setup, era);
          if (!r) continue;
          out.push(
            `| ${c} | ${SETUP_LABEL[setup]}${eraSuffix(era)} | ${f0(r.rps)} | ${f0(r.rpsRange[0])}–${f0(r.rpsRange[1])} | ${f2(r.p50)} | ${f2(r.p99)} | ${f0(r.proxyCpuUs)} | ${f0(r.mcpCpuUs)} | ${r.upstreamConnectionsPerRequest === undefined ? '–' : r.upstreamConnectionsPerRequest.toFixed(3)} | ${setup === 'bff' ? '' : ratio(bff?.rps, r.rps)}${r.failures ? ` (${r.failures} failed)` : ''} |`,
          );
        }
      }
    }
    out.push('');
  }
  out.push(...erasSection(results));
  out.push(...dpopSection(results));
  const floorRows = (['nginx', 'floor-node', 'floor-hono-undici', 'floor-hono-pipe', 'floor-hono-web', 'floor-hono-buffer', 'floor-hono', 'bff-before', 'bff'] as Setup[])
    .map((setup) => row(results, 'json', 16, setup))
    .filter((r): r is ThroughputRow => r !== undefined);
  if (floorRows.some((r) => r.setup.startsWith('floor-'))) {
    const nginx = row(results, 'json', 16, 'nginx');
    const direct = row(results, 'json', 16, 'direct');
    out.push('## Where the BFF\'s cost comes from: bare proxies at JSON, concurrency 16');
    out.push('');
    out.push(
      'The BFF forwards the way **bare Hono + undici** does, so the BFF minus that row is the BFF\'s own work: the session cookie and session lookup, the CSRF check, the token read, the security headers and the request log. **bare Hono + node:http pipe** minus **bare Hono + undici** is what node:http\'s client and `pipe()` cost over undici\'s dispatcher; **bare Hono + fetch** minus **bare Hono + node:http pipe** is what `fetch()` and web streams cost (the BFF before the fixes forwarded that way); **bare Hono + node:http pipe** minus **bare node:http pipe** is Hono and its Node adapter.',
    );
    out.push('');
    out.push('| setup | proxy CPU µs/req | req/s | / nginx | / direct |');
    out.push('|---|---|---|---|---|');
    for (const r of floorRows) {
      out.push(`| ${SETUP_LABEL[r.setup]} | ${f0(r.proxyCpuUs)} | ${f0(r.rps)} | ${ratio(r.rps, nginx?.rps)} | ${ratio(r.rps, direct?.rps)} |`);
    }
    out.push('');
  }
  if (results.sse) {
    out.push('## SSE: latency added per event');
    out.push('');
    out.push(
      `A \`slow_task\` stream (20 progress events 20 ms apart, then the result), 5 times per setup. The MCP server records when it writes each event, the load process when the event arrives; the median difference, minus direct's, is what the proxy adds (${results.sse.events} events per setup).`,
    );
    out.push('');
    out.push(`| setup | added per event (median) |`);
    out.push('|---|---|');
    for (const [setup, ms] of Object.entries(results.sse.medianMs)) out.push(`| ${SETUP_LABEL[setup as Setup]} | ${ms.toFixed(3)} ms |`);
    out.push('');
  }
  if (results.streams) {
    const s = results.streams;
    const heap = (s.during.heapUsed + s.during.external - s.before.heapUsed - s.before.external) / s.count;
    const rss = (s.during.rss - s.before.rss) / s.count;
    out.push(`## ${s.count.toLocaleString('en-US')} open SSE streams through the BFF`);
    out.push('');
    out.push(`Statuses: ${JSON.stringify(s.statuses)}. Each stream is a \`slow_task\` that stays open for 100 s with an event every 2 s.`);
    out.push('');
    out.push('| | BFF before | BFF with the streams open | per stream | after closing them |');
    out.push('|---|---|---|---|---|');
    out.push(`| heap + external | ${((s.before.heapUsed + s.before.external) / MiB).toFixed(1)} MiB | ${((s.during.heapUsed + s.during.external) / MiB).toFixed(1)} MiB | ${(heap / 1024).toFixed(1)} KiB | ${((s.afterClose.heapUsed + s.afterClose.external) / MiB).toFixed(1)} MiB |`);
    out.push(`| RSS | ${(s.before.rss / MiB).toFixed(1)} MiB | ${(s.during.rss / MiB).toFixed(1)} MiB | ${rss > 0 ? `${(rss / 1024).toFixed(1)} KiB` : '–'} | ${(s.afterClose.rss / MiB).toFixed(1)} MiB |`);
    out.push('');
    out.push('Heap figures are after a full GC. RSS also moves with what the allocator returns to the system (the throughput runs before this leave garbage behind), so read the heap.');
    out.push('');
    out.push(`For comparison, the MCP server's own heap grew by ${((s.mcpDuring.heapUsed - s.mcpBefore.heapUsed) / s.count / 1024).toFixed(1)} KiB per stream.`);
    out.push('');
  }
  if (results.storm) {
    const s = results.storm;
    out.push('## Refresh storm');
    out.push('');
    out.push(
      `${s.requests.toLocaleString('en-US')} concurrent requests (on already-open connections) on one session whose access token is due for refresh: ` +
        `**${s.refreshes} refresh request${s.refreshes === 1 ? '' : 's'}** at the authorization server ${s.refreshes === 1 ? '✅' : '❌ (must be 1)'}, all answered in **${f0(s.ms)} ms**. Statuses: ${JSON.stringify(s.statuses)}.`,
    );
    out.push('');
  }
  if (results.sessions?.length) {
    out.push('## Sessions');
    out.push('');
    out.push('Each session has one connection with a demo-shaped token record (≈1 KB JWT access token, opaque refresh token), encrypted by the store.');
    out.push('');
    out.push('| store | sessions | heap per session | RSS per session | store size per session | writes/s |');
    out.push('|---|---|---|---|---|---|');
    for (const s of results.sessions) {
      out.push(
        `| ${s.store} | ${s.count.toLocaleString('en-US')} | ${f0(s.heapBytesPerSession)} B | ${f0(s.rssBytesPerSession)} B | ${s.storeBytesPerSession === undefined ? 'the heap' : `${f0(s.storeBytesPerSession)} B`} | ${f0(s.writesPerSecond)} |`,
      );
    }
    out.push('');
  }
  if (results.firstLoad) out.push(...firstLoadSection(results.firstLoad));
  if (results.profile) {
    const p = results.profile;
    out.push('## Where the BFF\'s time goes');
    out.push('');
    out.push(
      `\`node --cpu-prof\` of a BFF process under ${p.seconds} s of JSON load at concurrency ${p.concurrency ?? 16} (${f0(p.rps)} req/s while profiled; busy ${p.summary.busyPct.toFixed(0)}% of the time). Percentages are of busy time. Profile: \`bench/results/${p.file}\` (not committed; open it in Chrome DevTools).`,
    );
    out.push('');
    out.push(
      'All server processes share one pinned core, so a frame that hands the core to another process shows the time the BFF then waited: `writeString` is pino’s synchronous write of the request log line, `writev` a socket write that wakes the MCP server. Read those two as context switches more than as work (runs with `BENCH_BFF_LOG_LEVEL=warn`, no request logs, used no less CPU per request).',
    );
    out.push('');
    out.push('| package | share |');
    out.push('|---|---|');
    for (const pkg of p.summary.byPackage.slice(0, 12)) out.push(`| ${pkg.name} | ${pkg.pct.toFixed(1)}% |`);
    out.push('');
    out.push('Top frames by self time:');
    out.push('');
    out.push('| frame | where | self |');
    out.push('|---|---|---|');
    for (const fr of p.summary.topSelf) out.push(`| \`${fr.name}\` | ${fr.where} | ${fr.pct.toFixed(1)}% |`);
    out.push('');
    out.push('BFF functions by total time (self + callees):');
    out.push('');
    out.push('| function | where | total |');
    out.push('|---|---|---|');
    for (const fr of p.summary.topInclusiveBff.slice(0, 10)) out.push(`| \`${fr.name}\` | ${fr.where} | ${fr.pct.toFixed(1)}% |`);
    out.push('');
  }
  out.push(...beforeAfter(results, readBefore()));
  return out.join('\n');
}

/** A new visitor's first page (empty cache), then the same page again in the same browser. */
function firstLoadSection(f: FirstLoad): string[] {
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
  const row = (name: string, l: LoadBytes) =>
    `| ${name} | ${l.requests} | ${l.fromCache} | ${kb(l.wireBytes)} | ${kb(l.bodyBytes)} | ${kb(l.jsWireBytes)} | ${kb(l.jsBodyBytes)} | ${Object.entries(l.encodings)
      .map(([encoding, n]) => `${encoding} × ${n}`)
      .join(', ')} |`;
  return [
    '## First load in the browser',
    '',
    `Chromium loading \`${f.url}\` from the BFF serving this tree's built SPA (\`pnpm build\`: hashed assets precompressed with brotli and gzip, immutable), signed out, counted by DevTools (\`encodedDataLength\`: response headers and bodies as they crossed the wire), then the same page again in the same browser. \`pnpm bench:first-load\` measures only this.`,
    '',
    '| load | responses | from cache | over the wire | bodies decompressed | JavaScript over the wire | JavaScript decompressed | content encodings |',
    '|---|---|---|---|---|---|---|---|',
    row('first (empty cache)', f.cold),
    row('again (same browser)', f.warm),
    '',
  ];
}

/** The target of the 2026-07-28 call: no more BFF CPU than the 2025-11-25 one, within 10%. */
const ERA_TARGET = 1.1;

/** DPoP must not double the BFF's CPU per call (issue #15). */
const DPOP_TARGET = 2;

/** What a DPoP proof per call costs the BFF: its CPU per call with DPoP-bound tokens and with bearer tokens. */
function dpopSection(results: BenchResults): string[] {
  if (!results.throughput.some((r) => r.setup === 'bff-dpop')) return [];
  const out = [
    '## DPoP-bound tokens',
    '',
    `The BFF with DPoP-bound tokens (a proof signed for every call, RFC 9449) next to the BFF with bearer tokens, same calls, interleaved. Target: at most ${DPOP_TARGET}× the CPU per call.`,
    '',
    '| mode | concurrency | BFF CPU µs/req, bearer | with DPoP | ratio | req/s, bearer | with DPoP |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const mode of ['json', 'sse'] as Mode[]) {
    for (const c of results.settings.concurrency) {
      const bearer = row(results, mode, c, 'bff');
      const dpop = row(results, mode, c, 'bff-dpop');
      if (!bearer || !dpop) continue;
      const cpu = (dpop.proxyCpuUs ?? Number.NaN) / (bearer.proxyCpuUs ?? Number.NaN);
      out.push(
        `| ${mode} | ${c} | ${f0(bearer.proxyCpuUs)} | ${f0(dpop.proxyCpuUs)} | ${Number.isNaN(cpu) ? '–' : `${cpu.toFixed(2)} ${cpu <= DPOP_TARGET ? '✅' : '❌'}`} | ${f0(bearer.rps)} | ${f0(dpop.rps)} |`,
      );
    }
  }
  out.push('');
  return out;
}

/** The BFF's cost per call in both eras, side by side, from the interleaved JSON rows. */
function erasSection(results: BenchResults): string[] {
  if (!results.throughput.some((r) => eraOf(r) === MODERN)) return [];
  const out = [`## Both protocol eras: ${LEGACY} and ${MODERN} (JSON answers)`, ''];
  out.push(
    `The same echo call in each era through the same processes, interleaved. Target: the BFF's CPU per ${MODERN} call at most ${ERA_TARGET.toFixed(2)}× its CPU per ${LEGACY} call. \`pnpm bench:compare --eras\` measures only this ratio, with more rounds. The MCP server's own cost differs between the eras (another SDK path, a longer answer), which moves throughput and, at higher concurrency, how many requests each of the proxy's wake-ups handles; the proxy's CPU per call is the figure to read.`,
  );
  out.push('');
  out.push(`| concurrency | BFF CPU µs/req ${LEGACY} → ${MODERN} | ratio (≤ ${ERA_TARGET.toFixed(2)}) | nginx CPU µs/req | BFF req/s | BFF / direct | BFF / nginx | MCP server CPU µs/req (direct) |`);
  out.push('|---|---|---|---|---|---|---|---|');
  for (const c of results.settings.concurrency) {
    const get = (setup: Setup, era: Era) => row(results, 'json', c, setup, era);
    const [bffOld, bffNew] = [get('bff', LEGACY), get('bff', MODERN)];
    if (!bffOld || !bffNew) continue;
    const cpu = (bffNew.proxyCpuUs ?? Number.NaN) / (bffOld.proxyCpuUs ?? Number.NaN);
    const pair = (f: (era: Era) => string) => `${f(LEGACY)} → ${f(MODERN)}`;
    out.push(
      `| ${c} | ${pair((e) => f0(get('bff', e)?.proxyCpuUs))} | ${Number.isNaN(cpu) ? '–' : `${cpu.toFixed(2)} ${cpu <= ERA_TARGET ? '✅' : '❌'}`} | ${pair((e) => f0(get('nginx', e)?.proxyCpuUs))} | ${pair((e) => f0(get('bff', e)?.rps))} | ${pair((e) => ratio(get('bff', e)?.rps, get('direct', e)?.rps))} | ${pair((e) => ratio(get('bff', e)?.rps, get('nginx', e)?.rps))} | ${pair((e) => f0(get('direct', e)?.mcpCpuUs))} |`,
    );
  }
  out.push('');
  return out;
}

const BEFORE_FILE = 'before-fixes.json';
let resultsDir = '';
function readBefore(): BenchResults | undefined {
  const file = join(resultsDir, BEFORE_FILE);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as BenchResults) : undefined;
}

/** The BFF before and after the performance fixes, from this run; the profile from before the fixes. */
function beforeAfter(results: BenchResults, before: BenchResults | undefined): string[] {
  const out = ['## Before and after the fixes', ''];
  if (results.throughput.some((r) => r.setup === 'bff-before')) {
    out.push(
      `Measured in this run, interleaved with the others: "before" is the BFF at commit \`${results.settings.before?.commit ?? '?'}\` (\`BENCH_BEFORE_REF\`), "after" the BFF as it is. The fixes in between: the session-cookie cache (unsealing cost PBKDF2, AES-CBC and HMAC through WebCrypto per request); undici's dispatcher writing answers straight into the Node response instead of fetch() and web streams (node:http with pipe() in between); reading Node's parsed request instead of building a web Request view (Headers, AbortController) per call; one store read (one SQLite statement, one Redis round trip) for the session and its token record, the last opened record's plaintext reused while its ciphertext is unchanged; and the MCP server's Content-Length passed through, so a JSON answer goes out in one write instead of being re-chunked.`,
    );
    out.push('');
    out.push('| answer | concurrency | req/s before → after | BFF CPU µs/req before → after | p50 before → after | BFF/direct before → after |');
    out.push('|---|---|---|---|---|---|');
    for (const mode of ['json', 'sse'] as Mode[]) {
      for (const c of results.settings.concurrency) {
        const b = row(results, mode, c, 'bff-before');
        const a = row(results, mode, c, 'bff');
        const d = row(results, mode, c, 'direct');
        if (!a || !b) continue;
        out.push(
          `| ${mode.toUpperCase()} | ${c} | ${f0(b.rps)} → ${f0(a.rps)} | ${f0(b.proxyCpuUs)} → ${f0(a.proxyCpuUs)} | ${f2(b.p50)} → ${f2(a.p50)} ms | ${ratio(b.rps, d?.rps)} → ${ratio(a.rps, d?.rps)} |`,
        );
      }
    }
    out.push('');
  }
  if (before?.profile) {
    out.push(
      `Top frames of the BFF's profile before the fixes (\`${BEFORE_FILE}\`, ${before.startedAt.slice(0, 16).replace('T', ' ')} UTC): unsealing the session cookie (PBKDF2, AES-CBC and HMAC through WebCrypto, \`jobPromise\` being WebCrypto's thread-pool job) led.`,
    );
    out.push('');
    out.push('| frame | where | self |');
    out.push('|---|---|---|');
    for (const fr of before.profile.summary.topSelf.slice(0, 8)) out.push(`| \`${fr.name}\` | ${fr.where} | ${fr.pct.toFixed(1)}% |`);
    out.push('');
  }
  return out;
}

/** Hand-made SVG: for each answer mode, req/s and p99 per concurrency, one bar per setup (2025-11-25 calls; the report's tables have both eras). */
function chart(results: BenchResults): string {
  const modes = (['json', 'sse'] as Mode[]).filter((mode) => results.throughput.some((r) => r.mode === mode));
  const setups = setupsOf(results);
  const conc = results.settings.concurrency;
  const panelW = 420;
  const panelH = 220;
  const margin = { left: 60, top: 40, bottom: 40 };
  const width = 2 * (panelW + margin.left) + 20;
  const height = modes.length * (panelH + margin.top + margin.bottom) + 40;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  parts.push(`<rect width="100%" height="100%" fill="white"/>`);
  let legendX = margin.left;
  for (const s of setups) {
    parts.push(`<rect x="${legendX}" y="10" width="12" height="12" fill="${COLORS[s]}"/><text x="${legendX + 16}" y="20">${SETUP_LABEL[s]}</text>`);
    legendX += 16 + SETUP_LABEL[s].length * 6.5 + 18;
  }
  modes.forEach((mode, mi) => {
    (['rps', 'p99'] as const).forEach((metric, pi) => {
      const x0 = margin.left + pi * (panelW + margin.left);
      const y0 = 40 + mi * (panelH + margin.top + margin.bottom) + margin.top;
      const values = results.throughput.filter((r) => r.mode === mode && eraOf(r) === LEGACY).map((r) => r[metric]);
      const max = niceMax(Math.max(...values, 1));
      parts.push(`<text x="${x0}" y="${y0 - 12}" font-size="13" font-weight="bold">${mode.toUpperCase()} answer: ${metric === 'rps' ? 'requests/s (higher is better)' : 'p99 latency, ms (lower is better)'}</text>`);
      for (let t = 0; t <= 4; t++) {
        const v = (max * t) / 4;
        const y = y0 + panelH - (panelH * t) / 4;
        parts.push(`<line x1="${x0}" x2="${x0 + panelW}" y1="${y}" y2="${y}" stroke="#ddd"/><text x="${x0 - 6}" y="${y + 4}" text-anchor="end">${metric === 'rps' ? Math.round(v) : v.toFixed(1)}</text>`);
      }
      const groupW = panelW / conc.length;
      const barW = (groupW * 0.8) / setups.length;
      conc.forEach((c, ci) => {
        const gx = x0 + ci * groupW + groupW * 0.1;
        parts.push(`<text x="${gx + groupW * 0.4}" y="${y0 + panelH + 16}" text-anchor="middle">${c} concurrent</text>`);
        setups.forEach((s, si) => {
          const r = row(results, mode, c, s);
          if (!r) return;
          const h = (panelH * r[metric]) / max;
          const x = gx + si * barW;
          parts.push(`<rect x="${x.toFixed(1)}" y="${(y0 + panelH - h).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[s]}"><title>${SETUP_LABEL[s]} ${c}: ${metric === 'rps' ? `${Math.round(r.rps)} req/s` : `${r.p99.toFixed(2)} ms`}</title></rect>`);
          parts.push(`<text x="${(x + (barW - 2) / 2).toFixed(1)}" y="${(y0 + panelH - h - 3).toFixed(1)}" text-anchor="middle" font-size="9">${metric === 'rps' ? Math.round(r.rps) : r.p99.toFixed(1)}</text>`);
        });
      });
      parts.push(`<line x1="${x0}" x2="${x0}" y1="${y0}" y2="${y0 + panelH}" stroke="#333"/><line x1="${x0}" x2="${x0 + panelW}" y1="${y0 + panelH}" y2="${y0 + panelH}" stroke="#333"/>`);
    });
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function niceMax(v: number): number {
  const exp = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * exp >= v) return m * exp;
  return 10 * exp;
}

export function writeReport(dir: string, results: BenchResults): void {
  resultsDir = dir;
  writeFileSync(join(dir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(dir, 'chart.svg'), chart(results));
  writeFileSync(join(dir, 'report.md'), `${markdown(results)}\n`);
}

/** `tsx bench/report.ts`: re-renders report.md and chart.svg from results.json. */
if (process.argv[1]?.endsWith('bench/report.ts')) {
  const dir = new URL('./results/', import.meta.url).pathname;
  writeReport(dir, JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as BenchResults);
}
