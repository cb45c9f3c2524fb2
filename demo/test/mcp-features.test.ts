import { type Client, LOG_LEVEL_META_KEY } from '@modelcontextprotocol/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type DemoStack, startDemoStack } from '../src/demo-stack.js';
import { COUNTER_URI } from '../src/mcp-tools.js';
import { httpTransport, v2Client } from './mcp-clients.js';
import { modernPost, readSse } from './mcp-http.js';
import { loginAndGetTokens, type TestClient } from './oauth-flow.js';

/**
 * Every feature of the demo MCP server in both eras, on one dual-era server, through the official v2
 * client: pinned to 2026-07-28, and in its plain 2025-11-25 mode (initialize, a session).
 */
const testClient: TestClient = {
  client_id: 'mcp-features-client',
  client_secret: 'mcp-features-secret',
  redirect_uri: 'http://localhost:3999/bff/callback',
};
let stack: DemoStack;
let token: string;
const open: Client[] = [];

beforeAll(async () => {
  stack = await startDemoStack({
    clients: [{ client_id: testClient.client_id, client_secret: testClient.client_secret, redirect_uris: [testClient.redirect_uri] }],
  });
  token = (await loginAndGetTokens({ issuer: stack.issuer, resource: stack.resource, client: testClient, scope: 'mcp:tools' })).access_token;
});

afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await stack?.close();
});

const ERAS = [
  { era: 'modern', negotiation: 'pin' },
  { era: 'legacy', negotiation: 'legacy' },
] as const;
type Era = (typeof ERAS)[number]['era'];

async function connect(era: Era): Promise<Client> {
  const client = v2Client({}, era === 'modern' ? 'pin' : 'legacy');
  await client.connect(httpTransport(stack.resource, token));
  expect(client.getProtocolEra()).toBe(era);
  open.push(client);
  return client;
}

type Content = Array<{ type: string; text?: string; uri?: string }>;
const firstText = (result: { content?: unknown }) => (result.content as Content)[0]?.text;

describe.each(ERAS)('the $era era', ({ era }) => {
  it('lists the same tools, calls them, with structured results', async () => {
    const client = await connect(era);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      'add',
      'add_note',
      'admin_report',
      'ask_model',
      'ask_profile',
      'bump_counter',
      'color_swatch',
      'confirm_in_browser',
      'create_event',
      'divide',
      'echo',
      'emit_logs',
      'get_report',
      'list_roots',
      'plan_trip',
      'slow_task',
      'whoami',
    ]);
    expect((await client.callTool({ name: 'whoami', arguments: {} })).structuredContent).toEqual({
      sub: 'alice',
      scopes: ['mcp:tools'],
      clientId: testClient.client_id,
    });
    const sum = await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } });
    expect(sum).toMatchObject({ content: [{ type: 'text', text: '42' }], structuredContent: { sum: 42 } });
    const event = await client.callTool({ name: 'create_event', arguments: { title: 'Retro', location: { city: 'Oslo' }, attendees: [{ name: 'Ada' }] } });
    expect(event.structuredContent).toMatchObject({ id: 'evt-retro', city: 'Oslo', durationMinutes: 30 });
    expect(await client.callTool({ name: 'divide', arguments: { dividend: 1, divisor: 0 } })).toMatchObject({ isError: true });
  });

  it('streams progress, and a cancelled call stops while the connection stays usable', async () => {
    const client = await connect(era);
    const seen: number[] = [];
    const done = await client.callTool({ name: 'slow_task', arguments: { steps: 3, delayMs: 20 } }, { onprogress: (p) => seen.push(p.progress) });
    expect(seen).toEqual([1, 2, 3]);
    expect(firstText(done)).toBe('Completed 3 steps');

    const controller = new AbortController();
    let progressed: () => void = () => {};
    const started = new Promise<void>((resolve) => {
      progressed = resolve;
    });
    const cancelled = client.callTool(
      { name: 'slow_task', arguments: { steps: 50, delayMs: 200 } },
      { signal: controller.signal, onprogress: () => progressed() },
    );
    await started;
    controller.abort('user cancelled');
    await expect(cancelled).rejects.toThrow();
    expect((await client.callTool({ name: 'add', arguments: { a: 1, b: 1 } })).structuredContent).toEqual({ sum: 2 });
  });

  it('sends log messages at or above the level the client asked for', async () => {
    const client = await connect(era);
    const seen: string[] = [];
    client.setNotificationHandler('notifications/message', (n) => {
      seen.push(`${n.params.level}:${String(n.params.data)}`);
    });
    // 2025-11-25 sets the level once per session; 2026-07-28 carries it in each request's _meta.
    let _meta: Record<string, unknown> | undefined;
    if (era === 'legacy') await client.setLoggingLevel('warning');
    else _meta = { [LOG_LEVEL_META_KEY]: 'warning' };
    const sent = await client.callTool({ name: 'emit_logs', arguments: { count: 2, level: 'error' }, _meta });
    expect(firstText(sent)).toBe('Sent 2 error message(s).');
    expect(seen).toEqual(['error:Log message 1 of 2', 'error:Log message 2 of 2']);
    const quiet = await client.callTool({ name: 'emit_logs', arguments: { count: 2, level: 'info' }, _meta });
    expect(firstText(quiet)).toBe('Sent nothing: info is below the level warning.');
    expect(seen).toHaveLength(2);
  });

  it('reads resources and templates, completes a template argument, gets prompts', async () => {
    const client = await connect(era);
    const { resources } = await client.listResources();
    expect(resources.map((r) => r.uri)).toEqual(expect.arrayContaining(['demo://readme', COUNTER_URI, 'demo://swatch.png']));
    expect((await client.readResource({ uri: 'demo://readme' })).contents[0]).toMatchObject({ mimeType: 'text/plain' });
    expect((await client.readResource({ uri: 'demo://swatch.png' })).contents[0]).toMatchObject({ blob: expect.any(String) });
    const { resourceTemplates } = await client.listResourceTemplates();
    expect(resourceTemplates.map((t) => t.uriTemplate)).toEqual(['demo://weather/{city}/{day}', 'demo://notes/{id}']);
    expect((await client.readResource({ uri: 'demo://weather/Oslo/today' })).contents[0]).toMatchObject({ text: 'Weather in Oslo today: sunny, 21 °C.' });
    const completion = await client.complete({ ref: { type: 'ref/resource', uri: 'demo://weather/{city}/{day}' }, argument: { name: 'day', value: 'to' } });
    expect(completion.completion.values).toEqual(expect.arrayContaining(['today', 'tomorrow']));
    const { prompts } = await client.listPrompts();
    expect(prompts.map((p) => p.name)).toEqual(['greeting', 'code_review']);
    expect(JSON.stringify((await client.getPrompt({ name: 'greeting', arguments: { name: 'Ada' } })).messages)).toContain('Ada');
  });

  it("delivers a change made by another client to the subscriber of the resource, and list changes", async () => {
    const [watcher, changer] = [await connect(era), await connect(era)];
    const updates: string[] = [];
    let listChanges = 0;
    watcher.setNotificationHandler('notifications/resources/updated', (n) => {
      updates.push(n.params.uri);
    });
    watcher.setNotificationHandler('notifications/resources/list_changed', () => {
      listChanges++;
    });
    if (era === 'modern') {
      // 2026-07-28: one subscriptions/listen stream, opted in to what this client wants.
      const subscription = await watcher.listen({ resourceSubscriptions: [COUNTER_URI], resourcesListChanged: true });
      expect(subscription.honoredFilter).toEqual({ resourceSubscriptions: [COUNTER_URI], resourcesListChanged: true });
    } else {
      // 2025-11-25: resources/subscribe; list changes arrive unasked on the session's GET stream.
      await watcher.subscribeResource({ uri: COUNTER_URI });
    }
    await changer.callTool({ name: 'bump_counter', arguments: { by: 3 } });
    await expect.poll(() => updates).toEqual([COUNTER_URI]);
    const note = await changer.callTool({ name: 'add_note', arguments: { text: `from the ${era} era` } });
    await expect.poll(() => listChanges).toBe(1);
    const noteUri = (note.content as Content)[1]?.uri ?? '';
    expect((await watcher.listResources({}, { cacheMode: 'refresh' })).resources.map((r) => r.uri)).toContain(noteUri);
    expect((await watcher.readResource({ uri: noteUri })).contents[0]).toMatchObject({ text: `from the ${era} era` });
  });
});

describe('2026-07-28 specifics', () => {
  it('sends no log messages to a request that carries no log level', async () => {
    const res = await modernPost(stack.resource, token, { id: 1, method: 'tools/call', params: { name: 'emit_logs', arguments: { level: 'emergency' } } });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(JSON.stringify(await res.json())).toContain('Sent nothing: this request did not ask for log messages');
  });

  it('streams a call that reports progress as SSE, and answers a plain one as JSON, each with resultType', async () => {
    const plain = await modernPost(stack.resource, token, { id: 1, method: 'tools/call', params: { name: 'add', arguments: { a: 1, b: 2 } } });
    expect(plain.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await plain.json()).toMatchObject({ id: 1, result: { resultType: 'complete', structuredContent: { sum: 3 } } });
    const streamed = await modernPost(stack.resource, token, {
      id: 2,
      method: 'tools/call',
      params: { name: 'slow_task', arguments: { steps: 2, delayMs: 10 }, _meta: { progressToken: 'p' } },
    });
    expect(streamed.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const messages = (await readSse(streamed)).map((m) => m.data);
    expect(messages.filter((m) => m.method === 'notifications/progress')).toHaveLength(2);
    expect(messages.at(-1)).toMatchObject({ id: 2, result: { resultType: 'complete' } });
  });
});
