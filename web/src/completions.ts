/**
 * Suggestions for prompt arguments and resource template variables as the person types
 * (`completion/complete`), asked only of servers that declare the `completions` capability, in
 * either protocol era (2025-11-25 declares it at `initialize`, 2026-07-28 in `server/discover`; the
 * SDK client holds whichever it was, and the check runs on the connection that carries each request).
 *
 * No React here: CompletionQuery does the timing (a pause after typing, one request at a time, an
 * answer to an older value never shown), so it can be tested on its own; the component is
 * components/CompletionInput.tsx.
 */
import type { CompleteRequestParams, CompleteResult } from '@modelcontextprotocol/client';
import { currentCapabilities, serverFacts, withClient } from './mcp';

/** What the suggestions are for: a prompt (by name) or a resource template (by its URI template). */
export type CompletionRef = { type: 'ref/prompt'; name: string } | { type: 'ref/resource'; uri: string };

export interface CompletionRequest {
  /** The argument (or template variable) being filled in, and what it holds so far. */
  argument: { name: string; value: string };
  /** The other arguments already filled in; the server may narrow its suggestions with them. */
  context?: { arguments: Record<string, string> };
}

export interface Suggestions {
  /** At most 100, by the spec; the input shows the first few. */
  values: string[];
  /** How many there are in all, when the server says (never fewer than `values`). */
  total: number | undefined;
  /** The server has more than it sent (whether or not it says how many). */
  hasMore: boolean;
}

/**
 * Asks for suggestions. Resolves undefined when the server does not offer completions (then nothing
 * was sent); rejects with the server's or the connection's error, or when `signal` aborts.
 */
export type Completer = (request: CompletionRequest, signal: AbortSignal) => Promise<Suggestions | undefined>;

/** Milliseconds of quiet after the last keystroke before asking. */
export const COMPLETION_DELAY_MS = 250;

/** A suggestion that takes longer than this is of no use to someone typing. */
export const COMPLETION_TIMEOUT_MS = 10_000;

/** Whether the server declared the `completions` capability when the connection was made. */
export async function offersCompletions(server: string): Promise<boolean> {
  const facts = await serverFacts(server);
  return facts.capabilities?.completions !== undefined;
}

/** Whether the connection open now declares completions; undefined when none is open yet. */
export function declaresCompletionsNow(server: string): boolean | undefined {
  const capabilities = currentCapabilities(server);
  return capabilities === undefined ? undefined : capabilities.completions !== undefined;
}

/** Reads a completion result, keeping only what makes sense (strings; a total no smaller than what came). */
export function readSuggestions(completion: CompleteResult['completion']): Suggestions {
  const values = completion.values.filter((value): value is string => typeof value === 'string');
  const total = typeof completion.total === 'number' && Number.isFinite(completion.total) ? Math.max(completion.total, values.length) : undefined;
  return { values, total, hasMore: completion.hasMore === true || (total !== undefined && total > values.length) };
}

/** How many suggestions there are beyond the first `shown`: a number, 'some' (more, count unknown), or 0. */
export function moreThan(suggestions: Suggestions, shown: number): number | 'some' {
  const known = Math.max(suggestions.total ?? 0, suggestions.values.length);
  if (known > shown) return known - shown;
  return suggestions.hasMore ? 'some' : 0;
}

/** The completer for one prompt or resource template of one server. */
export function completerFor(server: string, ref: CompletionRef): Completer {
  return (request, signal) =>
    withClient(server, async (client) => {
      // Checked on the connection that would carry the request: one made afresh (the server was
      // upgraded, or changed era) may no longer declare the capability.
      if (client.getServerCapabilities()?.completions === undefined) return undefined;
      const params: CompleteRequestParams = { ref, argument: request.argument, ...(request.context ? { context: request.context } : {}) };
      const result = await client.complete(params, { signal, timeout: COMPLETION_TIMEOUT_MS });
      return readSuggestions(result.completion);
    });
}

/**
 * `context.arguments` for one field: the form's other top-level values that hold text. Empty ones are
 * left out (not filled in yet); undefined when nothing else is filled in.
 */
export function siblingArguments(values: Readonly<Record<string, unknown>>, except: string): Record<string, string> | undefined {
  const filled = Object.entries(values).filter((entry): entry is [string, string] => entry[0] !== except && typeof entry[1] === 'string' && entry[1] !== '');
  return filled.length > 0 ? Object.fromEntries(filled) : undefined;
}

export type CompletionState =
  | { status: 'idle' }
  | { status: 'loading'; value: string }
  | { status: 'done'; value: string; suggestions: Suggestions }
  | { status: 'failed'; value: string; message: string };

/**
 * The timing of suggestions for one input. `typed` asks after a pause (each keystroke restarts it);
 * `now` asks at once. Either one supersedes what came before: a pending ask is dropped and a request
 * in flight is aborted, and its answer, should it still arrive, is never reported. `stop` drops
 * everything (the person chose a suggestion, or left the page).
 */
export class CompletionQuery {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private controller: AbortController | undefined;
  /** Bumped whenever what came before stops counting; an answer for another generation is stale. */
  private generation = 0;

  constructor(
    private readonly complete: Completer,
    private readonly report: (state: CompletionState) => void,
    private readonly delayMs = COMPLETION_DELAY_MS,
  ) {}

  typed(request: CompletionRequest): void {
    const generation = this.supersede();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.run(generation, request);
    }, this.delayMs);
  }

  now(request: CompletionRequest): void {
    void this.run(this.supersede(), request);
  }

  stop(): void {
    this.supersede();
  }

  /** A request is being waited for or is on its way. */
  get busy(): boolean {
    return this.timer !== undefined || this.controller !== undefined;
  }

  private supersede(): number {
    this.generation++;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.controller?.abort();
    this.controller = undefined;
    return this.generation;
  }

  private async run(generation: number, request: CompletionRequest): Promise<void> {
    const controller = new AbortController();
    this.controller = controller;
    const { value } = request.argument;
    this.report({ status: 'loading', value });
    let next: CompletionState;
    try {
      const suggestions = await this.complete(request, controller.signal);
      next = suggestions ? { status: 'done', value, suggestions } : { status: 'idle' };
    } catch (error) {
      next = { status: 'failed', value, message: error instanceof Error && error.message ? error.message : 'The server did not answer.' };
    }
    if (generation !== this.generation) return;
    this.controller = undefined;
    this.report(next);
  }
}
