import { Client, InMemoryTransport } from '@modelcontextprotocol/client';
import { afterEach, describe, expect, it } from 'vitest';
import { CITIES } from '../src/mcp-completions.js';
import { buildMcpServer, createDemoState } from '../src/mcp-tools.js';

/**
 * The demo server's suggestions (`completion/complete`) over an in-memory 2025-11-25 connection, and
 * the same server built without them: no capability declared, and a request for one refused. Both
 * eras over HTTP, through the BFF, are in web/test/completions.test.ts.
 */
const open: Array<{ close(): Promise<void> }> = [];

async function connect(completions: boolean): Promise<Client> {
  const server = buildMcpServer({ era: 'legacy', origin: 'http://127.0.0.1:4100', sessionCount: () => 1, state: createDemoState(), completions });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'completions-test', version: '0.0.0' });
  await client.connect(clientSide);
  open.push(client, server);
  return client;
}

afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((c) => c.close()));
});

const WEATHER = { type: 'ref/resource', uri: 'demo://weather/{city}/{day}' } as const;
const CODE_REVIEW = { type: 'ref/prompt', name: 'code_review' } as const;

describe('the demo server suggests values', () => {
  it('cities and days for the weather template, by prefix, whatever the case', async () => {
    const client = await connect(true);
    expect(client.getServerCapabilities()?.completions).toEqual({});
    const city = await client.complete({ ref: WEATHER, argument: { name: 'city', value: 'sT' } });
    expect(city.completion).toEqual({ values: ['Stockholm'], total: 1, hasMore: false });
    const everyCity = await client.complete({ ref: WEATHER, argument: { name: 'city', value: '' } });
    expect(everyCity.completion.values).toEqual([...CITIES]);
    const day = await client.complete({ ref: WEATHER, argument: { name: 'day', value: 'to' } });
    expect(day.completion.values).toEqual(['today', 'tomorrow']);
  });

  it("code_review's language, and a focus that depends on the language already given", async () => {
    const client = await connect(true);
    const language = await client.complete({ ref: CODE_REVIEW, argument: { name: 'language', value: 'j' } });
    expect(language.completion.values).toEqual(['Java', 'JavaScript']);
    const goFocus = await client.complete({ ref: CODE_REVIEW, argument: { name: 'focus', value: '' }, context: { arguments: { language: 'go' } } });
    expect(goFocus.completion.values).toEqual(['error handling', 'goroutine leaks', 'interfaces', 'naming']);
    const anyFocus = await client.complete({ ref: CODE_REVIEW, argument: { name: 'focus', value: 'r' }, context: { arguments: { language: 'COBOL' } } });
    expect(anyFocus.completion.values).toEqual(['readability']);
    // The code itself has nothing to suggest.
    const code = await client.complete({ ref: CODE_REVIEW, argument: { name: 'code', value: 'x' } });
    expect(code.completion.values).toEqual([]);
  });

  it('built without completions: declares none, and refuses the request', async () => {
    const client = await connect(false);
    expect(client.getServerCapabilities()?.completions).toBeUndefined();
    await expect(client.complete({ ref: WEATHER, argument: { name: 'city', value: 'O' } })).rejects.toThrow();
    // Everything else is the same server.
    const prompt = await client.getPrompt({ name: 'code_review', arguments: { language: 'Go', code: 'x := 1' } });
    expect(JSON.stringify(prompt.messages[0])).toContain('Please review this Go code');
  });
});
