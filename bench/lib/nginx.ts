import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pinnedCommand } from './child.js';
import { childPids } from './cpu.js';

/**
 * Debian's nginx as a plain reverse proxy that adds the Authorization header: what a minimal proxy
 * costs. It runs in the foreground with its own config, pid file and logs in a temporary directory.
 */
export interface Nginx {
  url: string;
  version: string;
  /** The master and its worker: what nginx's CPU time is read from. */
  pids(): number[];
  stop(): Promise<void>;
}

export function findNginx(): string | undefined {
  return ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));
}

export async function startNginx(options: { binary: string; dir: string; port: number; upstreamPort: number; accessToken: string; cpus: string }): Promise<Nginx> {
  const { dir } = options;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pidFile = join(dir, 'nginx.pid');
  const conf = `
worker_processes 1;
daemon off;
pid ${pidFile};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  upstream mcp {
    server 127.0.0.1:${options.upstreamPort};
    keepalive 128;
  }
  server {
    listen 127.0.0.1:${options.port};
    location / {
      proxy_pass http://mcp;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host 127.0.0.1:${options.upstreamPort};
      proxy_set_header Authorization "Bearer ${options.accessToken}";
      proxy_buffering off;
      proxy_read_timeout 600s;
    }
  }
}
`;
  const confFile = join(dir, 'nginx.conf');
  // The file holds a (demo) bearer token: readable by its owner only.
  writeFileSync(confFile, conf, { mode: 0o600 });
  const version = spawnSync(options.binary, ['-v'], { encoding: 'utf8' }).stderr.trim().replace(/^nginx version: /, '');
  const [command, args] = pinnedCommand(options.cpus, options.binary, ['-p', dir, '-e', join(dir, 'error.log'), '-c', confFile]);
  const proc: ChildProcess = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${options.port}`;
  await waitForPidFile(pidFile, proc, dir);
  return {
    url,
    version,
    pids() {
      const master = Number(readFileSync(pidFile, 'utf8').trim());
      return [master, ...childPids(master)];
    },
    async stop() {
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      // SIGQUIT: graceful shutdown of the master and its worker.
      if (pid > 0) process.kill(pid, 'SIGQUIT');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function waitForPidFile(pidFile: string, proc: ChildProcess, dir: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (proc.exitCode !== null) {
      const log = existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : '';
      throw new Error(`nginx exited with ${proc.exitCode}: ${log}`);
    }
    if (existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('nginx did not start');
}
