import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createServer as createNetServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CallToolResult, FetchLike, Tool } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type Connected, connectMcp, type InputHandlers } from '../src/mcp-connect.js';
import { MAX_POLL_MS, noteTaskStatus, runToolTask, TaskFailedError, TaskRequestError, type TaskView, taskUse } from '../src/toolTasks.js';

/**
 * Task-based tools (MCP 2025-11-25 tasks) with the SPA's own client code against the reference
 * server, @modelcontextprotocol/server-everything, whose `simulate-research-query` requires a task:
 * it goes through four stages a second each, and when `ambiguous` asks the person (elicitation,
 * delivered on the tasks/result stream) before it goes on. Faults the real server cannot show (a
 * refused tasks/get, a failed task) come from a fetch that rewrites those answers.
 */

const here = dirname(fileURLToPath(import.meta.url));
const everythingCli = createRequire(import.meta.url).resolve('@modelcontextprotocol/server-everything/dist/index.js');

let child: ChildProcess;
let url: URL;
const output: string[] = [];

async function freePort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

beforeAll(async () => {
  const port = await freePort();
  url = new URL(`http://127.0.0.1:${port}/mcp`);
  child = spawn(process.execPath, ['--import', join(here, '../../e2e/loopback-listen.mjs'), everythingCli, 'streamableHttp'], {
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString());
    if (output.length > 100) output.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server-everything exited:\n${output.join('')}`);
    try {
      await fetch(url, { signal: AbortSignal.timeout(1000) });
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`server-everything did not answer:\n${output.join('')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}, 30_000);

afterAll(async () => {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
});

/** The JSON-RPC methods a fetch sent, in order. */
function methodOf(init: RequestInit | undefined): string | undefined {
  if (typeof init?.body !== 'string') return undefined;
  try {
    return (JSON.parse(init.body) as { method?: string }).method;
  } catch {
    return undefined;
  }
}

function person(answers: { interpretation?: string; seen?: string[] } = {}): InputHandlers {
  return {
    async elicit(params) {
      answers.seen?.push(params.message);
      if (params.mode === 'url') return { action: 'decline' };
      return { action: 'accept', content: { interpretation: answers.interpretation ?? 'historical' } };
    },
    async sample() {
      throw new Error('no sampling here');
    },
  };
}

async function connect(options: { input?: InputHandlers; fetch?: FetchLike } = {}): Promise<Connected> {
  return connectMcp({ url, fetch: options.fetch ?? ((input, init) => fetch(input, init)), protocol: 'auto', input: options.input ?? person() });
}

async function researchTool(connected: Connected): Promise<Tool> {
  const { tools } = await connected.client.listTools();
  const tool = tools.find((t) => t.name === 'simulate-research-query');
  if (!tool) throw new Error('no simulate-research-query');
  return tool;
}

function textOf(result: CallToolResult): string {
  return result.content.map((block) => (block.type === 'text' ? block.text : '')).join('\n');
}

/** A fetch that answers the JSON-RPC requests named in `answers` itself, and sends the rest on. */
function rewriting(answers: Record<string, (id: unknown, taskId: string) => unknown>): FetchLike {
  return async (input, init) => {
    const method = methodOf(init);
    const rewrite = method ? answers[method] : undefined;
    if (!rewrite || typeof init?.body !== 'string') return fetch(input, init);
    const message = JSON.parse(init.body) as { id: unknown; params: { taskId: string } };
    return new Response(JSON.stringify({ jsonrpc: '2.0', id: message.id, ...(rewrite(message.id, message.params.taskId) as object) }), {
      status: 200,
      headers: { 'content-type': 'application/json' },
    });
  };
}

describe('which tools run as tasks', () => {
  it('a tool that requires a task runs as one where the server declares task-augmented tools/call, and cannot run where it does not', async () => {
    const connected = await connect();
    try {
      expect(connected.era).toBe('legacy');
      const capabilities = connected.client.getServerCapabilities();
      expect(capabilities?.tasks?.requests?.tools?.call).toBeDefined();
      const { tools } = await connected.client.listTools();
      const byName = (name: string) => tools.find((t) => t.name === name) as Tool;
      expect(taskUse(byName('simulate-research-query'), capabilities)).toBe('task');
      expect(taskUse(byName('echo'), capabilities)).toBe('plain');
      expect(taskUse({ ...byName('echo'), execution: { taskSupport: 'optional' } }, capabilities)).toBe('optional');
      // Without the server's tasks capability the client must not send a task.
      expect(taskUse(byName('simulate-research-query'), { ...capabilities, tasks: undefined })).toBe('impossible');
      expect(taskUse({ ...byName('echo'), execution: { taskSupport: 'optional' } }, { tools: {} })).toBe('plain');
      // The failure this fixes: a plain call of a tool that requires a task is refused.
      const plain = await connected.client.callTool(
        { name: 'simulate-research-query', arguments: { topic: 'x' } },
        { toolDefinition: byName('simulate-research-query') },
      );
      expect(plain.isError).toBe(true);
      expect(textOf(plain)).toMatch(/requires task augmentation/);
    } finally {
      await connected.client.close();
    }
  });
});

describe('running a task', () => {
  it('runs to completion: its statuses as the server says them, polled at its pollInterval, then its result', async () => {
    const sent: string[] = [];
    const connected = await connect({
      fetch: (input, init) => {
        const method = methodOf(init);
        if (method) sent.push(method);
        return fetch(input, init);
      },
    });
    try {
      const tool = await researchTool(connected);
      const seen: TaskView[] = [];
      const result = await runToolTask(connected.client, {
        server: 'everything',
        tool,
        arguments: { topic: 'tide pools' },
        signal: new AbortController().signal,
        onTask: (task) => seen.push(task),
      });
      expect(result.isError).toBeFalsy();
      expect(textOf(result)).toContain('# Research Report: tide pools');
      expect(seen[0]?.status).toBe('working');
      expect(seen.at(-1)?.status).toBe('completed');
      expect(new Set(seen.map((t) => t.taskId)).size).toBe(1);
      expect(seen.map((t) => t.statusMessage)).toEqual(expect.arrayContaining(['Gathering sources...', 'Generating report...']));
      // Four one-second stages polled at the server's 1 s interval: a handful of tasks/get, then one tasks/result.
      const polls = sent.filter((m) => m === 'tasks/get').length;
      expect(polls).toBeGreaterThanOrEqual(3);
      expect(polls).toBeLessThanOrEqual(8);
      expect(sent.filter((m) => m === 'tasks/result')).toHaveLength(1);
      expect(sent.filter((m) => m === 'tools/call')).toHaveLength(1);
    } finally {
      await connected.client.close();
    }
  });

  it('input_required: the question arrives on tasks/result, the person answers, and the task goes on with the answer', async () => {
    const seenQuestions: string[] = [];
    const connected = await connect({ input: person({ interpretation: 'historical', seen: seenQuestions }) });
    try {
      const tool = await researchTool(connected);
      const statuses: string[] = [];
      const result = await runToolTask(connected.client, {
        server: 'everything',
        tool,
        arguments: { topic: 'tides', ambiguous: true },
        signal: new AbortController().signal,
        onTask: (task) => statuses.push(task.status),
      });
      expect(seenQuestions).toHaveLength(1);
      expect(seenQuestions[0]).toMatch(/multiple interpretations/);
      expect(statuses).toContain('input_required');
      expect(statuses.at(-1)).toBe('completed');
      expect(textOf(result)).toContain('tides (historical)');
    } finally {
      await connected.client.close();
    }
  });

  it('status notifications (as mcp.ts routes them) move the task on without waiting for the next poll', async () => {
    const sent: string[] = [];
    const now = new Date().toISOString();
    // The one poll this test lets through says: come back in a minute (bounded to 30 s).
    const slow = rewriting({
      'tasks/get': (_id, taskId) => ({ result: { taskId, status: 'working', createdAt: now, lastUpdatedAt: now, ttl: 60_000, pollInterval: 60_000 } }),
    });
    const connected = await connect({
      fetch: (input, init) => {
        const method = methodOf(init);
        if (method) sent.push(method);
        return slow(input, init);
      },
    });
    // What mcp.ts does with every notification nothing else handles.
    connected.client.fallbackNotificationHandler = async ({ method, params }) => {
      if (method === 'notifications/tasks/status') noteTaskStatus('everything', params);
    };
    try {
      const tool = await researchTool(connected);
      const seen: TaskView[] = [];
      const started = Date.now();
      const result = await runToolTask(connected.client, {
        server: 'everything',
        tool,
        arguments: { topic: 'dunes' },
        signal: new AbortController().signal,
        onTask: (task) => seen.push(task),
      });
      expect(textOf(result)).toContain('Research Report: dunes');
      // Four one-second stages; with polls 30 s apart only the notifications can be this quick.
      expect(Date.now() - started).toBeLessThan(MAX_POLL_MS / 2);
      expect(sent.filter((m) => m === 'tasks/get').length).toBeLessThanOrEqual(1);
      expect(seen.map((t) => t.statusMessage)).toEqual(expect.arrayContaining(['Synthesizing findings...', 'Generating report...']));
      expect(seen.at(-1)?.status).toBe('completed');
    } finally {
      await connected.client.close();
    }
  });

  it('cancelled by the person: tasks/cancel goes to the server, which then reports the task cancelled', async () => {
    const connected = await connect();
    try {
      const tool = await researchTool(connected);
      const controller = new AbortController();
      const seen: TaskView[] = [];
      const run = runToolTask(connected.client, {
        server: 'everything',
        tool,
        arguments: { topic: 'glaciers' },
        signal: controller.signal,
        onTask: (task) => {
          seen.push(task);
          if (task.status === 'working') controller.abort(new Error('Cancelled by the person.'));
        },
      });
      await expect(run).rejects.toThrow('Cancelled by the person.');
      expect(seen.at(-1)?.status).toBe('cancelled');
      const taskId = seen[0]?.taskId as string;
      const { tasks } = await connected.client.request(
        { method: 'tasks/list', params: {} },
        // Read loosely: only the status of this task matters here.
        z.looseObject({ tasks: z.array(z.looseObject({ taskId: z.string(), status: z.string() })) }),
      );
      expect(tasks.find((t) => t.taskId === taskId)?.status).toBe('cancelled');
    } finally {
      await connected.client.close();
    }
  });
});

describe('faults', () => {
  it('a tasks/get the server refuses ends the call with that error, naming the step', async () => {
    const connected = await connect({ fetch: rewriting({ 'tasks/get': () => ({ error: { code: -32603, message: 'task store unavailable' } }) }) });
    try {
      const tool = await researchTool(connected);
      const error = await runToolTask(connected.client, {
        server: 'everything',
        tool,
        arguments: { topic: 'fog' },
        signal: new AbortController().signal,
        onTask: () => undefined,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TaskRequestError);
      expect((error as Error).message).toMatch(/^tasks\/get failed: .*task store unavailable/);
    } finally {
      await connected.client.close();
    }
  });

  it('a task that ends failed shows its status message, with the error tasks/result answered', async () => {
    const now = new Date().toISOString();
    const connected = await connect({
      fetch: rewriting({
        'tasks/get': (_id, taskId) => ({ result: { taskId, status: 'failed', statusMessage: 'the archive is offline', createdAt: now, lastUpdatedAt: now, ttl: 60_000 } }),
        'tasks/result': () => ({ error: { code: -32603, message: 'Research failed' } }),
      }),
    });
    try {
      const tool = await researchTool(connected);
      const seen: TaskView[] = [];
      const error = await runToolTask(connected.client, {
        server: 'everything',
        tool,
        arguments: { topic: 'fog' },
        signal: new AbortController().signal,
        onTask: (task) => seen.push(task),
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TaskFailedError);
      expect((error as Error).message).toBe('The task failed: the archive is offline');
      expect(seen.at(-1)).toMatchObject({ status: 'failed', statusMessage: 'the archive is offline' });
    } finally {
      await connected.client.close();
    }
  });

  it('a task that never ends is stopped by the signal (the time limit), and cancelled on the server', async () => {
    const sent: string[] = [];
    const now = new Date().toISOString();
    const stuck = rewriting({
      'tasks/get': (_id, taskId) => ({ result: { taskId, status: 'working', statusMessage: 'still thinking', createdAt: now, lastUpdatedAt: now, ttl: 60_000, pollInterval: 100 } }),
    });
    const connected = await connect({
      fetch: (input, init) => {
        const method = methodOf(init);
        if (method) sent.push(method);
        return stuck(input, init);
      },
    });
    try {
      const tool = await researchTool(connected);
      const started = Date.now();
      const error = await runToolTask(connected.client, {
        server: 'everything',
        tool,
        arguments: { topic: 'fog' },
        signal: AbortSignal.timeout(1500),
        onTask: () => undefined,
      }).catch((e: unknown) => e);
      expect((error as Error).name).toBe('TimeoutError');
      expect(Date.now() - started).toBeLessThan(5000);
      expect(sent).toContain('tasks/cancel');
      // The server's 100 ms suggestion is bounded below: no hammering.
      expect(sent.filter((m) => m === 'tasks/get').length).toBeLessThanOrEqual(8);
    } finally {
      await connected.client.close();
    }
  });
});
