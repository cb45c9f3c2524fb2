import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { TestBrowser } from '../../bff/test/support.js';
import { type Stack, startStack } from '../../demo/src/stack.js';
import {
  type Completer,
  type CompletionRequest,
  CompletionQuery,
  type CompletionState,
  moreThan,
  readSuggestions,
  siblingArguments,
  type Suggestions,
} from '../src/completions.js';

/**
 * Suggestions as the person types (web/src/completions.ts). First the timing on its own, with a
 * completer the test answers by hand (the only way to make an old answer arrive after a new one):
 * one request per pause in typing, the one in flight aborted when a newer one starts, a late answer
 * never shown. Then the real thing in Node, through the real BFF to the demo MCP server in both
 * protocol eras, and to one that declares no completions and is never asked.
 */

const suggestions = (...values: string[]): Suggestions => ({ values, total: undefined, hasMore: false });
const ask = (value: string, context?: Record<string, string>): CompletionRequest => ({
  argument: { name: 'city', value },
  ...(context ? { context: { arguments: context } } : {}),
});

/** A completer whose answers the test gives, one call at a time. */
function manualCompleter() {
  const calls: Array<{ request: CompletionRequest; signal: AbortSignal; answer(s: Suggestions): void; fail(e: Error): void }> = [];
  const completer: Completer = (request, signal) =>
    new Promise((resolve, reject) => {
      calls.push({ request, signal, answer: resolve, fail: reject });
    });
  return { calls, completer };
}

describe('CompletionQuery: when to ask, and which answer counts', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('asks once the person pauses, with what they typed last', async () => {
    vi.useFakeTimers();
    const { calls, completer } = manualCompleter();
    const states: CompletionState[] = [];
    const query = new CompletionQuery(completer, (state) => states.push(state), 250);
    query.typed(ask('O'));
    await vi.advanceTimersByTimeAsync(200);
    query.typed(ask('Os'));
    await vi.advanceTimersByTimeAsync(200);
    query.typed(ask('Osl'));
    await vi.advanceTimersByTimeAsync(249);
    expect(calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls.map((c) => c.request.argument.value)).toEqual(['Osl']);
    calls[0]?.answer(suggestions('Oslo'));
    await vi.advanceTimersByTimeAsync(0);
    expect(states).toEqual([
      { status: 'loading', value: 'Osl' },
      { status: 'done', value: 'Osl', suggestions: suggestions('Oslo') },
    ]);
    expect(query.busy).toBe(false);
  });

  it('aborts the request in flight when the person types again, and never shows its answer', async () => {
    vi.useFakeTimers();
    const { calls, completer } = manualCompleter();
    const states: CompletionState[] = [];
    const query = new CompletionQuery(completer, (state) => states.push(state), 250);
    query.typed(ask('O'));
    await vi.advanceTimersByTimeAsync(250);
    expect(calls).toHaveLength(1);
    query.typed(ask('Os'));
    // Superseded at the keystroke, not only when the next request leaves.
    expect(calls[0]?.signal.aborted).toBe(true);
    await vi.advanceTimersByTimeAsync(250);
    expect(calls).toHaveLength(2);
    // The new answer first, then the old one (a server that ignored the cancellation).
    calls[1]?.answer(suggestions('Osaka', 'Oslo'));
    await vi.advanceTimersByTimeAsync(0);
    calls[0]?.answer(suggestions('Oslo', 'Osaka', 'Ottawa'));
    await vi.advanceTimersByTimeAsync(0);
    expect(states.filter((s) => s.status === 'done')).toEqual([{ status: 'done', value: 'Os', suggestions: suggestions('Osaka', 'Oslo') }]);
  });

  it('an older answer arriving after a newer one is discarded (asking at once, Down Arrow)', async () => {
    const { calls, completer } = manualCompleter();
    const states: CompletionState[] = [];
    const query = new CompletionQuery(completer, (state) => states.push(state));
    query.now(ask('a'));
    query.now(ask('ab'));
    expect(calls.map((c) => [c.request.argument.value, c.signal.aborted])).toEqual([
      ['a', true],
      ['ab', false],
    ]);
    calls[0]?.fail(new DOMException('aborted', 'AbortError'));
    calls[1]?.answer(suggestions('abc'));
    await Promise.resolve();
    await new Promise((resolve) => setTimeout(resolve, 0));
    // No failure for the aborted one: only the answer to what the field holds now.
    expect(states.filter((s) => s.status !== 'loading')).toEqual([{ status: 'done', value: 'ab', suggestions: suggestions('abc') }]);
  });

  it('stop drops a pending ask and aborts the one in flight; nothing is reported after it', async () => {
    vi.useFakeTimers();
    const { calls, completer } = manualCompleter();
    const states: CompletionState[] = [];
    const query = new CompletionQuery(completer, (state) => states.push(state), 250);
    query.now(ask('L'));
    query.typed(ask('Li'));
    query.stop();
    expect(calls[0]?.signal.aborted).toBe(true);
    await vi.advanceTimersByTimeAsync(1000);
    expect(calls).toHaveLength(1);
    calls[0]?.answer(suggestions('Lima', 'Lisbon'));
    await vi.advanceTimersByTimeAsync(0);
    expect(states.filter((s) => s.status !== 'loading')).toEqual([]);
    expect(query.busy).toBe(false);
  });

  it("a server's error is reported quietly as a failure of that value, and the next keystroke asks again", async () => {
    vi.useFakeTimers();
    const { calls, completer } = manualCompleter();
    const states: CompletionState[] = [];
    const query = new CompletionQuery(completer, (state) => states.push(state), 250);
    query.typed(ask('x'));
    await vi.advanceTimersByTimeAsync(250);
    calls[0]?.fail(new Error('MCP error -32602: Prompt nope not found'));
    await vi.advanceTimersByTimeAsync(0);
    expect(states.at(-1)).toEqual({ status: 'failed', value: 'x', message: 'MCP error -32602: Prompt nope not found' });
    query.typed(ask('xy'));
    await vi.advanceTimersByTimeAsync(250);
    expect(calls).toHaveLength(2);
  });
});

describe('reading suggestions', () => {
  it('keeps strings, never a total smaller than what came, and counts what is not shown', () => {
    expect(readSuggestions({ values: ['a', 'b'], total: 1 })).toEqual({ values: ['a', 'b'], total: 2, hasMore: false });
    expect(readSuggestions({ values: ['a'], total: 40 })).toEqual({ values: ['a'], total: 40, hasMore: true });
    expect(readSuggestions({ values: ['a'], hasMore: true })).toEqual({ values: ['a'], total: undefined, hasMore: true });
    const many = { values: Array.from({ length: 40 }, (_, i) => `v${i}`), total: undefined, hasMore: false };
    expect(moreThan(many, 10)).toBe(30);
    expect(moreThan({ values: ['a'], total: 150, hasMore: true }, 1)).toBe(149);
    expect(moreThan({ values: ['a', 'b'], total: undefined, hasMore: true }, 2)).toBe('some');
    expect(moreThan(suggestions('a', 'b'), 10)).toBe(0);
  });

  it("context.arguments: the other fields' text, without empty ones or the field itself", () => {
    expect(siblingArguments({ language: 'Rust', code: '', focus: 'o' }, 'focus')).toEqual({ language: 'Rust' });
    expect(siblingArguments({ focus: 'o', code: '' }, 'focus')).toBeUndefined();
    expect(siblingArguments({ city: 'Oslo', nested: { a: 'b' }, flag: true }, 'day')).toEqual({ city: 'Oslo' });
  });
});

/** Two real stacks: the demo server with completions, and one built without them. */
const stacks: Record<'with' | 'without', { stack: Stack; browser: TestBrowser } | undefined> = { with: undefined, without: undefined };
let current: { stack: Stack; browser: TestBrowser } | undefined;
/** JSON-RPC methods the "page" sent (what an MCP server could ever see), with their params. */
const sent: Array<{ method: string; params: unknown }> = [];
const realFetch = globalThis.fetch;
let mcp: typeof import('../src/mcp.js');
let completions: typeof import('../src/completions.js');

beforeAll(async () => {
  for (const kind of ['with', 'without'] as const) {
    const stack = await startStack({ mcpProtocols: 'both', mcpCompletions: kind === 'with' });
    const browser = new TestBrowser(stack.appUrl);
    await browser.login({ user: 'alice' });
    stacks[kind] = { stack, browser };
  }
  // What the page has that Node does not: its origin, and a fetch that carries the session cookie.
  Object.assign(globalThis, { window: { location: { origin: stacks.with?.stack.appUrl } } });
  globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (!current || url.origin !== current.stack.appUrl) return realFetch(input, init);
    if (typeof init?.body === 'string') {
      const messages = [JSON.parse(init.body)].flat() as Array<{ method?: string; params?: unknown }>;
      for (const m of messages) if (m.method) sent.push({ method: m.method, params: m.params });
    }
    const headers = new Headers(init?.headers);
    const cookie = current.browser.jar.header(url);
    if (cookie) headers.set('cookie', cookie);
    const res = await realFetch(url, { ...init, headers, redirect: 'manual' });
    current.browser.jar.store(url, res.headers);
    return res;
  }) as typeof fetch;
  mcp = await import('../src/mcp.js');
  completions = await import('../src/completions.js');
}, 60_000);
afterAll(async () => {
  await mcp?.closeAllClients();
  globalThis.fetch = realFetch;
  await Promise.all(Object.values(stacks).map((s) => s?.stack.close()));
});

/** Points the "page" at one stack, speaking one protocol revision, with a fresh connection. */
async function useServer(kind: 'with' | 'without', protocol: '2026-07-28' | '2025-11-25'): Promise<void> {
  await mcp.closeAllClients();
  current = stacks[kind];
  if (!current) throw new Error(`no stack ${kind}`);
  Object.assign(globalThis, { window: { location: { origin: current.stack.appUrl } } });
  mcp.noteConnections([{ server: 'default', name: 'Demo MCP server', status: 'connected', protocol }]);
  sent.length = 0;
}

const WEATHER = { type: 'ref/resource', uri: 'demo://weather/{city}/{day}' } as const;
const CODE_REVIEW = { type: 'ref/prompt', name: 'code_review' } as const;
const never = new AbortController().signal;

describe.each([
  ['2026-07-28', 'modern'],
  ['2025-11-25', 'legacy'],
] as const)('the demo MCP server in %s', (protocol, era) => {
  it('declares completions and suggests template variables and prompt arguments, narrowed by the others', async () => {
    await useServer('with', protocol);
    expect((await mcp.serverFacts('default')).era).toBe(era);
    expect(await completions.offersCompletions('default')).toBe(true);

    const weather = completions.completerFor('default', WEATHER);
    expect(await weather({ argument: { name: 'city', value: 'o' } }, never)).toEqual({ values: ['Osaka', 'Oslo', 'Ottawa'], total: 3, hasMore: false });
    const all = await weather({ argument: { name: 'city', value: '' } }, never);
    expect(all?.values).toHaveLength(40);
    expect(all && completions.moreThan(all, 10)).toBe(30);
    expect((await weather({ argument: { name: 'day', value: 'tom' } }, never))?.values).toEqual(['tomorrow']);

    const review = completions.completerFor('default', CODE_REVIEW);
    expect((await review({ argument: { name: 'language', value: 'ty' } }, never))?.values).toEqual(['TypeScript']);
    const focus = await review({ argument: { name: 'focus', value: '' }, context: { arguments: { language: 'Rust' } } }, never);
    expect(focus?.values).toEqual(['error handling', 'lifetimes', 'ownership', 'unsafe blocks']);
    expect((await review({ argument: { name: 'focus', value: 'n' } }, never))?.values).toEqual(['naming']);

    // What went over the wire: the reference, the argument, and the filled-in siblings as context.
    expect(sent.filter((m) => m.method === 'completion/complete').map((m) => m.params)).toContainEqual(
      expect.objectContaining({ ref: CODE_REVIEW, argument: { name: 'focus', value: '' }, context: { arguments: { language: 'Rust' } } }),
    );
  });

  it('a request aborted in flight fails as aborted, and the next one works on the same connection', async () => {
    await useServer('with', protocol);
    const weather = completions.completerFor('default', WEATHER);
    expect((await weather({ argument: { name: 'city', value: 'Li' } }, never))?.values).toEqual(['Lima', 'Lisbon']);
    const controller = new AbortController();
    const pending = weather({ argument: { name: 'city', value: 'Lo' } }, controller.signal);
    controller.abort();
    await expect(pending).rejects.toThrow();
    expect((await weather({ argument: { name: 'city', value: 'Lon' } }, never))?.values).toEqual(['London']);
    expect((await mcp.serverFacts('default')).era).toBe(era);
  });

  it('a server without the capability is never asked', async () => {
    await useServer('without', protocol);
    const facts = await mcp.serverFacts('default');
    expect(facts.era).toBe(era);
    expect(facts.capabilities?.completions).toBeUndefined();
    expect(await completions.offersCompletions('default')).toBe(false);
    // Even a completer made regardless sends nothing.
    expect(await completions.completerFor('default', WEATHER)({ argument: { name: 'city', value: 'O' } }, never)).toBeUndefined();
    expect(await completions.completerFor('default', CODE_REVIEW)({ argument: { name: 'language', value: 'T' } }, never)).toBeUndefined();
    expect(sent.map((m) => m.method)).not.toContain('completion/complete');
    expect(sent.length).toBeGreaterThan(0);
  });
});
