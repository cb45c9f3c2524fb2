import type { FetchLike } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { McpProtocols } from '../../demo/src/mcp-server.js';
import { type Stack, startStack } from '../../demo/src/stack.js';
import { TestBrowser } from '../../bff/test/support.js';
import { type Connected, connectMcp, type InputHandlers, isEraMismatch, NoCommonProtocolError } from '../src/mcp-connect.js';

/**
 * The SPA's connect module (the one the conformance adapter drives too) against the real BFF and the
 * demo MCP server speaking both eras, only 2026-07-28, or only 2025-11-25: negotiation as the
 * versioning section says, pinned revisions, and the same input handlers answering 2025-11-25's
 * server-to-client requests and 2026-07-28's input_required rounds.
 */

const MODES: McpProtocols[] = ['both', '2026-07-28', '2025-11-25'];
const stacks = new Map<McpProtocols, { stack: Stack; browser: TestBrowser }>();

beforeAll(async () => {
  for (const mode of MODES) {
    const stack = await startStack({ mcpProtocols: mode });
    const browser = new TestBrowser(stack.appUrl);
    await browser.login({ user: 'alice' });
    stacks.set(mode, { stack, browser });
  }
}, 60_000);
afterAll(async () => {
  await Promise.all([...stacks.values()].map(({ stack }) => stack.close()));
});

/** The browser's fetch for /mcp: its cookie and the CSRF header, as web/src/mcp.ts sends them. */
function bffFetch(browser: TestBrowser): FetchLike {
  return (url, init) => browser.request(new URL(url).pathname, { ...init, csrf: true });
}

/** A person who accepts every form with `content`, declines URLs, and writes `reply` when asked. */
function person(answers: { content?: Record<string, unknown>; reply?: string; seen?: string[] } = {}): InputHandlers {
  return {
    async elicit(params) {
      answers.seen?.push(params.mode === 'url' ? `url:${new URL(params.url).pathname}` : `form:${params.message}`);
      if (params.mode === 'url') return { action: 'decline' };
      return { action: 'accept', content: (answers.content ?? {}) as Record<string, string> };
    },
    async sample(params) {
      answers.seen?.push(`sampling:${params.messages.length}`);
      return { role: 'assistant', model: 'written-by-a-person', content: { type: 'text', text: answers.reply ?? 'hello' } };
    },
  };
}

async function connect(mode: McpProtocols, protocol: 'auto' | '2026-07-28' | '2025-11-25', input = person()): Promise<Connected> {
  const { stack, browser } = stacks.get(mode) ?? {};
  if (!stack || !browser) throw new Error(`no stack for ${mode}`);
  return connectMcp({ url: new URL('/mcp/default', stack.appUrl), fetch: bffFetch(browser), protocol, input });
}

function textOf(result: { content?: unknown }): string {
  const blocks = (result.content ?? []) as Array<{ type: string; text?: string }>;
  return blocks.map((b) => b.text ?? '').join('\n');
}

describe('negotiation', () => {
  it.each([
    ['both', 'modern', '2026-07-28'],
    ['2026-07-28', 'modern', '2026-07-28'],
    ['2025-11-25', 'legacy', '2025-11-25'],
  ] as const)('auto against a server speaking %s settles on %s (%s)', async (mode, era, version) => {
    const connected = await connect(mode, 'auto');
    try {
      expect(connected.era).toBe(era);
      expect(connected.protocolVersion).toBe(version);
      expect(connected.remember.kind).toBe(era);
      const { tools } = await connected.client.listTools();
      expect(tools.map((t) => t.name)).toContain('echo');
      const result = await connected.client.callTool({ name: 'echo', arguments: { message: `hi ${mode}` } });
      expect(textOf(result)).toContain(`hi ${mode}`);
    } finally {
      await connected.client.close();
    }
  });

  it('a pinned 2025-11-25 speaks the old era to a server that speaks both', async () => {
    const connected = await connect('both', '2025-11-25');
    try {
      expect(connected.era).toBe('legacy');
      expect((await connected.client.callTool({ name: 'echo', arguments: { message: 'old' } })).isError).toBeFalsy();
    } finally {
      await connected.client.close();
    }
  });

  it('a pinned revision the server does not speak fails, naming what the server offered', async () => {
    const error = await connect('2026-07-28', '2025-11-25').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoCommonProtocolError);
    expect((error as NoCommonProtocolError).offered).toContain('2026-07-28');
    expect((error as Error).message).toMatch(/2026-07-28/);

    const legacyOnly = await connect('2025-11-25', '2026-07-28').catch((e: unknown) => e);
    expect(legacyOnly).toBeInstanceOf(NoCommonProtocolError);
    expect((legacyOnly as Error).message).toMatch(/configured for MCP 2026-07-28/);
  });

  it('a remembered modern verdict for a server that now speaks only 2025-11-25: its first refusal reads as an era change', async () => {
    const modern = await connect('both', 'auto');
    await modern.client.close();
    const { stack, browser } = stacks.get('2025-11-25') ?? {};
    if (!stack || !browser) throw new Error('no stack');
    const options = { url: new URL('/mcp/default', stack.appUrl), fetch: bffFetch(browser), protocol: 'auto' as const, input: person() };
    // The remembered verdict skips the probe, so the change shows on the first request ...
    const stale = await connectMcp({ ...options, prior: modern.remember });
    const refusal = await stale.client.listTools().catch((e: unknown) => e);
    await stale.client.close();
    expect(isEraMismatch(refusal, stale.era)).toBe(true);
    // ... and a negotiation from scratch (what web/src/mcp.ts does then, once) finds the old era.
    const fresh = await connectMcp(options);
    try {
      expect(fresh.era).toBe('legacy');
    } finally {
      await fresh.client.close();
    }
  });

  it('an ordinary refusal by a modern server (unknown tool) is not an era change', async () => {
    const connected = await connect('both', 'auto');
    try {
      const error = await connected.client.callTool({ name: 'no_such_tool', arguments: {} }).catch((e: unknown) => e);
      expect(isEraMismatch(error, connected.era)).toBe(false);
    } finally {
      await connected.client.close();
    }
  });
});

describe.each(['both', '2025-11-25'] as const)('input requests, server speaking %s', (mode) => {
  it('a form (elicitation) is answered by the person and its content reaches the tool', async () => {
    const seen: string[] = [];
    const connected = await connect(mode, 'auto', person({ content: { name: 'Ada', colour: 'green', age: 36 }, seen }));
    try {
      const result = await connected.client.callTool({ name: 'ask_profile', arguments: {} });
      expect(textOf(result)).toContain('Ada');
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatch(/^form:/);
    } finally {
      await connected.client.close();
    }
  });

  it('two questions in a row (two rounds) both reach the person, the second built on the first answer', async () => {
    const seen: string[] = [];
    let round = 0;
    const input: InputHandlers = {
      ...person({ seen }),
      async elicit(params) {
        seen.push(params.mode === 'url' ? 'url' : params.message);
        round++;
        const content: Record<string, string> = round === 1 ? { kind: 'city' } : { city: 'Kyoto' };
        return { action: 'accept', content };
      },
    };
    const connected = await connect(mode, 'auto', input);
    try {
      const result = await connected.client.callTool({ name: 'plan_trip', arguments: {} });
      expect(result.isError).toBeFalsy();
      expect(seen).toHaveLength(2);
      expect(JSON.stringify(result)).toContain('Kyoto');
    } finally {
      await connected.client.close();
    }
  });

  it('sampling: the reply the person writes is what the tool gets back', async () => {
    const connected = await connect(mode, 'auto', person({ reply: 'forty-two' }));
    try {
      const result = await connected.client.callTool({ name: 'ask_model', arguments: { question: 'meaning?' } });
      expect(textOf(result)).toContain('forty-two');
    } finally {
      await connected.client.close();
    }
  });

  it('roots are answered with an empty list', async () => {
    const connected = await connect(mode, 'auto');
    try {
      const result = await connected.client.callTool({ name: 'list_roots', arguments: {} });
      expect(result.isError).toBeFalsy();
      expect(result.structuredContent).toEqual({ roots: [] });
    } finally {
      await connected.client.close();
    }
  });

  it('a URL the person declines to open: the tool hears "declined"', async () => {
    const seen: string[] = [];
    const connected = await connect(mode, 'auto', person({ seen }));
    try {
      const result = await connected.client.callTool({ name: 'confirm_in_browser', arguments: {} });
      expect(textOf(result)).toMatch(/declined/);
      expect(seen[0]).toMatch(/^url:/);
    } finally {
      await connected.client.close();
    }
  });
});

describe('log level', () => {
  it('2026-07-28: the level rides in every request (_meta), and the server honours it', async () => {
    const connected = await connect('both', 'auto');
    const messages: string[] = [];
    connected.client.setNotificationHandler('notifications/message', ({ params }) => {
      messages.push(String(params.data));
    });
    try {
      expect(connected.era).toBe('modern');
      const silent = await connected.client.callTool({ name: 'emit_logs', arguments: { count: 2, level: 'info' } });
      expect(textOf(silent)).toMatch(/Sent nothing/);
      connected.client.logLevel = 'debug';
      const sent = await connected.client.callTool({ name: 'emit_logs', arguments: { count: 2, level: 'info' } });
      expect(textOf(sent)).toMatch(/Sent 2/);
      expect(messages).toHaveLength(2);
    } finally {
      await connected.client.close();
    }
  });
});
