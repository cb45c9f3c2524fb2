import { Client, InMemoryTransport } from '@modelcontextprotocol/client';
import { afterEach, describe, expect, it } from 'vitest';
import { buildMcpServer, COUNTER_URI, createDemoState, type DemoState } from '../src/mcp-tools.js';

/**
 * The demo server's catalogue over an in-memory 2025-11-25 connection (the official v2 client's default
 * legacy handshake): what each tool, resource and prompt answers. Both eras over HTTP are in
 * mcp-features.test.ts, the tools that ask for input in mcp-input.test.ts.
 */
const open: Array<{ close(): Promise<void> }> = [];

async function connect(state: DemoState): Promise<Client> {
  const server = buildMcpServer({ era: 'legacy', origin: 'http://127.0.0.1:4100', sessionCount: () => 1, state });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'showcase-test', version: '0.0.0' });
  await client.connect(clientSide);
  open.push(client, server);
  return client;
}

afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((c) => c.close()));
});

type Content = Array<{ type: string; text?: string; data?: string; mimeType?: string; resource?: { uri: string; text?: string } }>;

describe('the demo MCP server: what a client has to show', () => {
  it('create_event takes nested and list arguments, fills defaults and returns structured content', async () => {
    const client = await connect(createDemoState());
    const result = await client.callTool({
      name: 'create_event',
      arguments: { title: 'Team lunch', location: { city: 'Lisbon' }, attendees: [{ name: 'Ada', email: 'ada@example.com' }, { name: 'Grace' }] },
    });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toEqual({
      id: 'evt-team-lunch',
      title: 'Team lunch',
      city: 'Lisbon',
      room: null,
      attendees: ['Ada <ada@example.com>', 'Grace'],
      tags: [],
      priority: 'normal',
      durationMinutes: 30,
      remind: true,
    });
    const { tools } = await client.listTools();
    const schema = tools.find((t) => t.name === 'create_event')?.inputSchema as { properties: Record<string, { type?: string }>; required: string[] };
    expect(schema.properties.location?.type).toBe('object');
    expect(schema.properties.attendees?.type).toBe('array');
    expect(schema.required.sort()).toEqual(['attendees', 'location', 'title']);
  });

  it('color_swatch returns a PNG image', async () => {
    const client = await connect(createDemoState());
    const result = await client.callTool({ name: 'color_swatch', arguments: { color: 'orange', size: 16 } });
    const image = (result.content as Content)[0];
    expect(image).toMatchObject({ type: 'image', mimeType: 'image/png' });
    const bytes = Buffer.from(image?.data ?? '', 'base64');
    expect(bytes.subarray(1, 4).toString('ascii')).toBe('PNG');
    expect(bytes.readUInt32BE(16)).toBe(16); // IHDR width
  });

  it('get_report embeds a resource and links another; divide by zero is an isError result', async () => {
    const client = await connect(createDemoState());
    const report = (await client.callTool({ name: 'get_report', arguments: { topic: 'sales' } })).content as Content;
    expect(report.map((c) => c.type)).toEqual(['text', 'resource', 'resource_link']);
    expect(report[1]?.resource).toMatchObject({ uri: 'demo://reports/sales', text: expect.stringContaining('Sales report') });
    const failed = await client.callTool({ name: 'divide', arguments: { dividend: 1, divisor: 0 } });
    expect(failed).toMatchObject({ isError: true, content: [{ type: 'text', text: 'Cannot divide by zero.' }] });
    expect((await client.callTool({ name: 'divide', arguments: { dividend: 9, divisor: 3 } })).structuredContent).toEqual({ quotient: 3 });
  });

  it('emit_logs sends log notifications at or above the level the client set', async () => {
    const client = await connect(createDemoState());
    const seen: string[] = [];
    client.setNotificationHandler('notifications/message', (n) => {
      seen.push(`${n.params.level}:${String(n.params.data)}`);
    });
    await client.callTool({ name: 'emit_logs', arguments: { count: 2, level: 'warning' } });
    expect(seen).toEqual(['warning:Log message 1 of 2', 'warning:Log message 2 of 2']);
    await client.setLoggingLevel('error');
    const quiet = await client.callTool({ name: 'emit_logs', arguments: { count: 2, level: 'info' } });
    expect(seen).toHaveLength(2);
    expect((quiet.content as Content)[0]?.text).toContain('below the level error');
  });

  it('a change made in one session reaches the subscribers of another', async () => {
    const state = createDemoState();
    const [watcher, changer] = await Promise.all([connect(state), connect(state)]);
    const updates: string[] = [];
    watcher.setNotificationHandler('notifications/resources/updated', (n) => {
      updates.push(n.params.uri);
    });
    await watcher.subscribeResource({ uri: COUNTER_URI });
    await changer.callTool({ name: 'bump_counter', arguments: { by: 5 } });
    await expect.poll(() => updates).toEqual([COUNTER_URI]);
    const read = await watcher.readResource({ uri: COUNTER_URI });
    expect(read.contents[0]).toMatchObject({ text: 'Counter: 5' });
    await watcher.unsubscribeResource({ uri: COUNTER_URI });
    await changer.callTool({ name: 'bump_counter', arguments: {} });
    await changer.readResource({ uri: COUNTER_URI });
    expect(updates).toEqual([COUNTER_URI]);
  });

  it('add_note adds a resource to the list and tells every session the list changed', async () => {
    const state = createDemoState();
    const [watcher, changer] = await Promise.all([connect(state), connect(state)]);
    let changes = 0;
    watcher.setNotificationHandler('notifications/resources/list_changed', () => {
      changes++;
    });
    const added = await changer.callTool({ name: 'add_note', arguments: { text: 'Buy milk' } });
    expect((added.content as Content)[0]?.text).toBe('Added note 1.');
    await expect.poll(() => changes).toBe(1);
    const { resources } = await watcher.listResources();
    expect(resources).toContainEqual(expect.objectContaining({ uri: 'demo://notes/1', title: 'Buy milk' }));
    expect((await watcher.readResource({ uri: 'demo://notes/1' })).contents[0]).toMatchObject({ text: 'Buy milk' });
    await expect(watcher.readResource({ uri: 'demo://notes/99' })).rejects.toThrow();
  });

  it('serves a binary resource, resource templates with completion, and a prompt with arguments', async () => {
    const client = await connect(createDemoState());
    const swatch = await client.readResource({ uri: 'demo://swatch.png' });
    expect(swatch.contents[0]).toMatchObject({ mimeType: 'image/png', blob: expect.any(String) });
    const { resourceTemplates } = await client.listResourceTemplates();
    expect(resourceTemplates.map((t) => t.uriTemplate)).toEqual(['demo://weather/{city}/{day}', 'demo://notes/{id}']);
    const weather = await client.readResource({ uri: 'demo://weather/Oslo/tomorrow' });
    expect(weather.contents[0]).toMatchObject({ text: 'Weather in Oslo tomorrow: sunny, 21 °C.' });
    const completion = await client.complete({
      ref: { type: 'ref/resource', uri: 'demo://weather/{city}/{day}' },
      argument: { name: 'day', value: '' },
    });
    expect(completion.completion.values).toEqual(['today', 'tomorrow']);
    const prompt = await client.getPrompt({ name: 'code_review', arguments: { language: 'Go', code: 'x := 1', focus: 'naming' } });
    expect(prompt.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(JSON.stringify(prompt.messages[0])).toContain('looking mostly at naming');
    expect(prompt.messages[2]?.content).toMatchObject({ type: 'resource' });
  });
});
