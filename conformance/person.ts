import {
  type Client,
  type CreateMessageResult,
  type ElicitResult,
  ProtocolError,
  SdkError,
  SdkErrorCode,
  type Tool,
} from '@modelcontextprotocol/client';
import type { InputHandlers } from '../web/src/mcp-connect.js';
import { type Field, type FormObject, type FormValue, fieldsOf, initialValues, newItem, toArguments } from '../web/src/schemaForm.js';

/**
 * The person at the SPA, scripted: what someone exploring a server in the app would do, so that a
 * scenario's mock server sees the requests a real session makes. Forms are the SPA's own
 * (web/src/schemaForm.ts): defaults come pre-filled, as on the page, and the person fills in what is
 * still required and submits.
 */

/** Reads and prompt fetches per list: a person opens a few, not thousands. */
const MAX_OPENED = 10;

/** Fills what the form left empty the way a person would: something plausible for each required field. */
function fill(fields: Field[], values: FormObject): FormObject {
  const out: FormObject = { ...values };
  for (const field of fields) {
    const current = out[field.name];
    const schema = field.schema;
    if (schema.kind === 'object') {
      out[field.name] = fill(schema.fields, (current as FormObject | undefined) ?? {});
      continue;
    }
    if (!field.required) continue;
    if (schema.kind === 'array') {
      const items = Array.isArray(current) ? current : [];
      while (items.length < (schema.minItems ?? 0)) items.push(newItem(schema.item));
      out[field.name] = items;
      continue;
    }
    if (current !== '' && current !== undefined) continue;
    out[field.name] = plausible(field);
  }
  return out;
}

function plausible(field: Field): FormValue {
  const schema = field.schema;
  switch (schema.kind) {
    case 'boolean':
      return true;
    case 'enum':
      return schema.options.length > 0 ? '0' : '';
    case 'number':
    case 'integer':
      return String(schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : 1));
    case 'json':
      return '{}';
    case 'text':
      return 'conformance'.padEnd(schema.minLength ?? 0, 'x');
    default:
      return '';
  }
}

/** The arguments a person would submit for a form drawn from `schema`. */
export function scriptedArguments(schema: unknown): Record<string, unknown> {
  const fields = fieldsOf(schema);
  const result = toArguments(fields, fill(fields, initialValues(fields)));
  if (!result.ok) throw new Error(`the scripted person could not fill the form: ${JSON.stringify(result.errors)}`);
  return result.arguments;
}

/** Accepts every form (defaults kept), agrees to open every URL, and writes a reply to every sampling request. */
export function scriptedPerson(log: (message: string) => void): InputHandlers {
  return {
    async elicit(params): Promise<ElicitResult> {
      if (params.mode === 'url') {
        log(`elicitation: the person confirms opening ${new URL(params.url).host}`);
        return { action: 'accept' };
      }
      log('elicitation: the person accepts the form');
      return { action: 'accept', content: scriptedArguments(params.requestedSchema) as ElicitResult['content'] };
    },
    async sample(): Promise<CreateMessageResult> {
      log('sampling: the person writes the reply');
      return { role: 'assistant', model: 'written-by-a-person', content: { type: 'text', text: 'Reply written by the person.' } };
    },
  };
}

export interface ExploreOptions {
  /** The scenario's own tool calls; without them, every listed tool is called once with a filled form. */
  toolCalls?: Array<{ name: string; arguments: Record<string, unknown> }> | undefined;
  steps: string[];
  log: (message: string) => void;
}

/** Failures of one answer, not of the connection: the page shows them next to that action. */
const ANSWER_FAULTS: ReadonlySet<string> = new Set([
  SdkErrorCode.InvalidResult,
  SdkErrorCode.UnsupportedResultType,
  SdkErrorCode.InputRequiredRoundsExceeded,
]);

/**
 * Runs `step`; an error the MCP server answered (JSON-RPC), or an answer the client refused as
 * malformed, is what the page would show next to that action, so it is recorded and the exploration
 * goes on. Anything else (the BFF refusing, the connection failing) ends it.
 */
async function attempt(steps: string[], label: string, step: () => Promise<unknown>): Promise<void> {
  try {
    await step();
    steps.push(label);
  } catch (error) {
    if (error instanceof ProtocolError) steps.push(`${label} (server error ${error.code})`);
    else if (error instanceof SdkError && ANSWER_FAULTS.has(error.code)) steps.push(`${label} (refused answer: ${error.code})`);
    else throw error;
  }
}

/**
 * What a person exploring the server in the SPA does: the server's page lists tools, resources and
 * prompts (each only where declared), opens resources and prompts, and runs tools, several at once.
 */
export async function explore(client: Client, options: ExploreOptions): Promise<void> {
  const { steps } = options;
  const capabilities = client.getServerCapabilities() ?? {};
  let tools: Tool[] = [];
  if (capabilities.tools) {
    tools = (await client.listTools()).tools;
    steps.push(`tools/list (${tools.length})`);
  }
  if (capabilities.resources) {
    const { resources } = await client.listResources();
    steps.push(`resources/list (${resources.length})`);
    for (const resource of resources.slice(0, MAX_OPENED)) {
      await attempt(steps, `resources/read ${resource.uri}`, () => client.readResource({ uri: resource.uri }));
    }
  }
  if (capabilities.prompts) {
    const { prompts } = await client.listPrompts();
    steps.push(`prompts/list (${prompts.length})`);
    for (const prompt of prompts.slice(0, MAX_OPENED)) {
      const schema = {
        type: 'object',
        properties: Object.fromEntries((prompt.arguments ?? []).map((a) => [a.name, { type: 'string' }])),
        required: (prompt.arguments ?? []).filter((a) => a.required).map((a) => a.name),
      };
      const args = scriptedArguments(schema) as Record<string, string>;
      await attempt(steps, `prompts/get ${prompt.name}`, () => client.getPrompt({ name: prompt.name, arguments: args }));
    }
  }
  const calls = options.toolCalls ?? tools.map((tool) => ({ name: tool.name, arguments: argumentsFor(tool, tools) }));
  // Several at once, as a person can start one tool while another waits for their input.
  await Promise.all(
    calls.map((call) => attempt(steps, `tools/call ${call.name}`, () => client.callTool({ name: call.name, arguments: call.arguments }))),
  );
}

/**
 * A filled form, except for the one tool whose purpose is to echo a schema back: the person pastes
 * the schema they were shown (json-schema-2020-12-preservation checks nothing was stripped from it).
 */
function argumentsFor(tool: Tool, tools: Tool[]): Record<string, unknown> {
  if (tool.name === 'json_schema_echo') {
    const shown = tools.find((t) => t.name === 'json_schema_2020_12_tool');
    if (shown) return { schema: shown.inputSchema };
  }
  return scriptedArguments(tool.inputSchema);
}
