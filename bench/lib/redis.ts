import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { connect } from 'node:net';

/** A redis-server of the bench's own (no persistence) on a loopback port, for the sessions measurement. */
export interface RedisServer {
  url: string;
  usedMemory(): Promise<number>;
  stop(): Promise<void>;
}

export function hasRedisServer(): boolean {
  return spawnSync(process.env.REDIS_SERVER ?? 'redis-server', ['--version']).status === 0;
}

/** One inline command over RESP; enough for PING and INFO. */
function command(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      data += chunk;
      const bulk = /^\$(\d+)\r\n/.exec(data);
      if ((bulk && data.length >= bulk[0].length + Number(bulk[1]) + 2) || (!bulk && data.endsWith('\r\n') && data[0] !== '$')) {
        socket.end();
        resolve(bulk ? data.slice(bulk[0].length, bulk[0].length + Number(bulk[1])) : data.trim());
      }
    });
    socket.on('error', reject);
    socket.write(`${line}\r\n`);
  });
}

export async function startRedis(port: number): Promise<RedisServer> {
  const proc: ChildProcess = spawn(
    process.env.REDIS_SERVER ?? 'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  for (let i = 0; ; i++) {
    if (await command(port, 'PING').then((r) => r === '+PONG', () => false)) break;
    if (i > 100 || proc.exitCode !== null) throw new Error('redis-server did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    async usedMemory() {
      const info = await command(port, 'INFO memory');
      return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? Number.NaN);
    },
    async stop() {
      proc.kill('SIGTERM');
      await exited;
    },
  };
}
