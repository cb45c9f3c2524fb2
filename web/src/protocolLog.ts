/**
 * Every HTTP exchange between this page and one MCP server (through the BFF), for the Protocol view:
 * what was sent (the JSON-RPC message, method, the MCP headers), what came back (status, MCP headers,
 * each JSON-RPC message, whether as JSON or as SSE events) and how long it took. Kept per server for
 * the tab's life (navigation within the app keeps it), newest last, bounded.
 *
 * Nothing secret can be here: the page never holds a token (the BFF adds it), and the session cookie
 * is HttpOnly, so neither is in what the page sends or receives. Message bodies are the person's own
 * data and stay in this tab's memory.
 */
import { useSyncExternalStore } from 'react';

export interface ProtocolMessage {
  /** Milliseconds since the exchange started. */
  at: number;
  /** Pretty-printed JSON (or the raw text when it is not JSON). */
  text: string;
  /** JSON-RPC method, for requests and notifications. */
  method?: string;
  kind: 'request' | 'notification' | 'result' | 'error' | 'other';
}

export interface ProtocolExchange {
  id: number;
  /** Epoch milliseconds when the request left. */
  time: number;
  httpMethod: string;
  /** The JSON-RPC method(s) of the request, or the HTTP method for a GET/DELETE. */
  label: string;
  requestHeaders: Array<[string, string]>;
  request: ProtocolMessage[];
  status?: number;
  responseHeaders: Array<[string, string]>;
  /** 'json', 'sse' (a stream; `ended` says when it ended), or 'empty'. */
  responseKind?: 'json' | 'sse' | 'empty' | 'other';
  response: ProtocolMessage[];
  /** Milliseconds until the response headers. */
  headersMs?: number;
  /** Milliseconds until the body ended; undefined while a stream is open. */
  endedMs?: number;
  /** The request failed before an answer (the BFF's own error is an answer and has a status). */
  failure?: string;
}

/** Exchanges kept per server; older ones are dropped. */
const LIMIT = 300;
/** Text kept per message: a huge result is cut in this view, never in what the app uses. */
const MESSAGE_LIMIT = 64 * 1024;
/** Messages kept per exchange (a long-lived stream keeps only its latest). */
const MESSAGES_PER_EXCHANGE = 200;

/** Headers worth seeing when debugging MCP; nothing else is kept. */
const SHOWN_HEADERS = new Set([
  'content-type',
  'accept',
  'mcp-session-id',
  'mcp-protocol-version',
  'mcp-method',
  'mcp-name',
  'last-event-id',
  'x-request-id',
  'retry-after',
]);

let nextId = 1;
const exchanges = new Map<string, readonly ProtocolExchange[]>();
const listeners = new Set<() => void>();
const empty: readonly ProtocolExchange[] = [];

function changed(server: string, exchange: ProtocolExchange): void {
  const list = exchanges.get(server) ?? empty;
  const index = list.findIndex((e) => e.id === exchange.id);
  // A new object each time, so React sees the change.
  const copy = { ...exchange, request: [...exchange.request], response: [...exchange.response] };
  const next = index >= 0 ? list.map((e, i) => (i === index ? copy : e)) : [...list, copy];
  exchanges.set(server, next.length > LIMIT ? next.slice(next.length - LIMIT) : next);
  for (const listener of listeners) listener();
}

export function clearProtocolLog(server: string): void {
  exchanges.delete(server);
  for (const listener of listeners) listener();
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function useProtocolLog(server: string): readonly ProtocolExchange[] {
  return useSyncExternalStore(subscribe, () => exchanges.get(server) ?? empty);
}

function pick(headers: Headers): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  headers.forEach((value, name) => {
    if (SHOWN_HEADERS.has(name.toLowerCase())) out.push([name.toLowerCase(), value]);
  });
  return out;
}

function clip(text: string): string {
  return text.length > MESSAGE_LIMIT ? `${text.slice(0, MESSAGE_LIMIT)}\n… (${text.length - MESSAGE_LIMIT} more characters not shown here)` : text;
}

/** One JSON text (a message or a batch) as messages for the view. */
function messagesOf(text: string, at: number): ProtocolMessage[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return [{ at, text: clip(text), kind: 'other' }];
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  return list.map((m) => {
    const message = (typeof m === 'object' && m !== null ? m : {}) as { method?: unknown; id?: unknown; error?: unknown; result?: unknown };
    const method = typeof message.method === 'string' ? message.method : undefined;
    const kind: ProtocolMessage['kind'] =
      method !== undefined
        ? message.id === undefined
          ? 'notification'
          : 'request'
        : message.error !== undefined
          ? 'error'
          : message.result !== undefined
            ? 'result'
            : 'other';
    return { at, text: clip(JSON.stringify(m, null, 2)), kind, ...(method ? { method } : {}) };
  });
}

function push(exchange: ProtocolExchange, messages: ProtocolMessage[]): void {
  exchange.response.push(...messages);
  if (exchange.response.length > MESSAGES_PER_EXCHANGE) exchange.response.splice(0, exchange.response.length - MESSAGES_PER_EXCHANGE);
}

/**
 * Reads SSE `data:` lines out of chunks as they pass; a stream's messages are recorded as they arrive.
 * Only what the spec's events carry (data, possibly over several lines) matters here.
 */
function sseRecorder(onEvent: (data: string) => void): { feed(chunk: Uint8Array): void; end(): void } {
  const decoder = new TextDecoder();
  let buffer = '';
  let data: string[] = [];
  const line = (text: string) => {
    if (text === '') {
      if (data.length > 0) onEvent(data.join('\n'));
      data = [];
    } else if (text.startsWith('data:')) {
      data.push(text.slice(text.startsWith('data: ') ? 6 : 5));
    }
  };
  return {
    feed(chunk) {
      buffer += decoder.decode(chunk, { stream: true });
      for (let nl = buffer.search(/\r\n|\r|\n/); nl >= 0; nl = buffer.search(/\r\n|\r|\n/)) {
        line(buffer.slice(0, nl));
        buffer = buffer.slice(buffer[nl] === '\r' && buffer[nl + 1] === '\n' ? nl + 2 : nl + 1);
      }
    },
    end() {
      buffer += decoder.decode();
      if (buffer) line(buffer);
      line('');
    },
  };
}

type FetchLike = (url: string | URL, init?: RequestInit) => Promise<Response>;

/**
 * Wraps the page's fetch for one server so that every exchange is recorded. The answer's body is
 * passed on unchanged, chunk by chunk, as it arrives (an SSE stream is not held back), and cancelling
 * it (the SDK closing a stream) cancels the request as before.
 */
export function recordingFetch(server: string, fetchImpl: FetchLike): FetchLike {
  return async (url, init) => {
    const started = performance.now();
    const since = () => Math.round(performance.now() - started);
    const headers = new Headers(init?.headers);
    const body = typeof init?.body === 'string' ? init.body : undefined;
    const request = body === undefined ? [] : messagesOf(body, 0);
    const methods = request.map((m) => m.method).filter((m): m is string => m !== undefined);
    const exchange: ProtocolExchange = {
      id: nextId++,
      time: Date.now(),
      httpMethod: init?.method ?? 'GET',
      label: methods.length > 0 ? methods.join(', ') : request.some((m) => m.kind === 'result' || m.kind === 'error') ? 'response to the server' : (init?.method ?? 'GET'),
      requestHeaders: pick(headers),
      request,
      responseHeaders: [],
      response: [],
    };
    changed(server, exchange);
    let response: Response;
    try {
      response = await fetchImpl(url, init);
    } catch (error) {
      exchange.failure = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      exchange.headersMs = since();
      changed(server, exchange);
      throw error;
    }
    exchange.status = response.status;
    exchange.headersMs = since();
    exchange.responseHeaders = pick(response.headers);
    const type = response.headers.get('content-type') ?? '';
    if (!response.body || response.status === 202 || response.status === 204) {
      exchange.responseKind = 'empty';
      exchange.endedMs = since();
      changed(server, exchange);
      return response;
    }
    const isSse = type.startsWith('text/event-stream');
    exchange.responseKind = isSse ? 'sse' : type.includes('json') ? 'json' : 'other';
    changed(server, exchange);
    const sse = isSse
      ? sseRecorder((data) => {
          push(exchange, messagesOf(data, since()));
          changed(server, exchange);
        })
      : undefined;
    const chunks: Uint8Array[] = [];
    const finish = () => {
      if (sse) sse.end();
      else {
        const text = new TextDecoder().decode(concat(chunks));
        if (text) push(exchange, messagesOf(text, since()));
      }
      exchange.endedMs = since();
      changed(server, exchange);
    };
    const passThrough = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        if (sse) sse.feed(chunk);
        else chunks.push(chunk);
        controller.enqueue(chunk);
      },
      flush: finish,
    });
    return new Response(response.body.pipeThrough(passThrough), {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  };
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const size = chunks.reduce((n, c) => n + c.byteLength, 0);
  const out = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}
