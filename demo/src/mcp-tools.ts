import { crc32, deflateSync } from 'node:zlib';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import {
  type LoggingLevel,
  LoggingLevelSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

/**
 * What the demo MCP server offers: tools that exercise the interesting paths through a proxy
 * (identity, plain calls, streaming progress with cancellation, a scope-gated tool) and every kind of
 * thing a client has to show (nested and array arguments, images, embedded resources, structured
 * content with an output schema, isError results, log notifications); resources (text, binary, a
 * subscribable one that changes, a template) and prompts with arguments. One McpServer is built per
 * MCP session.
 */
export const ADMIN_SCOPE = 'mcp:admin';
export const ADMIN_TOOL = 'admin_report';

const README = `Demo MCP server

This server exists to exercise an OAuth-protected MCP connection end to end.
Tools: whoami, echo, add, slow_task (streams progress), admin_report (needs the mcp:admin scope),
create_event, color_swatch, get_report, divide, emit_logs, bump_counter.
Every request carries a JWT access token whose audience is this server's URL.
`;

export const COUNTER_URI = 'demo://counter';

/**
 * State that outlives one MCP session: the counter resource, shared by everyone so that a change made
 * in one session reaches the subscribers in others.
 */
export interface DemoState {
  counter: number;
  /** Called with the URI of a resource that changed. */
  readonly listeners: Set<(uri: string) => void>;
}

export function createDemoState(): DemoState {
  return { counter: 0, listeners: new Set() };
}

const defaultState = createDemoState();

const SWATCH_COLORS = { teal: [0x1f, 0x7a, 0x8c], orange: [0xe0, 0x7a, 0x1f], purple: [0x6a, 0x3d, 0x9a] } as const;

/** A PNG of one solid colour (RGB, 8 bits, no filtering), built by hand so the demo needs no image library. */
export function solidPng(size: number, [r, g, b]: readonly [number, number, number]): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header.set([8, 2, 0, 0, 0], 8); // bit depth 8, colour type RGB, deflate, no filter, no interlace
  const row = Buffer.alloc(1 + size * 3);
  for (let x = 0; x < size; x++) row.set([r, g, b], 1 + x * 3);
  const pixels = Buffer.concat(Array.from({ length: size }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(pixels)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const REPORTS = {
  sales: '# Sales report\n\nQ3 revenue grew 12 % over Q2. The new region contributed a third of the growth.\n',
  support: '# Support report\n\n214 tickets this week; median first response 38 minutes.\n',
} as const;

// Schemas are built once: the benchmark's stateless mode builds a server per request.
const createEventInput = {
  title: z.string().min(1).max(100).describe('What the event is called'),
  location: z
    .object({
      city: z.string().min(1).describe('City'),
      room: z.string().optional().describe('Room, if any'),
    })
    .describe('Where it takes place'),
  attendees: z
    .array(z.object({ name: z.string().min(1).describe('Full name'), email: z.email().optional().describe('Where to send the invitation') }))
    .min(1)
    .max(10)
    .describe('Who is invited'),
  tags: z.array(z.string().min(1)).max(5).optional().describe('Labels for the event'),
  priority: z.enum(['low', 'normal', 'high']).default('normal'),
  durationMinutes: z.number().int().min(5).max(480).default(30).describe('How long it lasts'),
  remind: z.boolean().default(true).describe('Send a reminder the day before'),
};
const createEventOutput = {
  id: z.string(),
  title: z.string(),
  city: z.string(),
  room: z.string().nullable(),
  attendees: z.array(z.string()),
  tags: z.array(z.string()),
  priority: z.enum(['low', 'normal', 'high']),
  durationMinutes: z.number(),
  remind: z.boolean(),
};
const swatchInput = {
  color: z.enum(['teal', 'orange', 'purple']).default('teal').describe('Colour of the square'),
  size: z.number().int().min(8).max(256).default(64).describe('Width and height in pixels'),
};
const reportInput = { topic: z.enum(['sales', 'support']).describe('Which report') };
const divideInput = { dividend: z.number(), divisor: z.number().describe('Zero gives an error result') };
const divideOutput = { quotient: z.number() };
const emitLogsInput = {
  count: z.number().int().min(1).max(20).default(3).describe('How many messages'),
  level: LoggingLevelSchema.default('info').describe('Their severity'),
};
const bumpInput = { by: z.number().int().min(-100).max(100).default(1).describe('How much to add') };

const LEVELS = LoggingLevelSchema.options;

function identity(authInfo: AuthInfo | undefined) {
  const sub = typeof authInfo?.extra?.sub === 'string' ? authInfo.extra.sub : '';
  return { sub, scopes: authInfo?.scopes ?? [], clientId: authInfo?.clientId ?? '' };
}

/** Resolves after `ms`, or rejects as soon as `signal` aborts (the client cancelled the request). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason ?? new Error('cancelled'));
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason ?? new Error('cancelled'));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export function buildMcpServer(info: { sessionCount: () => number; state?: DemoState }): McpServer {
  const server = new McpServer(
    { name: 'demo-mcp-server', version: '1.0.0' },
    {
      capabilities: { logging: {}, resources: { subscribe: true } },
      instructions: 'A demo server: try create_event for a nested form, slow_task to cancel, demo://counter to subscribe.',
    },
  );
  const state = info.state ?? defaultState;

  server.registerTool(
    'whoami',
    {
      title: 'Who am I',
      description: 'Returns the subject, scopes and client id of the access token used for this call.',
      outputSchema: { sub: z.string(), scopes: z.array(z.string()), clientId: z.string() },
    },
    async (extra) => {
      const who = identity(extra.authInfo);
      return { content: [{ type: 'text', text: JSON.stringify(who) }], structuredContent: who };
    },
  );

  server.registerTool(
    'echo',
    {
      title: 'Echo',
      description: 'Returns the message unchanged.',
      inputSchema: { message: z.string().max(100_000) },
    },
    async ({ message }) => ({ content: [{ type: 'text', text: message }] }),
  );

  server.registerTool(
    'add',
    {
      title: 'Add',
      description: 'Adds two numbers.',
      inputSchema: { a: z.number(), b: z.number() },
      outputSchema: { sum: z.number() },
    },
    async ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }], structuredContent: { sum: a + b } }),
  );

  server.registerTool(
    'slow_task',
    {
      title: 'Slow task',
      description: 'Works through a number of steps, reporting progress after each; can be cancelled.',
      inputSchema: {
        steps: z.number().int().min(1).max(50).default(5),
        delayMs: z.number().int().min(10).max(5000).default(300),
      },
    },
    async ({ steps, delayMs }, extra) => {
      const progressToken = extra._meta?.progressToken;
      for (let step = 1; step <= steps; step++) {
        await sleep(delayMs, extra.signal);
        if (progressToken !== undefined) {
          await extra.sendNotification({
            method: 'notifications/progress',
            params: { progressToken, progress: step, total: steps, message: `Step ${step} of ${steps}` },
          });
        }
      }
      return { content: [{ type: 'text', text: `Completed ${steps} steps` }] };
    },
  );

  server.registerTool(
    ADMIN_TOOL,
    {
      title: 'Admin report',
      description: `Server statistics; requires the ${ADMIN_SCOPE} scope.`,
    },
    async (extra) => {
      const who = identity(extra.authInfo);
      // The HTTP layer already answers 403 without the scope; this is a second line of defence.
      if (!who.scopes.includes(ADMIN_SCOPE)) {
        return { isError: true, content: [{ type: 'text', text: `The ${ADMIN_SCOPE} scope is required.` }] };
      }
      return {
        content: [{ type: 'text', text: `Admin report for ${who.sub}: ${info.sessionCount()} active MCP session(s).` }],
      };
    },
  );

  server.registerResource(
    'readme',
    'demo://readme',
    { title: 'README', description: 'What this demo server is for.', mimeType: 'text/plain' },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/plain', text: README }] }),
  );

  server.registerPrompt(
    'greeting',
    {
      title: 'Greeting',
      description: 'A friendly greeting for someone.',
      argsSchema: { name: z.string().describe('Who to greet') },
    },
    ({ name }) => ({
      messages: [{ role: 'user', content: { type: 'text', text: `Please write a short, friendly greeting for ${name}.` } }],
    }),
  );

  registerShowcase(server, state);
  return server;
}

/** The tools, resources and prompts that show each kind of content and argument a client must handle. */
function registerShowcase(server: McpServer, state: DemoState): void {
  server.registerTool(
    'create_event',
    {
      title: 'Create event',
      description: 'Plans an event. Nested and list arguments, defaults, and a structured result with an output schema.',
      inputSchema: createEventInput,
      outputSchema: createEventOutput,
      annotations: { destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    async (args) => {
      const event = {
        id: `evt-${args.title.toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, 24)}`,
        title: args.title,
        city: args.location.city,
        room: args.location.room ?? null,
        attendees: args.attendees.map((a) => (a.email ? `${a.name} <${a.email}>` : a.name)),
        tags: args.tags ?? [],
        priority: args.priority,
        durationMinutes: args.durationMinutes,
        remind: args.remind,
      };
      const text = `Planned "${event.title}" in ${event.city} for ${event.attendees.length} attendee(s), ${event.durationMinutes} min, ${event.priority} priority.`;
      return { content: [{ type: 'text', text }], structuredContent: event };
    },
  );

  server.registerTool(
    'color_swatch',
    {
      title: 'Colour swatch',
      description: 'Draws a square of one colour and returns it as a PNG image.',
      inputSchema: swatchInput,
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    },
    async ({ color, size }) => ({
      content: [
        { type: 'image', data: solidPng(size, SWATCH_COLORS[color]).toString('base64'), mimeType: 'image/png' },
        { type: 'text', text: `A ${size}×${size} ${color} square.` },
      ],
    }),
  );

  server.registerTool(
    'get_report',
    {
      title: 'Get report',
      description: 'Returns a report as an embedded resource, with a link to the README resource.',
      inputSchema: reportInput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ topic }) => ({
      content: [
        { type: 'text', text: `The ${topic} report is attached.` },
        { type: 'resource', resource: { uri: `demo://reports/${topic}`, mimeType: 'text/markdown', text: REPORTS[topic] } },
        { type: 'resource_link', uri: 'demo://readme', name: 'readme', title: 'README', mimeType: 'text/plain' },
      ],
    }),
  );

  server.registerTool(
    'divide',
    {
      title: 'Divide',
      description: 'Divides one number by another; dividing by zero is reported as a tool error (isError).',
      inputSchema: divideInput,
      outputSchema: divideOutput,
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    },
    async ({ dividend, divisor }) => {
      if (divisor === 0) return { isError: true, content: [{ type: 'text', text: 'Cannot divide by zero.' }] };
      const quotient = dividend / divisor;
      return { content: [{ type: 'text', text: String(quotient) }], structuredContent: { quotient } };
    },
  );

  // logging/setLevel: the SDK keeps the level for its own sendLoggingMessage, which sends on the
  // session's standalone stream; emit_logs answers on the request's own stream, so it filters here.
  let minLevel: LoggingLevel = 'debug';
  server.server.setRequestHandler(SetLevelRequestSchema, async (request) => {
    minLevel = request.params.level;
    return {};
  });

  server.registerTool(
    'emit_logs',
    {
      title: 'Emit log messages',
      description: 'Sends log messages (notifications/message) at the chosen level, honouring logging/setLevel.',
      inputSchema: emitLogsInput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ count, level }, extra) => {
      const shown = LEVELS.indexOf(level) >= LEVELS.indexOf(minLevel);
      for (let i = 1; shown && i <= count; i++) {
        await extra.sendNotification({
          method: 'notifications/message',
          params: { level, logger: 'demo', data: `Log message ${i} of ${count}` },
        });
      }
      const text = shown ? `Sent ${count} ${level} message(s).` : `Sent nothing: ${level} is below the level ${minLevel}.`;
      return { content: [{ type: 'text', text }] };
    },
  );

  server.registerTool(
    'bump_counter',
    {
      title: 'Bump counter',
      description: `Changes the ${COUNTER_URI} resource; its subscribers are notified.`,
      inputSchema: bumpInput,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    async ({ by }) => {
      state.counter += by;
      for (const listener of state.listeners) listener(COUNTER_URI);
      return { content: [{ type: 'text', text: `The counter is now ${state.counter}.` }] };
    },
  );

  server.registerResource(
    'counter',
    COUNTER_URI,
    { title: 'Counter', description: 'A number that bump_counter changes. Subscribe to see it change.', mimeType: 'text/plain' },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'text/plain', text: `Counter: ${state.counter}` }] }),
  );

  server.registerResource(
    'swatch',
    'demo://swatch.png',
    { title: 'Swatch image', description: 'A small PNG image (binary content).', mimeType: 'image/png' },
    async (uri) => ({
      contents: [{ uri: uri.href, mimeType: 'image/png', blob: solidPng(32, SWATCH_COLORS.purple).toString('base64') }],
    }),
  );

  server.registerResource(
    'weather',
    new ResourceTemplate('demo://weather/{city}/{day}', {
      list: undefined,
      complete: { day: () => ['today', 'tomorrow'] },
    }),
    { title: 'Weather', description: 'A made-up forecast for a city and a day.', mimeType: 'text/plain' },
    async (uri, { city, day }) => ({
      contents: [{ uri: uri.href, mimeType: 'text/plain', text: `Weather in ${String(city)} ${String(day)}: sunny, 21 °C.` }],
    }),
  );

  // Subscriptions: the SDK leaves resources/subscribe to the server. Updates go out on the session's
  // standalone stream (GET), since no request of the subscriber is open when someone else changes it.
  const subscribed = new Set<string>();
  const onChange = (uri: string) => {
    if (subscribed.has(uri)) void server.server.sendResourceUpdated({ uri }).catch(() => undefined);
  };
  state.listeners.add(onChange);
  const previousOnClose = server.server.onclose;
  server.server.onclose = () => {
    state.listeners.delete(onChange);
    previousOnClose?.();
  };
  server.server.setRequestHandler(SubscribeRequestSchema, async (request) => {
    subscribed.add(request.params.uri);
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, async (request) => {
    subscribed.delete(request.params.uri);
    return {};
  });

  server.registerPrompt(
    'code_review',
    {
      title: 'Code review',
      description: 'Asks for a review of a piece of code, with an optional focus.',
      argsSchema: {
        language: z.string().describe('Programming language of the code'),
        code: z.string().describe('The code to review'),
        focus: z.string().optional().describe('What to look at most (optional)'),
      },
    },
    ({ language, code, focus }) => ({
      description: `Review of ${language} code`,
      messages: [
        {
          role: 'user',
          content: { type: 'text', text: `Please review this ${language} code${focus ? `, looking mostly at ${focus}` : ''}:\n\n${code}` },
        },
        { role: 'assistant', content: { type: 'text', text: `I will review the ${language} code step by step.` } },
        { role: 'user', content: { type: 'resource', resource: { uri: 'demo://readme', mimeType: 'text/plain', text: README } } },
      ],
    }),
  );
}
