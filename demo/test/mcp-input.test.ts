import type { Client, ClientCapabilities, ElicitRequest, ElicitResult } from '@modelcontextprotocol/client';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type DemoStack, startDemoStack } from '../src/demo-stack.js';
import { httpTransport, v2Client } from './mcp-clients.js';
import { modernPost } from './mcp-http.js';
import { loginAndGetTokens, type TestClient } from './oauth-flow.js';

/**
 * The tools that ask the person for input, in both eras on one dual-era server, through the official v2
 * client and its handlers (which answer 2025-11-25 server-to-client requests and 2026-07-28
 * input_required results alike); and what the server refuses: a tampered or borrowed requestState, a
 * request for input the client did not declare it can give.
 */
const testClient: TestClient = {
  client_id: 'mcp-input-client',
  client_secret: 'mcp-input-secret',
  redirect_uri: 'http://localhost:3999/bff/callback',
};
let stack: DemoStack;
let alice: string;
let bob: string;
const open: Array<{ close(): Promise<void> }> = [];

beforeAll(async () => {
  stack = await startDemoStack({
    clients: [{ client_id: testClient.client_id, client_secret: testClient.client_secret, redirect_uris: [testClient.redirect_uri] }],
  });
  const login = (user?: string, password?: string) =>
    loginAndGetTokens({ issuer: stack.issuer, resource: stack.resource, client: testClient, scope: 'mcp:tools', ...(user ? { user, password } : {}) });
  [alice, bob] = (await Promise.all([login(), login('bob', 'bob-demo-password')])).map((t) => t.access_token) as [string, string];
});

afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((c) => c.close()));
});

afterAll(async () => {
  await stack?.close();
});

const EVERYTHING: ClientCapabilities = { elicitation: { form: {}, url: {} }, sampling: {}, roots: {} };

type Elicit = (params: ElicitRequest['params']) => ElicitResult | Promise<ElicitResult>;

/** A v2 client in `era`, declaring `capabilities`; `answers` answer its elicitations in turn. */
async function connect(era: 'modern' | 'legacy', capabilities: ClientCapabilities, answers: Elicit[] = []): Promise<{ client: Client; asked: ElicitRequest['params'][] }> {
  const client = v2Client(capabilities, era === 'modern' ? 'pin' : 'legacy');
  const asked: ElicitRequest['params'][] = [];
  if (capabilities.elicitation) {
    client.setRequestHandler('elicitation/create', async (request) => {
      asked.push(request.params);
      const answer = answers.shift();
      if (!answer) throw new Error(`unexpected elicitation: ${request.params.message}`);
      return answer(request.params);
    });
  }
  if (capabilities.sampling) {
    client.setRequestHandler('sampling/createMessage', async (request) => {
      const question = request.params.messages[0]?.content;
      const asked = question && !Array.isArray(question) && question.type === 'text' ? question.text : '?';
      return { role: 'assistant', model: 'echo-model', content: { type: 'text', text: `You asked: ${asked}` } };
    });
  }
  if (capabilities.roots) {
    client.setRequestHandler('roots/list', async () => ({
      roots: [
        { uri: 'file:///home/alice/project', name: 'project' },
        { uri: 'file:///tmp/scratch' },
      ],
    }));
  }
  await client.connect(httpTransport(stack.resource, alice));
  expect(client.getProtocolEra()).toBe(era);
  open.push(client);
  return { client, asked };
}

type Content = Array<{ type: string; text?: string }>;
const firstText = (result: { content?: unknown }) => (result.content as Content)[0]?.text;

describe.each(['modern', 'legacy'] as const)('the %s era', (era) => {
  it('ask_profile: a form, and what was accepted; declined and cancelled are said so', async () => {
    const { client, asked } = await connect(era, EVERYTHING, [
      () => ({ action: 'accept', content: { name: 'Ada', age: 36, newsletter: true, colour: 'green' } }),
      () => ({ action: 'decline' }),
      () => ({ action: 'cancel' }),
    ]);
    const accepted = await client.callTool({ name: 'ask_profile', arguments: {} });
    expect(accepted.structuredContent).toEqual({ action: 'accept', profile: { name: 'Ada', age: 36, newsletter: true, colour: 'green' } });
    expect(firstText(accepted)).toBe('Thanks! Ada, 36, likes green, wants the newsletter.');
    const form = asked[0] as { mode?: string; requestedSchema: { properties: Record<string, { type: string; enum?: string[] }>; required: string[] } };
    expect(form.mode ?? 'form').toBe('form');
    expect(Object.entries(form.requestedSchema.properties).map(([name, p]) => `${name}:${p.type}`)).toEqual([
      'name:string',
      'age:integer',
      'newsletter:boolean',
      'colour:string',
    ]);
    expect(form.requestedSchema.properties.colour?.enum).toEqual(['red', 'green', 'blue']);

    const declined = await client.callTool({ name: 'ask_profile', arguments: {} });
    expect(declined.structuredContent).toEqual({ action: 'decline', profile: null });
    expect(firstText(declined)).toBe('You declined to share a profile.');
    expect(firstText(await client.callTool({ name: 'ask_profile', arguments: {} }))).toBe('You cancelled the form.');
  });

  it('ask_profile asks again when the answer does not fit the form', async () => {
    const { client, asked } = await connect(era, EVERYTHING, [
      () => ({ action: 'accept', content: { name: 'Ada', colour: 'purple' } }),
      () => ({ action: 'accept', content: { name: 'Ada', colour: 'blue' } }),
    ]);
    const result = await client.callTool({ name: 'ask_profile', arguments: {} });
    expect(result.structuredContent).toMatchObject({ action: 'accept', profile: { name: 'Ada', colour: 'blue' } });
    expect(asked.map((a) => a.message)).toEqual(['Tell the demo server a little about yourself.', 'That did not fit the form; please check it.']);
  });

  it('confirm_in_browser: a URL on the MCP server; the tool finishes once the person has pressed Confirm there', async () => {
    const { client, asked } = await connect(era, EVERYTHING, [
      async (params) => {
        const url = (params as { url: string }).url;
        // The person opens the page and presses the button, then the client reports that they agreed.
        const page = await fetch(url);
        expect(page.status).toBe(200);
        expect(await page.text()).toContain('<button type="submit">Confirm</button>');
        const pressed = await fetch(url, { method: 'POST' });
        expect(await pressed.text()).toContain('Confirmed.');
        return { action: 'accept' };
      },
    ]);
    const result = await client.callTool({ name: 'confirm_in_browser', arguments: {} });
    expect(firstText(result)).toBe('Confirmed in the browser. Thank you!');
    expect(asked[0]).toMatchObject({ mode: 'url', url: expect.stringMatching(new RegExp(`^${stack.mcpListening.origin}/elicitation/confirm/[A-Za-z0-9_-]{22}$`)) });
  });

  it('confirm_in_browser waits for the button when the person agreed before pressing it, and says when they declined', async () => {
    const urls: string[] = [];
    const { client } = await connect(era, EVERYTHING, [
      (params) => {
        urls.push((params as { url: string }).url);
        // Agreed to open the page, but the button is pressed only after the server has started waiting.
        setImmediate(() => void fetch(urls[0] ?? '', { method: 'POST' }));
        return { action: 'accept' };
      },
      () => ({ action: 'decline' }),
    ]);
    expect(firstText(await client.callTool({ name: 'confirm_in_browser', arguments: {} }))).toBe('Confirmed in the browser. Thank you!');
    expect(firstText(await client.callTool({ name: 'confirm_in_browser', arguments: {} }))).toBe('You declined to open the page.');
  });

  it("ask_model: the client's model answers, the tool returns its text", async () => {
    const { client } = await connect(era, EVERYTHING);
    const result = await client.callTool({ name: 'ask_model', arguments: { question: 'What is MCP?' } });
    expect(firstText(result)).toBe('The model (echo-model) said: You asked: What is MCP?');
  });

  it("list_roots: the client's roots", async () => {
    const { client } = await connect(era, EVERYTHING);
    const result = await client.callTool({ name: 'list_roots', arguments: {} });
    expect(result.structuredContent).toEqual({ roots: [{ uri: 'file:///home/alice/project', name: 'project' }, { uri: 'file:///tmp/scratch' }] });
    expect(firstText(result)).toContain('- project: file:///home/alice/project');
  });

  it('plan_trip: two rounds, the second question depending on the first answer', async () => {
    const { client, asked } = await connect(era, EVERYTHING, [
      () => ({ action: 'accept', content: { kind: 'mountains' } }),
      (params) => {
        const schema = (params as { requestedSchema: { properties: Record<string, { enum?: string[] }> } }).requestedSchema;
        expect(Object.keys(schema.properties)).toEqual(['range']);
        return { action: 'accept', content: { range: schema.properties.range?.enum?.[1] ?? '' } };
      },
    ]);
    const result = await client.callTool({ name: 'plan_trip', arguments: { travellers: 3 } });
    expect(result.structuredContent).toEqual({ kind: 'mountains', destination: 'Pyrenees', travellers: 3 });
    expect(asked.map((a) => a.message)).toEqual(['What kind of trip would you like?', 'A mountains trip. Which mountains?']);
  });

  it('plan_trip: cancelling the second question ends the trip', async () => {
    const { client } = await connect(era, EVERYTHING, [() => ({ action: 'accept', content: { kind: 'city' } }), () => ({ action: 'cancel' })]);
    expect(firstText(await client.callTool({ name: 'plan_trip', arguments: {} }))).toBe('You cancelled; no trip planned.');
  });

  it('asks only for what the client declared: otherwise a tool error that names the capability', async () => {
    const { client } = await connect(era, {});
    for (const [name, capability] of [
      ['ask_profile', 'elicitation (form mode)'],
      ['confirm_in_browser', 'elicitation (URL mode)'],
      ['ask_model', 'sampling'],
      ['list_roots', 'roots'],
      ['plan_trip', 'elicitation (form mode)'],
    ] as const) {
      const result = await client.callTool({ name, arguments: name === 'ask_model' ? { question: 'hi' } : {} });
      expect(result.isError, name).toBe(true);
      expect(firstText(result)).toContain(`did not declare the ${capability} capability`);
    }
    // A bare elicitation capability means form mode only: the form works, the URL does not.
    const { client: formOnly } = await connect(era, { elicitation: {} }, [() => ({ action: 'accept', content: { name: 'Ada', colour: 'red' } })]);
    expect((await formOnly.callTool({ name: 'ask_profile', arguments: {} })).structuredContent).toMatchObject({ action: 'accept' });
    expect(await formOnly.callTool({ name: 'confirm_in_browser', arguments: {} })).toMatchObject({ isError: true });
  });
});

describe('the 2025-11-25 client of the v1 SDK', () => {
  it('answers the elicitation/create request the legacy shim sends', async () => {
    const client = new V1Client({ name: 'demo-input-v1', version: '0.0.0' }, { capabilities: { elicitation: { form: {} } } });
    client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept', content: { name: 'Grace', colour: 'blue' } }));
    await client.connect(new V1Transport(new URL(stack.resource), { requestInit: { headers: { Authorization: `Bearer ${alice}` } } }));
    open.push(client);
    const result = await client.callTool({ name: 'ask_profile', arguments: {} });
    expect(result.structuredContent).toEqual({ action: 'accept', profile: { name: 'Grace', colour: 'blue' } });
  });
});

describe('requestState (2026-07-28, over the wire)', () => {
  const FORM: ClientCapabilities = { elicitation: { form: {} } };
  const call = (token: string, id: number, params: Record<string, unknown> = {}) =>
    modernPost(stack.resource, token, { id, method: 'tools/call', params: { name: 'plan_trip', arguments: { travellers: 2 }, ...params } }, FORM);
  const kindAnswer = { kind: { action: 'accept', content: { kind: 'beach' } } };

  async function firstRound(): Promise<{ requestState: string; inputRequests: Record<string, { method: string }> }> {
    const res = await call(alice, 1);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { result: { resultType: string; requestState: string; inputRequests: Record<string, { method: string }> } };
    expect(body.result.resultType).toBe('input_required');
    expect(body.result.inputRequests.kind?.method).toBe('elicitation/create');
    return body.result;
  }

  it('is signed: echoed unchanged it carries the call on; changed in any way it is refused (-32602)', async () => {
    const { requestState } = await firstRound();
    const next = await call(alice, 2, { inputResponses: kindAnswer, requestState });
    expect(((await next.json()) as { result: { resultType: string } }).result.resultType).toBe('input_required');

    // Swap the signed body for one that says something else, keeping the signature.
    const [prefix, body, mac] = requestState.split('.') as [string, string, string];
    const decoded = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as { p: { kind?: string } };
    decoded.p.kind = 'city';
    const forged = [prefix, Buffer.from(JSON.stringify(decoded)).toString('base64url'), mac].join('.');
    for (const tampered of [forged, `${requestState}x`, 'not-a-state']) {
      const res = await call(alice, 3, { inputResponses: { details: { action: 'accept', content: { city: 'Kyoto' } } }, requestState: tampered });
      expect(await res.json()).toMatchObject({ id: 3, error: { code: -32602, message: 'Invalid or expired requestState' } });
    }
  });

  it("is bound to the subject: bob cannot finish alice's call with her state", async () => {
    const { requestState } = await firstRound();
    const res = await call(bob, 2, { inputResponses: kindAnswer, requestState });
    expect(await res.json()).toMatchObject({ error: { code: -32602 } });
  });

  it('is bound to the tool and its arguments: the state of one call does not complete another', async () => {
    const { requestState } = await firstRound();
    const otherArgs = await call(alice, 2, { arguments: { travellers: 9 }, inputResponses: kindAnswer, requestState });
    // Not refused outright (the signature is good), but not taken as an answer either: asked from the start.
    const body = (await otherArgs.json()) as { result: { resultType: string; inputRequests: Record<string, unknown> } };
    expect(body.result.resultType).toBe('input_required');
    expect(Object.keys(body.result.inputRequests)).toEqual(['kind']);
  });
});
