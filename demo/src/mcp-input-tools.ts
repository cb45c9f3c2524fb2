import { createHash, randomBytes } from 'node:crypto';
import {
  type CallToolResult,
  type ClientCapabilities,
  createRequestStateCodec,
  type ElicitRequestFormParams,
  inputRequired,
  inputResponse,
  type McpServer,
  type RequestStateCodec,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { BuildOptions } from './mcp-tools.js';
import { CONFIRM_PATH } from './url-confirmations.js';

/**
 * The demo tools that ask the person for something: a form (ask_profile), a page to open
 * (confirm_in_browser), the client's model (ask_model), the client's roots (list_roots), and two
 * questions in a row (plan_trip).
 *
 * Each is written once, in the 2026-07-28 style: it returns inputRequired(...) with its input requests
 * and a signed requestState, and is called again with the answers (inputResponses) and that state. On a
 * 2025-11-25 session the SDK's legacy shim sends the same requests to the client as server-to-client
 * requests and calls the tool again with the answers, so nothing here depends on the era, except where
 * the client's capabilities are read from.
 */

/** What one round of an input-requesting tool tells the next one, sealed by the DemoState's codec. */
export interface RoundState {
  /** The tool that minted it, and a digest of its arguments: state is only good for the same call. */
  tool: string;
  args: string;
  /** plan_trip: the kind of trip chosen in the first round. */
  kind?: string;
  /** confirm_in_browser: the pending confirmation. */
  confirmation?: string;
}

/**
 * Seals requestState (HMAC, the SDK's codec): bound to the method, the token's subject and its client,
 * valid ten minutes; any other state is refused before a tool runs (-32602). The key is random per
 * process: one process serves every round of a call here.
 */
export function createRoundStateCodec(): RequestStateCodec<RoundState> {
  return createRequestStateCodec<RoundState>({
    key: randomBytes(32),
    ttlSeconds: 600,
    bind: (ctx) => [ctx.mcpReq.method, subjectOf(ctx), ctx.http?.authInfo?.clientId ?? ''].join('\0'),
  });
}

type FormSchema = ElicitRequestFormParams['requestedSchema'];

function subjectOf(ctx: ServerContext): string {
  const sub = ctx.http?.authInfo?.extra?.sub;
  return typeof sub === 'string' ? sub : '';
}

const text = (value: string): CallToolResult => ({ content: [{ type: 'text', text: value }] });
const toolError = (value: string): CallToolResult => ({ isError: true, content: [{ type: 'text', text: value }] });

// The forms' wire schemas are written out (elicitation allows only a flat object of primitives); the
// zod twins validate what comes back, which is only the client's word.
const PROFILE_FORM: FormSchema = {
  type: 'object',
  properties: {
    name: { type: 'string', title: 'Name', minLength: 1, maxLength: 100 },
    age: { type: 'integer', title: 'Age', minimum: 0, maximum: 150 },
    newsletter: { type: 'boolean', title: 'Send me the newsletter', default: false },
    colour: { type: 'string', title: 'Favourite colour', enum: ['red', 'green', 'blue'] },
  },
  required: ['name', 'colour'],
};
const profileContent = z.object({
  name: z.string().min(1).max(100),
  age: z.number().int().min(0).max(150).optional(),
  newsletter: z.boolean().optional(),
  colour: z.enum(['red', 'green', 'blue']),
});
const profileOutput = z.object({
  action: z.enum(['accept', 'decline', 'cancel']),
  profile: profileContent.nullable(),
});
const TRIP_KINDS = ['beach', 'mountains', 'city'] as const;
const TRIP_KIND_FORM: FormSchema = {
  type: 'object',
  properties: { kind: { type: 'string', title: 'Kind of trip', enum: [...TRIP_KINDS] } },
  required: ['kind'],
};
const tripKindContent = z.object({ kind: z.enum(TRIP_KINDS) });
/** The second question depends on the first answer. */
const TRIP_DETAILS = {
  beach: { field: 'sea', title: 'Which sea?', options: ['Mediterranean', 'Baltic', 'Atlantic'] },
  mountains: { field: 'range', title: 'Which mountains?', options: ['Alps', 'Pyrenees', 'Tatras'] },
  city: { field: 'city', title: 'Which city?', options: ['Lisbon', 'Vienna', 'Kyoto'] },
} as const;
const tripInput = z.object({ travellers: z.number().int().min(1).max(10).default(2).describe('How many people travel') });
const askModelInput = z.object({ question: z.string().min(1).max(2000).describe('What to ask the model') });
const rootsOutput = z.object({ roots: z.array(z.object({ uri: z.string(), name: z.string().optional() })) });
/**
 * How long confirm_in_browser waits, after the client says the person opened the page, for the button;
 * then it asks again. Shorter than a proxy's wait for response headers (the BFF's is 30 s), which a
 * 2026-07-28 JSON answer only sends with the result.
 */
const CONFIRM_WAIT_MS = 20_000;

/**
 * Registers the five tools. `capabilitiesOf` says what the client declared (per request in 2026-07-28,
 * at initialize in 2025-11-25): each tool asks only for that, and answers a tool error naming the
 * missing capability otherwise. A round's answers count only with a valid state minted for the same
 * tool and arguments; without one, the tool asks (again).
 */
export function registerInputTools(server: McpServer, { origin, state }: BuildOptions, capabilitiesOf: (ctx: ServerContext) => ClientCapabilities | undefined): void {
  const codec = state.requestStates;
  const digest = (args: unknown) => createHash('sha256').update(JSON.stringify(args ?? {})).digest('base64url');
  const mint = (ctx: ServerContext, payload: RoundState) => codec.mint(payload, ctx);
  /** The verified state of this round, if it was minted by this tool for these arguments. */
  const roundState = (ctx: ServerContext, tool: string, args: unknown): RoundState | undefined => {
    const payload = ctx.mcpReq.requestState<RoundState>();
    return payload && payload.tool === tool && payload.args === digest(args) ? payload : undefined;
  };
  const canElicit = (ctx: ServerContext, mode: 'form' | 'url') => {
    const elicitation = capabilitiesOf(ctx)?.elicitation as { form?: object; url?: object } | undefined;
    if (!elicitation) return false;
    // An empty elicitation capability means form mode only (the spec's backward-compatible reading).
    return mode === 'form' ? elicitation.form !== undefined || elicitation.url === undefined : elicitation.url !== undefined;
  };
  const notDeclared = (what: string, capability: string) =>
    toolError(`This tool needs ${what}, but your client did not declare the ${capability} capability, so the server may not ask for it.`);

  server.registerTool(
    'ask_profile',
    {
      title: 'Ask for a profile',
      description: 'Asks you to fill in a small form (form-mode elicitation) and returns what you sent, or that you declined or cancelled.',
      outputSchema: profileOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async (ctx) => {
      const tool = 'ask_profile';
      if (!canElicit(ctx, 'form')) return notDeclared('to ask you for a form', 'elicitation (form mode)');
      const answer = roundState(ctx, tool, {}) ? inputResponse(ctx.mcpReq.inputResponses, 'profile') : { kind: 'missing' as const };
      if (answer.kind === 'elicit' && answer.action !== 'accept') {
        return {
          content: [{ type: 'text', text: answer.action === 'decline' ? 'You declined to share a profile.' : 'You cancelled the form.' }],
          structuredContent: { action: answer.action, profile: null },
        };
      }
      const profile = answer.kind === 'elicit' ? profileContent.safeParse(answer.content) : undefined;
      if (profile?.success) {
        const p = profile.data;
        const summary = `${p.name}${p.age === undefined ? '' : `, ${p.age}`}, likes ${p.colour}${p.newsletter ? ', wants the newsletter' : ''}.`;
        return { content: [{ type: 'text', text: `Thanks! ${summary}` }], structuredContent: { action: 'accept', profile: p } };
      }
      // First round, or an answer that does not fit the form: ask (again).
      return inputRequired({
        inputRequests: {
          profile: inputRequired.elicit({
            message: profile ? 'That did not fit the form; please check it.' : 'Tell the demo server a little about yourself.',
            requestedSchema: PROFILE_FORM,
          }),
        },
        requestState: await mint(ctx, { tool, args: digest({}) }),
      });
    },
  );

  server.registerTool(
    'confirm_in_browser',
    {
      title: 'Confirm in the browser',
      description: 'Sends you to a page on the MCP server to press a button (URL-mode elicitation); finishes once you have.',
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async (ctx) => {
      const tool = 'confirm_in_browser';
      if (!canElicit(ctx, 'url')) return notDeclared('to send you to a page', 'elicitation (URL mode)');
      const sub = subjectOf(ctx);
      const round = roundState(ctx, tool, {});
      const pending = round?.confirmation && state.confirmations.belongsTo(round.confirmation, sub) ? round.confirmation : undefined;
      if (pending) {
        const answer = inputResponse(ctx.mcpReq.inputResponses, 'confirm');
        if (answer.kind === 'elicit' && answer.action === 'decline') return text('You declined to open the page.');
        if (answer.kind === 'elicit' && answer.action === 'cancel') return text('You cancelled.');
        // Accepted means the person agreed to open the page, not that they pressed the button yet:
        // wait a while for it, then ask again.
        if (answer.kind === 'elicit' && (await state.confirmations.waitFor(pending, sub, CONFIRM_WAIT_MS, ctx.mcpReq.signal))) {
          return text('Confirmed in the browser. Thank you!');
        }
      }
      const id = pending ?? state.confirmations.create(sub);
      return inputRequired({
        inputRequests: {
          confirm: inputRequired.elicitUrl({ message: 'Open this page of the demo MCP server and press Confirm.', url: `${origin}${CONFIRM_PATH}${id}` }),
        },
        requestState: await mint(ctx, { tool, args: digest({}), confirmation: id }),
      });
    },
  );

  server.registerTool(
    'ask_model',
    {
      title: 'Ask the model',
      description: "Asks your client's model a question (sampling) and returns its answer.",
      inputSchema: askModelInput,
      annotations: { readOnlyHint: true, openWorldHint: true },
    },
    async (args, ctx) => {
      const tool = 'ask_model';
      if (!capabilitiesOf(ctx)?.sampling) return notDeclared("to ask your client's model", 'sampling');
      const answer = roundState(ctx, tool, args) ? inputResponse(ctx.mcpReq.inputResponses, 'reply') : { kind: 'missing' as const };
      if (answer.kind === 'sampling') {
        const blocks = Array.isArray(answer.result.content) ? answer.result.content : [answer.result.content];
        const reply = blocks.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('\n');
        return text(`The model (${answer.result.model}) said: ${reply}`);
      }
      return inputRequired({
        inputRequests: {
          reply: inputRequired.createMessage({
            messages: [{ role: 'user', content: { type: 'text', text: args.question } }],
            systemPrompt: 'Answer briefly.',
            maxTokens: 200,
          }),
        },
        requestState: await mint(ctx, { tool, args: digest(args) }),
      });
    },
  );

  server.registerTool(
    'list_roots',
    {
      title: 'List roots',
      description: 'Asks your client for its roots (the directories or files it shares) and lists them.',
      outputSchema: rootsOutput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async (ctx) => {
      const tool = 'list_roots';
      if (!capabilitiesOf(ctx)?.roots) return notDeclared('to see your roots', 'roots');
      const answer = roundState(ctx, tool, {}) ? inputResponse(ctx.mcpReq.inputResponses, 'roots') : { kind: 'missing' as const };
      if (answer.kind === 'roots') {
        const roots = answer.roots.map((root) => ({ uri: root.uri, ...(root.name === undefined ? {} : { name: root.name }) }));
        const lines = roots.map((root) => `- ${root.name ? `${root.name}: ` : ''}${root.uri}`);
        return {
          content: [{ type: 'text', text: roots.length ? `Your client shares ${roots.length} root(s):\n${lines.join('\n')}` : 'Your client shares no roots.' }],
          structuredContent: { roots },
        };
      }
      return inputRequired({
        inputRequests: { roots: inputRequired.listRoots() },
        requestState: await mint(ctx, { tool, args: digest({}) }),
      });
    },
  );

  server.registerTool(
    'plan_trip',
    {
      title: 'Plan a trip',
      description: 'Asks two questions in a row, the second depending on the first answer (a multi-round-trip request).',
      inputSchema: tripInput,
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async (args, ctx) => {
      const tool = 'plan_trip';
      if (!canElicit(ctx, 'form')) return notDeclared('to ask you two questions', 'elicitation (form mode)');
      const round = roundState(ctx, tool, args);
      const responses = ctx.mcpReq.inputResponses;
      const stopped = (key: string) => {
        const answer = inputResponse(responses, key);
        return answer.kind === 'elicit' && answer.action !== 'accept' ? answer.action : undefined;
      };

      // Round 3: the kind (from the signed state) and the details (just answered).
      const kind = round?.kind ? tripKindContent.shape.kind.safeParse(round.kind).data : undefined;
      if (kind) {
        const details = TRIP_DETAILS[kind];
        const halt = stopped('details');
        if (halt) return text(halt === 'decline' ? 'You declined; no trip planned.' : 'You cancelled; no trip planned.');
        const answer = inputResponse(responses, 'details');
        const chosen = answer.kind === 'elicit' ? answer.content?.[details.field] : undefined;
        if (typeof chosen === 'string' && (details.options as readonly string[]).includes(chosen)) {
          const plan = { kind, destination: chosen, travellers: args.travellers };
          return {
            content: [{ type: 'text', text: `A ${kind} trip to ${chosen} for ${args.travellers}. Enjoy!` }],
            structuredContent: plan,
          };
        }
        return askDetails(kind);
      }

      // Round 2: the kind was just answered; ask the question that depends on it.
      if (round) {
        const halt = stopped('kind');
        if (halt) return text(halt === 'decline' ? 'You declined; no trip planned.' : 'You cancelled; no trip planned.');
        const answer = inputResponse(responses, 'kind');
        const chosen = answer.kind === 'elicit' ? tripKindContent.safeParse(answer.content) : undefined;
        if (chosen?.success) return askDetails(chosen.data.kind);
      }

      // Round 1 (or an answer that did not fit): ask the kind of trip.
      return inputRequired({
        inputRequests: { kind: inputRequired.elicit({ message: 'What kind of trip would you like?', requestedSchema: TRIP_KIND_FORM }) },
        requestState: await mint(ctx, { tool, args: digest(args) }),
      });

      async function askDetails(chosenKind: (typeof TRIP_KINDS)[number]) {
        const details = TRIP_DETAILS[chosenKind];
        return inputRequired({
          inputRequests: {
            details: inputRequired.elicit({
              message: `A ${chosenKind} trip. ${details.title}`,
              requestedSchema: {
                type: 'object',
                properties: { [details.field]: { type: 'string', title: details.title, enum: [...details.options] } },
                required: [details.field],
              },
            }),
          },
          requestState: await mint(ctx, { tool, args: digest(args), kind: chosenKind }),
        });
      }
    },
  );
}
