import { crc32, deflateSync } from 'node:zlib';
import {
  type AuthInfo,
  type CallToolResult,
  CLIENT_CAPABILITIES_META_KEY,
  type ClientCapabilities,
  InMemoryServerEventBus,
  LOG_LEVEL_META_KEY,
  type LoggingLevel,
  type McpServer,
  type RequestStateCodec,
  ResourceNotFoundError,
  ResourceTemplate,
  type ServerContext,
  type ServerEventBus,
  SUPPORTED_PROTOCOL_VERSIONS,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import { codeReviewArgs, weatherCompleters } from './mcp-completions.js';
import { createRoundStateCodec, registerInputTools, type RoundState } from './mcp-input-tools.js';
import { createMcpServerInPages, type ListOptions, registerBulkResources } from './mcp-lists.js';
import { UrlConfirmations } from './url-confirmations.js';

/**
 * What the demo MCP server offers: tools that exercise the interesting paths through a proxy
 * (identity, plain calls, streaming progress with cancellation, a scope-gated tool) and every kind of
 * thing a client has to show (nested and array arguments, images, embedded resources, structured
 * content with an output schema, isError results, log notifications, requests for input); resources
 * (text, binary, a subscribable one that changes, templates, a list that grows) and prompts with
 * arguments.
 *
 * One definition serves both protocol eras. A 2026-07-28 request gets a fresh McpServer of its own; a
 * 2025-11-25 session keeps one for its lifetime. Tools that need the person's input return an
 * `input_required` result: on 2026-07-28 the client answers it and retries; on 2025-11-25 the SDK's
 * legacy shim turns it into real server-to-client requests (elicitation/create, sampling/createMessage,
 * roots/list) on the session and runs the tool again with the answers.
 */
export const ADMIN_SCOPE = 'mcp:admin';
export const ADMIN_TOOL = 'admin_report';

export type ProtocolEra = 'legacy' | 'modern';

const BADGE_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="96" height="24" viewBox="0 0 96 24">' +
  '<rect width="96" height="24" rx="4" fill="#5b2a86"/>' +
  '<text x="48" y="16" fill="#fff" font-family="sans-serif" font-size="12" text-anchor="middle">MCP demo</text></svg>';

const README = `Demo MCP server

This server exists to exercise an OAuth-protected MCP connection end to end, in both protocol eras
(2026-07-28, stateless, and 2025-11-25, with sessions) on one URL.
Tools: whoami, echo, add, slow_task (streams progress), admin_report (needs the mcp:admin scope),
create_event, color_swatch, get_report, divide, emit_logs, bump_counter, add_note;
and tools that ask the person for input: ask_profile (a form), confirm_in_browser (a page to open),
ask_model (sampling), list_roots (the client's roots), plan_trip (two questions in a row).
Every request carries a JWT access token whose audience is this server's URL.
`;

export const COUNTER_URI = 'demo://counter';
const NOTE_TEMPLATE = 'demo://notes/{id}';
const MAX_NOTES = 20;

/**
 * State that outlives one request or session, shared by everyone: the counter and the notes (a change
 * made by one client reaches the subscribers of all the others), the change-event bus both eras'
 * subscribers read, the pending browser confirmations, and the key that signs request state.
 */
export interface DemoState {
  counter: number;
  notes: Array<{ id: number; text: string }>;
  nextNoteId: number;
  /** resource_updated / resources_list_changed events: 2026-07-28 listen streams and 2025-11-25 sessions read them. */
  readonly bus: ServerEventBus;
  readonly confirmations: UrlConfirmations;
  /** Seals the requestState of the input-requesting tools' input_required results. */
  readonly requestStates: RequestStateCodec<RoundState>;
}

export function createDemoState(): DemoState {
  return {
    counter: 0,
    notes: [],
    nextNoteId: 1,
    bus: new InMemoryServerEventBus(),
    confirmations: new UrlConfirmations(),
    requestStates: createRoundStateCodec(),
  };
}

export interface BuildOptions {
  /** The era this instance serves: decides where the log level and the client's capabilities come from. */
  era: ProtocolEra;
  /** The MCP server's origin (http://host:port): confirm_in_browser sends the person to a page there. */
  origin: string;
  /** Open 2025-11-25 sessions, for admin_report. */
  sessionCount: () => number;
  state: DemoState;
  /** Suggest prompt arguments and template variables (`completion/complete`) and declare it; default true. */
  completions?: boolean;
  /** Lists in pages, and many resources to page through (mcp-lists.ts); default one page, no extras. */
  lists?: ListOptions;
}

/** initialize negotiates only these; 2026-07-28 is served per request by the modern path. */
export const LEGACY_PROTOCOL_VERSIONS = SUPPORTED_PROTOCOL_VERSIONS.filter((v) => v < '2026-07-28');

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

const LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'] as const satisfies readonly LoggingLevel[];

// Schemas are built once: the 2026-07-28 path (and the benchmark's stateless mode) builds a server per request.
const createEventInput = z.object({
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
});
const createEventOutput = z.object({
  id: z.string(),
  title: z.string(),
  city: z.string(),
  room: z.string().nullable(),
  attendees: z.array(z.string()),
  tags: z.array(z.string()),
  priority: z.enum(['low', 'normal', 'high']),
  durationMinutes: z.number(),
  remind: z.boolean(),
});
const whoamiOutput = z.object({ sub: z.string(), scopes: z.array(z.string()), clientId: z.string() });
const echoInput = z.object({ message: z.string().max(100_000) });
const addInput = z.object({ a: z.number(), b: z.number() });
const addOutput = z.object({ sum: z.number() });
const slowTaskInput = z.object({
  steps: z.number().int().min(1).max(50).default(5),
  delayMs: z.number().int().min(10).max(5000).default(300),
});
const swatchInput = z.object({
  color: z.enum(['teal', 'orange', 'purple']).default('teal').describe('Colour of the square'),
  size: z.number().int().min(8).max(256).default(64).describe('Width and height in pixels'),
});
const reportInput = z.object({ topic: z.enum(['sales', 'support']).describe('Which report') });
const divideInput = z.object({ dividend: z.number(), divisor: z.number().describe('Zero gives an error result') });
const divideOutput = z.object({ quotient: z.number() });
const emitLogsInput = z.object({
  count: z.number().int().min(1).max(20).default(3).describe('How many messages'),
  level: z.enum(LEVELS).default('info').describe('Their severity'),
});
const bumpInput = z.object({ by: z.number().int().min(-100).max(100).default(1).describe('How much to add') });
const noteInput = z.object({ text: z.string().min(1).max(500).describe('What the note says') });
const greetingArgs = z.object({ name: z.string().describe('Who to greet') });

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

const text = (value: string): CallToolResult => ({ content: [{ type: 'text', text: value }] });
const toolError = (value: string): CallToolResult => ({ isError: true, content: [{ type: 'text', text: value }] });

function envelopeOf(ctx: ServerContext): Record<string, unknown> | undefined {
  return ctx.mcpReq.envelope as Record<string, unknown> | undefined;
}

export function buildMcpServer(options: BuildOptions): McpServer {
  const { era, state } = options;
  const completions = options.completions ?? true;
  const server = createMcpServerInPages(
    options.lists?.pageSize,
    { name: 'demo-mcp-server', version: '1.1.0' },
    {
      capabilities: { logging: {}, resources: { subscribe: true, listChanged: true }, ...(completions ? { completions: {} } : {}) },
      instructions:
        'A demo server: try create_event for a nested form, slow_task to cancel, demo://counter to subscribe, and ask_profile or plan_trip to be asked for input.',
      requestState: { verify: (value, ctx) => state.requestStates.verify(value, ctx) },
      ...(era === 'legacy' ? { supportedProtocolVersions: LEGACY_PROTOCOL_VERSIONS } : {}),
    },
  );

  /**
   * What the client said it can do: per request in the 2026-07-28 era, at initialize in 2025-11-25.
   * The input-requesting tools ask only for what is declared here.
   */
  const clientCapabilities = (ctx: ServerContext): ClientCapabilities | undefined =>
    era === 'modern'
      ? (envelopeOf(ctx)?.[CLIENT_CAPABILITIES_META_KEY] as ClientCapabilities | undefined)
      : server.server.getClientCapabilities();

  server.registerTool(
    'whoami',
    {
      title: 'Who am I',
      description: 'Returns the subject, scopes and client id of the access token used for this call.',
      outputSchema: whoamiOutput,
    },
    async (ctx) => {
      const who = identity(ctx.http?.authInfo);
      return { content: [{ type: 'text', text: JSON.stringify(who) }], structuredContent: who };
    },
  );

  server.registerTool(
    'echo',
    { title: 'Echo', description: 'Returns the message unchanged, annotated as meant for the user.', inputSchema: echoInput },
    // Annotated, so a client can show who content is for and how much it matters.
    async ({ message }) => ({ content: [{ type: 'text', text: message, annotations: { audience: ['user'], priority: 0.5 } }] }),
  );

  server.registerTool(
    'add',
    { title: 'Add', description: 'Adds two numbers.', inputSchema: addInput, outputSchema: addOutput },
    async ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }], structuredContent: { sum: a + b } }),
  );

  server.registerTool(
    'slow_task',
    {
      title: 'Slow task',
      description: 'Works through a number of steps, reporting progress after each; can be cancelled.',
      inputSchema: slowTaskInput,
    },
    async ({ steps, delayMs }, ctx) => {
      const progressToken = ctx.mcpReq._meta?.progressToken;
      for (let step = 1; step <= steps; step++) {
        await sleep(delayMs, ctx.mcpReq.signal);
        if (progressToken !== undefined) {
          await ctx.mcpReq.notify({
            method: 'notifications/progress',
            params: { progressToken, progress: step, total: steps, message: `Step ${step} of ${steps}` },
          });
        }
      }
      return text(`Completed ${steps} steps`);
    },
  );

  server.registerTool(
    ADMIN_TOOL,
    { title: 'Admin report', description: `Server statistics; requires the ${ADMIN_SCOPE} scope.` },
    async (ctx) => {
      const who = identity(ctx.http?.authInfo);
      // The HTTP layer already answers 403 without the scope; this is a second line of defence.
      if (!who.scopes.includes(ADMIN_SCOPE)) return toolError(`The ${ADMIN_SCOPE} scope is required.`);
      return text(`Admin report for ${who.sub}: ${options.sessionCount()} active MCP session(s) (2025-11-25 era).`);
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
    { title: 'Greeting', description: 'A friendly greeting for someone.', argsSchema: greetingArgs },
    ({ name }) => ({
      messages: [{ role: 'user', content: { type: 'text', text: `Please write a short, friendly greeting for ${name}.` } }],
    }),
  );

  registerShowcase(server, options);
  registerInputTools(server, options, clientCapabilities);
  registerBulkResources(server, options.lists?.bulkResources ?? 0);
  if (era === 'legacy') serveLegacySessionFeatures(server, state.bus);
  return server;
}

/** The tools, resources and prompts that show each kind of content and argument a client must handle. */
function registerShowcase(server: McpServer, { era, state, completions = true }: BuildOptions): void {
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
      const summary = `Planned "${event.title}" in ${event.city} for ${event.attendees.length} attendee(s), ${event.durationMinutes} min, ${event.priority} priority.`;
      return { content: [{ type: 'text', text: summary }], structuredContent: event };
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
      if (divisor === 0) return toolError('Cannot divide by zero.');
      const quotient = dividend / divisor;
      return { content: [{ type: 'text', text: String(quotient) }], structuredContent: { quotient } };
    },
  );

  // The log level: 2025-11-25 sets it per session with logging/setLevel (kept here, per instance = per
  // session); 2026-07-28 carries it in each request's _meta, and a request without it gets no log
  // messages at all. emit_logs answers on the request's own stream and filters itself, to say why.
  let sessionLevel: LoggingLevel = 'debug';
  if (era === 'legacy') {
    server.server.setRequestHandler('logging/setLevel', async (request) => {
      sessionLevel = request.params.level;
      return {};
    });
  }

  server.registerTool(
    'emit_logs',
    {
      title: 'Emit log messages',
      description:
        'Sends log messages (notifications/message) at the chosen level, honouring the log level the client asked for (logging/setLevel, or the per-request log level of 2026-07-28).',
      inputSchema: emitLogsInput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ count, level }, ctx) => {
      const threshold = era === 'modern' ? (envelopeOf(ctx)?.[LOG_LEVEL_META_KEY] as LoggingLevel | undefined) : sessionLevel;
      if (threshold === undefined) return text('Sent nothing: this request did not ask for log messages (no log level in its _meta).');
      if (LEVELS.indexOf(level) < LEVELS.indexOf(threshold)) return text(`Sent nothing: ${level} is below the level ${threshold}.`);
      for (let i = 1; i <= count; i++) {
        await ctx.mcpReq.notify({
          method: 'notifications/message',
          params: { level, logger: 'demo', data: `Log message ${i} of ${count}` },
        });
      }
      return text(`Sent ${count} ${level} message(s).`);
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
      state.bus.publish({ kind: 'resource_updated', uri: COUNTER_URI });
      return text(`The counter is now ${state.counter}.`);
    },
  );

  server.registerTool(
    'add_note',
    {
      title: 'Add note',
      description: `Adds a note resource (${NOTE_TEMPLATE}; the last ${MAX_NOTES} are kept, shared by everyone): the resource list changes and its listeners are told.`,
      inputSchema: noteInput,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    async ({ text: noteText }) => {
      const note = { id: state.nextNoteId++, text: noteText };
      state.notes.push(note);
      if (state.notes.length > MAX_NOTES) state.notes.shift();
      state.bus.publish({ kind: 'resources_list_changed' });
      return {
        content: [
          { type: 'text', text: `Added note ${note.id}.` },
          { type: 'resource_link', uri: `demo://notes/${note.id}`, name: `note-${note.id}`, mimeType: 'text/plain' },
        ],
      };
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
    'badge',
    'demo://badge.svg',
    {
      title: 'Badge (SVG)',
      description: 'A small vector image (binary content): previewed, but downloaded as plain bytes.',
      mimeType: 'image/svg+xml',
    },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'image/svg+xml', blob: Buffer.from(BADGE_SVG).toString('base64') }] }),
  );

  server.registerResource(
    'weather',
    new ResourceTemplate('demo://weather/{city}/{day}', { list: undefined, ...weatherCompleters(completions) }),
    { title: 'Weather', description: 'A made-up forecast for a city and a day.', mimeType: 'text/plain' },
    async (uri, { city, day }) => ({
      contents: [{ uri: uri.href, mimeType: 'text/plain', text: `Weather in ${String(city)} ${String(day)}: sunny, 21 °C.` }],
    }),
  );

  server.registerResource(
    'notes',
    new ResourceTemplate(NOTE_TEMPLATE, {
      list: async () => ({
        resources: state.notes.map((note) => ({
          uri: `demo://notes/${note.id}`,
          name: `note-${note.id}`,
          title: note.text.length > 40 ? `${note.text.slice(0, 39)}…` : note.text,
          mimeType: 'text/plain',
        })),
      }),
    }),
    { title: 'Notes', description: 'What add_note added (the list changes as notes come and go).', mimeType: 'text/plain' },
    async (uri, { id }) => {
      const note = state.notes.find((n) => String(n.id) === String(id));
      if (!note) throw new ResourceNotFoundError(uri.href);
      return { contents: [{ uri: uri.href, mimeType: 'text/plain', text: note.text }] };
    },
  );

  server.registerPrompt(
    'code_review',
    { title: 'Code review', description: 'Asks for a review of a piece of code, with an optional focus.', argsSchema: codeReviewArgs(completions) },
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

/**
 * 2025-11-25 sessions only: resources/subscribe and unsubscribe, and the shared state's change events
 * sent on the session's standalone (GET) stream: updates of the resources this session subscribed to,
 * and resource list changes. (In 2026-07-28, subscriptions/listen streams read the same bus.)
 */
function serveLegacySessionFeatures(server: McpServer, bus: ServerEventBus): void {
  const subscribed = new Set<string>();
  server.server.setRequestHandler('resources/subscribe', async (request) => {
    subscribed.add(request.params.uri);
    return {};
  });
  server.server.setRequestHandler('resources/unsubscribe', async (request) => {
    subscribed.delete(request.params.uri);
    return {};
  });
  const unsubscribe = bus.subscribe((event) => {
    if (!server.isConnected()) return;
    if (event.kind === 'resource_updated' && subscribed.has(event.uri)) {
      void server.server.sendResourceUpdated({ uri: event.uri }).catch(() => undefined);
    } else if (event.kind === 'resources_list_changed') {
      server.sendResourceListChanged();
    }
  });
  const previousOnClose = server.server.onclose;
  server.server.onclose = () => {
    unsubscribe();
    previousOnClose?.();
  };
}
