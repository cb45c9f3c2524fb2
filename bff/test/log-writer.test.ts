import { spawnSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BatchedWriter, createLogger, requestLogWriter } from '../src/log.js';

/** A logger writing into `lines`, one entry per write. */
function capture(level = 'info') {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { log: createLogger(level, sink), lines };
}

describe('requestLogWriter', () => {
  it('writes the line pino writes for the same fields, key for key and in the same order', () => {
    const ours = capture();
    const theirs = capture();
    const line = { reqId: '5d0c3b6e-2f39-4c1e-9d0a-7b1f0a3c9e21', method: 'POST', path: '/mcp/a "quoted" \\ päth\n', status: 200, ms: 3 };
    requestLogWriter(ours.log)(line);
    theirs.log.info({ event: 'request', ...line });
    expect(ours.lines).toHaveLength(1);
    expect(theirs.lines).toHaveLength(1);
    const a = JSON.parse(ours.lines[0] as string) as Record<string, unknown>;
    const b = JSON.parse(theirs.lines[0] as string) as Record<string, unknown>;
    expect(Object.keys(a)).toEqual(Object.keys(b));
    expect({ ...a, time: 0 }).toEqual({ ...b, time: 0 });
    expect(Math.abs((a.time as number) - (b.time as number))).toBeLessThan(1_000);
    expect(ours.lines[0]?.endsWith('}\n')).toBe(true);
  });

  it('writes nothing when the level is above info, and follows a level changed later', () => {
    const { log, lines } = capture('warn');
    const write = requestLogWriter(log);
    write({ reqId: 'r1', method: 'GET', path: '/', status: 200, ms: 0 });
    expect(lines).toEqual([]);
    log.level = 'info';
    write({ reqId: 'r2', method: 'GET', path: '/', status: 200, ms: 0 });
    expect(lines.map((l) => (JSON.parse(l) as { reqId: string }).reqId)).toEqual(['r2']);
  });
});

/** What a non-blocking reader can read now, as text. */
function readAvailable(fd: number): string {
  const out: Buffer[] = [];
  const chunk = Buffer.alloc(65_536);
  for (;;) {
    try {
      const n = readSync(fd, chunk);
      if (n === 0) break;
      out.push(Buffer.from(chunk.subarray(0, n)));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') break;
      throw error;
    }
  }
  return Buffer.concat(out).toString();
}

describe('BatchedWriter', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'log-writer-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('gathers lines until the batch is full, then writes them in order in one go', () => {
    const file = join(dir, 'out.log');
    const fd = openSync(file, 'w');
    try {
      const writer = new BatchedWriter(fd, 100, 60_000);
      writer.write(`${'a'.repeat(40)}\n`);
      writer.write(`${'b'.repeat(40)}\n`);
      expect(readFileSync(file, 'utf8')).toBe('');
      writer.write(`${'c'.repeat(40)}\n`);
      expect(readFileSync(file, 'utf8')).toBe(`${'a'.repeat(40)}\n${'b'.repeat(40)}\n${'c'.repeat(40)}\n`);
      writer.write('d\n');
      writer.flushSync();
      expect(readFileSync(file, 'utf8').endsWith('c\nd\n')).toBe(true);
    } finally {
      closeSync(fd);
    }
  });

  it('writes a lone line once its delay has passed', async () => {
    const file = join(dir, 'out.log');
    const fd = openSync(file, 'w');
    try {
      new BatchedWriter(fd, 4096, 20).write('late\n');
      expect(readFileSync(file, 'utf8')).toBe('');
      await expect.poll(() => readFileSync(file, 'utf8'), { timeout: 2_000 }).toBe('late\n');
    } finally {
      closeSync(fd);
    }
  });

  it('never throws: lines a destination refuses are dropped', () => {
    const file = join(dir, 'read-only.log');
    closeSync(openSync(file, 'w'));
    const fd = openSync(file, 'r');
    try {
      const writer = new BatchedWriter(fd, 1, 60_000);
      expect(() => writer.write('lost\n')).not.toThrow();
      expect(() => writer.write('lost too\n')).not.toThrow();
      expect(readFileSync(file, 'utf8')).toBe('');
    } finally {
      closeSync(fd);
    }
  });

  it('keeps what a full non-blocking pipe did not take, and writes it in order once the pipe is read', () => {
    const fifo = join(dir, 'fifo');
    if (spawnSync('mkfifo', [fifo]).status !== 0) throw new Error('mkfifo failed');
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const fd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    try {
      const writer = new BatchedWriter(fd, 1, 60_000);
      // More than a pipe holds (64 KiB on Linux): the first write fills it, the rest is kept.
      const lines = Array.from({ length: 2_000 }, (_, i) => `${String(i).padStart(6, '0')} ${'x'.repeat(90)}\n`);
      writer.write(lines.join(''));
      const read = () => readAvailable(reader);
      let received = read();
      expect(received.length).toBeLessThan(lines.join('').length);
      for (let i = 0; i < 100 && received.length < lines.join('').length; i++) {
        writer.flushSync();
        received += read();
      }
      expect(received).toBe(lines.join(''));
    } finally {
      closeSync(fd);
      closeSync(reader);
    }
  });

  it('says how many lines were dropped in the first line it writes after the destination is back', () => {
    const fifo = join(dir, 'fifo');
    if (spawnSync('mkfifo', [fifo]).status !== 0) throw new Error('mkfifo failed');
    const firstReader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const fd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    closeSync(firstReader);
    let reader: number | undefined;
    try {
      const writer = new BatchedWriter(fd, 1, 60_000);
      // No reader: every write fails with EPIPE (Node ignores SIGPIPE), and its lines are dropped; the
      // second one's notice of the first three is dropped with it, and does not count as a line.
      writer.write('lost 1\nlost 2\nlost 3\n');
      writer.write('lost 4\n');
      reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
      writer.write('back\n');
      const [notice, line, ...rest] = readAvailable(reader).split('\n');
      expect(JSON.parse(notice ?? '')).toMatchObject({ level: 40, service: 'mcp-bff', event: 'log_lines_dropped', count: 4 });
      expect(line).toBe('back');
      expect(rest).toEqual(['']);
      // Said once: the next line comes alone.
      writer.write('next\n');
      expect(readAvailable(reader)).toBe('next\n');
    } finally {
      closeSync(fd);
      if (reader !== undefined) closeSync(reader);
    }
  });

  it("writes what is left when the process exits, also on an uncaught error", () => {
    const script = (ending: string) => `
      const { createLogger } = await import(${JSON.stringify(new URL('../src/log.ts', import.meta.url).href)});
      const log = createLogger('info');
      log.info({ event: 'last_words' });
      ${ending}
    `;
    for (const ending of ['process.exit(0);', "throw new Error('boom');"]) {
      const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script(ending)], { encoding: 'utf8' });
      expect(run.stdout).toMatch(/"event":"last_words"/);
    }
  });
});
