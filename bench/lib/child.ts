import { createServer } from 'node:net';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Each server and the load generator run in their own process, pinned to a CPU with taskset when it is
 * there, and talk to the orchestrator over Node's IPC channel with a tiny request/response protocol.
 */

type Handler = (params: never) => unknown;
export type Handlers = Record<string, Handler>;

interface RpcRequest {
  rpc: number;
  method: string;
  params: unknown;
}
interface RpcReply {
  rpc: number;
  result?: unknown;
  error?: string;
}

/** In a child: answer the parent's calls with `handlers`, then say "ready". */
export function serveRpc(handlers: Handlers): void {
  if (!process.send) throw new Error('this script runs as a child of bench/run.ts');
  process.on('message', (message: RpcRequest) => {
    const handler = handlers[message.method] as ((params: unknown) => unknown) | undefined;
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`no method ${message.method}`);
        return handler(message.params);
      })
      .then(
        (result) => process.send?.({ rpc: message.rpc, result } satisfies RpcReply),
        (error: unknown) => process.send?.({ rpc: message.rpc, error: String((error as Error)?.stack ?? error) } satisfies RpcReply),
      );
  });
  // Orphaned children end with their parent.
  process.on('disconnect', () => process.exit(0));
  process.send({ ready: true });
}

export const hasTaskset = spawnSync('taskset', ['-V']).status === 0;
/** BENCH_PIN=0 turns CPU pinning off. */
const pinning = hasTaskset && process.env.BENCH_PIN !== '0';

/** CPUs for the servers (upstream and proxy share them) and for the load generator. */
export const CPU_SERVERS = process.env.BENCH_CPU_SERVERS ?? '0';
export const CPU_LOAD = process.env.BENCH_CPU_LOAD ?? '1';
export const pinned = pinning;

export function pinnedCommand(cpus: string, command: string, args: string[]): [string, string[]] {
  return pinning ? ['taskset', ['-c', cpus, command, ...args]] : [command, args];
}

export class Child {
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exited = false;
  readonly ready: Promise<void>;

  private constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    this.ready = new Promise((resolve, reject) => {
      proc.on('message', (message: RpcReply | { ready: true }) => {
        if ('ready' in message) return resolve();
        const waiter = this.pending.get(message.rpc);
        if (!waiter) return;
        this.pending.delete(message.rpc);
        if (message.error !== undefined) waiter.reject(new Error(`${name}: ${message.error}`));
        else waiter.resolve(message.result);
      });
      proc.on('exit', (code, signal) => {
        this.exited = true;
        const error = new Error(`${name} exited (${signal ?? code})`);
        reject(error);
        for (const waiter of this.pending.values()) waiter.reject(error);
        this.pending.clear();
      });
    });
  }

  /** Starts `script` (a .ts file under bench/) with tsx, pinned to `cpus`. */
  static async start(name: string, script: string, options: { cpus: string; args?: string[]; nodeArgs?: string[]; env?: NodeJS.ProcessEnv; stdout?: 'inherit' | 'ignore' }): Promise<Child> {
    const file = fileURLToPath(new URL(`../${script}`, import.meta.url));
    const [command, args] = pinnedCommand(options.cpus, process.execPath, [
      ...(options.nodeArgs ?? []),
      '--import',
      'tsx',
      file,
      ...(options.args ?? []),
    ]);
    const proc = spawn(command, args, { stdio: ['ignore', options.stdout ?? 'inherit', 'inherit', 'ipc'], env: { ...process.env, ...options.env } });
    const child = new Child(name, proc);
    await child.ready;
    return child;
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  call<T>(method: string, params?: unknown): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.name} has exited`));
    const rpc = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(rpc, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.send({ rpc, method, params } satisfies RpcRequest);
    });
  }

  /** Asks the child to exit (so --cpu-prof can write its profile), then makes sure it did. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    this.call('exit').catch(() => {});
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
    await gone;
    clearTimeout(timer);
  }
}

/** A free loopback port, for servers that must be told their port before they start. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
