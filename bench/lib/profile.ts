import { readFileSync } from 'node:fs';

/** Reads a .cpuprofile (as written by node --cpu-prof) into self and inclusive time per frame and per package. */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface Frame {
  name: string;
  where: string;
  ms: number;
  pct: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Share of samples in which the process was busy (not idle). */
  busyPct: number;
  topSelf: Frame[];
  topInclusiveBff: Frame[];
  byPackage: Array<{ name: string; ms: number; pct: number }>;
}

/** node_modules/.pnpm/<pkg>@<ver>/node_modules/<pkg>/… → <pkg>; node:internal → node; bff/src → bff. */
export function packageOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const pnpm = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pnpm?.[1]) return pnpm[1];
  if (url.startsWith('node:')) return 'node (core)';
  const local = /\/(bff|demo|shared|bench)\/src\//.exec(url) ?? /\/(bench)\//.exec(url);
  if (local?.[1]) return `${local[1]}/`;
  return url;
}

function location(url: string, line: number): string {
  const short = url.replace(/^file:\/\//, '').replace(/^.*node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?/, '').replace(/^.*\/(bff|demo|bench)\//, '$1/');
  return short ? `${short}:${line + 1}` : '';
}

/**
 * @param window only samples taken between these two monotonic clock readings (µs, as
 *   process.hrtime gives them, which is the profiler's clock too): the load, without start-up. Several
 *   windows: the samples in any of them (one kind of load among interleaved others).
 */
export function summarizeProfile(file: string, top = 15, window?: [number, number] | Array<[number, number]>): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  if (window) {
    const windows = (typeof window[0] === 'number' ? [window] : window) as Array<[number, number]>;
    let t = profile.startTime;
    const inWindow = profile.samples.map((_, i) => {
      t += profile.timeDeltas[i] ?? 0;
      return windows.some(([from, to]) => t >= from && t <= to);
    });
    // A clock that does not match leaves nothing: then the whole profile is used.
    if (inWindow.some(Boolean)) {
      profile.samples = profile.samples.filter((_, i) => inWindow[i]);
      profile.timeDeltas = profile.timeDeltas.filter((_, i) => inWindow[i]);
    }
  }
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const selfByNode = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    selfByNode.set(id, (selfByNode.get(id) ?? 0) + dt);
  });
  const totalMs = [...selfByNode.values()].reduce((a, b) => a + b, 0);
  const key = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'}\u0000${location(n.callFrame.url, n.callFrame.lineNumber)}`;

  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const packages = new Map<string, number>();
  let idleMs = 0;
  for (const [id, ms] of selfByNode) {
    const node = byId.get(id);
    if (!node) continue;
    const k = key(node);
    self.set(k, (self.get(k) ?? 0) + ms);
    const pkg = packageOf(node.callFrame.url, node.callFrame.functionName);
    packages.set(pkg, (packages.get(pkg) ?? 0) + ms);
    if (node.callFrame.functionName === '(idle)') idleMs += ms;
    // Inclusive: every distinct frame on the stack gets the sample once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur);
      if (!n) break;
      const kk = key(n);
      if (seen.has(kk)) continue;
      seen.add(kk);
      inclusive.set(kk, (inclusive.get(kk) ?? 0) + ms);
    }
  }
  const busyMs = totalMs - idleMs;
  const frame = ([k, ms]: [string, number]): Frame => {
    const [name, where] = k.split('\u0000') as [string, string];
    return { name, where, ms, pct: (100 * ms) / busyMs };
  };
  return {
    totalMs,
    busyPct: (100 * busyMs) / totalMs,
    topSelf: [...self]
      .filter(([k]) => !k.startsWith('(idle)'))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(frame),
    topInclusiveBff: [...inclusive]
      .filter(([k]) => k.includes('\u0000bff/src/'))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(frame),
    byPackage: [...packages]
      .filter(([name]) => name !== '(idle)')
      .sort((a, b) => b[1] - a[1])
      .map(([name, ms]) => ({ name, ms, pct: (100 * ms) / busyMs })),
  };
}
