import {
  type ClientDetails,
  type DiscoveryDetails,
  LOGIN_STEPS,
  type LoginErrorCode,
  type LoginStep,
  type LoginStepName,
} from '@mcp-bff/shared';
import { z } from 'zod';
import { OAuthFailure } from './errors.js';

/** Bounds on what a trace keeps: it is stored with the connection and in notes. */
const MAX_STEPS = 12;
const MAX_DETAIL = 800;
const MAX_URL = 1000;

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

const stepSchema = z.object({
  step: z.enum(LOGIN_STEPS),
  status: z.enum(['ok', 'failed']),
  at: z.number(),
  detail: z.string(),
  url: z.string().optional(),
});
export const loginTraceSchema = z.object({
  steps: z.array(stepSchema).max(MAX_STEPS),
  discovery: z
    .object({
      resourceMetadataUrl: z.string().nullable(),
      resource: z.string().nullable(),
      authorizationServers: z.array(z.string()),
      authorizationServerMetadataUrl: z.string().nullable(),
      issuer: z.string().nullable(),
    })
    .nullable(),
  client: z
    .object({
      source: z.enum(['configuration', 'metadata_document', 'dynamic_registration']),
      clientId: z.string(),
      since: z.number().nullable(),
    })
    .nullable(),
});
export type LoginTraceData = z.infer<typeof loginTraceSchema>;

/** A trace's JSON in a cookie stays under this many characters (the sealed cookie under 4 KB with the rest). */
const COOKIE_TRACE_CHARS = 1800;

/**
 * A trace made small enough to travel in a sealed cookie (the login transaction, a failed login's
 * pointer): details and URLs shortened, and if that is not enough, only the last steps kept. What an
 * anonymous browser starts is never written to the store, so the trace goes with its cookie.
 */
export function compactTrace<T extends LoginTraceData>(data: T): T {
  const shorten = (max: number, urlMax: number): T => ({
    ...data,
    steps: data.steps.map((s) => ({ ...s, detail: clip(s.detail, max), ...(s.url ? { url: clip(s.url, urlMax) } : {}) })),
  });
  for (const [detail, url] of [
    [MAX_DETAIL, MAX_URL],
    [240, 300],
    [120, 160],
  ] as const) {
    const compact = shorten(detail, url);
    if (JSON.stringify(compact).length <= COOKIE_TRACE_CHARS) return compact;
  }
  const smallest = shorten(120, 160);
  while (smallest.steps.length > 1 && JSON.stringify(smallest).length > COOKIE_TRACE_CHARS) smallest.steps.shift();
  return smallest;
}

/** A finished login's trace, as a failed one is kept for the browser that made it. */
export const loginReportSchema = loginTraceSchema.extend({
  outcome: z.enum(['succeeded', 'failed']),
  at: z.number(),
  error: z.string().nullable(),
});
export type LoginReport = Omit<z.infer<typeof loginReportSchema>, 'error'> & { error: LoginErrorCode | null };

/**
 * What a login did, step by step (discovery, the client, the authorization request and response, the
 * code exchange), with where each thing was found and, for a step that failed, why in words a person
 * can act on. Never a secret: no token, code, verifier, state or client secret goes in.
 */
export class LoginTrace {
  steps: LoginStep[] = [];
  discovery: DiscoveryDetails | null = null;
  client: ClientDetails | null = null;

  /** A trace read back from the store; anything malformed starts a new one. */
  static from(stored: unknown): LoginTrace {
    const trace = new LoginTrace();
    const parsed = loginTraceSchema.safeParse(stored);
    if (parsed.success) {
      trace.steps = parsed.data.steps.map((s) => ({ ...s }));
      trace.discovery = parsed.data.discovery;
      trace.client = parsed.data.client;
    }
    return trace;
  }

  ok(step: LoginStepName, detail: string, url?: string): void {
    this.push({ step, status: 'ok', at: Date.now(), detail: clip(detail, MAX_DETAIL), ...(url ? { url: clip(url, MAX_URL) } : {}) });
  }

  failed(step: LoginStepName, error: unknown, url?: string): void {
    this.push({ step, status: 'failed', at: Date.now(), detail: clip(whyFailed(error), MAX_DETAIL), ...(url ? { url: clip(url, MAX_URL) } : {}) });
  }

  /** Runs one step: its success is described by `describe`, its failure recorded with why, then rethrown. */
  async run<T>(step: LoginStepName, fn: () => Promise<T>, describe: (value: T) => { detail: string; url?: string | undefined }): Promise<T> {
    let value: T;
    try {
      value = await fn();
    } catch (error) {
      this.failed(step, error);
      throw error;
    }
    const { detail, url } = describe(value);
    this.ok(step, detail, url);
    return value;
  }

  /** The last step that failed, if any. */
  get failedStep(): LoginStep | undefined {
    return [...this.steps].reverse().find((s) => s.status === 'failed');
  }

  toJSON(): LoginTraceData {
    return { steps: this.steps, discovery: this.discovery, client: this.client };
  }

  report(outcome: 'succeeded' | 'failed', error: LoginErrorCode | null): LoginReport {
    return { ...this.toJSON(), outcome, at: Date.now(), error };
  }

  private push(step: LoginStep): void {
    // A step done again (a retried callback) replaces the earlier record of it.
    this.steps = this.steps.filter((s) => s.step !== step.step);
    if (this.steps.length < MAX_STEPS) this.steps.push(step);
  }
}

/** What a person reads for a login error code: what happened, and what to do. */
export const LOGIN_ERROR_ADVICE: Record<LoginErrorCode, string> = {
  access_denied:
    'Access was declined at the authorization server (on its consent page, or by its policy). Connect again and allow access, or ask its operator why it was refused.',
  authorization_failed:
    'The authorization server answered with an error instead of an authorization code. Connect again; if it keeps failing, its operator can tell why from its logs.',
  login_expired: 'The sign-in took too long, or was finished in another tab. Connect again.',
  state_mismatch: 'The answer from the authorization server did not belong to the sign-in this browser started. Connect again.',
  token_exchange_failed:
    'The authorization server would not exchange the authorization code for tokens, or answered with something unusable. Connect again; if it keeps failing, the client credentials may be wrong or expired.',
  authorization_server_unavailable:
    'The authorization server could not be reached, or answered with a server error. Try again in a moment; if it persists, check that it is up and reachable from the BFF.',
  resource_mismatch:
    "The server's metadata describes another resource than the configured URL. Check that the server's URL in the configuration is exactly the server's, path included.",
  pkce_unsupported: 'The authorization server does not support PKCE with S256, which MCP requires. Its operator has to enable it.',
  registration_failed:
    "The BFF could not get a client at the authorization server. Configure client credentials registered there for this server, or ask its operator to allow client ID metadata documents or dynamic registration.",
  insufficient_scope: 'The server asked for more permission several times and it was still not granted. Ask its operator which scopes it needs.',
  rate_limited: 'Too many sign-ins were started from this network address. Wait a minute and try again.',
  enterprise_access_denied:
    "The organisation's identity provider refused the token exchange for this server, or the server's authorization server refused the identity assertion. The BFF log says which; the IdP's policy decides who may use which server.",
};

const FAILURE_ADVICE: Partial<Record<OAuthFailure['code'], string>> = {
  discovery_failed:
    "MCP authorization needs this metadata: check the server's URL in the configuration, or ask the server's operator to publish it.",
  resource_mismatch: LOGIN_ERROR_ADVICE.resource_mismatch,
  pkce_unsupported: LOGIN_ERROR_ADVICE.pkce_unsupported,
  as_unavailable: LOGIN_ERROR_ADVICE.authorization_server_unavailable,
};

/**
 * Why a step failed, for a person: the BFF's own description of the failure (never an authorization
 * server's error text) and what to do about it.
 */
export function whyFailed(error: unknown): string {
  if (error instanceof OAuthFailure) {
    const what = sentence(error.message);
    if (error.code === 'registration_failed') {
      // The issuer-binding message already says what to do.
      return /OAUTH_ISSUER/.test(error.message) ? what : `${what} ${LOGIN_ERROR_ADVICE.registration_failed}`;
    }
    const advice = FAILURE_ADVICE[error.code];
    return advice ? `${what} ${advice}` : what;
  }
  // A CallbackFailure (client.ts) carries the login error code the person is sent back with.
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code in LOGIN_ERROR_ADVICE) return LOGIN_ERROR_ADVICE[code as LoginErrorCode];
  return 'Something went wrong at this step; the BFF log has the details.';
}

function sentence(message: string): string {
  const text = message.charAt(0).toUpperCase() + message.slice(1);
  return /[.!?]$/.test(text) ? text : `${text}.`;
}
