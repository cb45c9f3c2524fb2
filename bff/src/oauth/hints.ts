import { bffRoutes } from '@mcp-bff/shared';
import type { ChallengeHints } from './client.js';

/** Longest `resource_metadata` URL taken from a challenge. */
const MAX_METADATA_URL_LENGTH = 2048;
/** Longest `scope` carried from a challenge to a login (what /bff/login accepts for a step-up, too). */
const MAX_SCOPE_LENGTH = 1000;
/** RFC 6749 §3.3: scope tokens, single spaces between them. */
const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/;

/** The query parameter of /bff/login that carries the scope of the challenge the browser met. */
export const CHALLENGE_SCOPE_PARAM = 'challengeScope';

/** A scope value fit to be asked for: bounded, RFC 6749 scope tokens only; otherwise undefined. */
export function boundedScope(value: string | undefined): string | undefined {
  return value !== undefined && value.length <= MAX_SCOPE_LENGTH && SCOPE.test(value) ? value : undefined;
}

/**
 * The login URL for the browser whose request drew this 401 challenge: it carries the challenge's
 * scope (MCP: the scope of the challenge comes first), for this browser's login only.
 */
export function loginUrlAfter(server: string, challenge: Record<string, string>): string {
  const scope = boundedScope(challenge.scope);
  const url = bffRoutes.login(server, '/');
  return scope ? `${url}&${CHALLENGE_SCOPE_PARAM}=${encodeURIComponent(scope)}` : url;
}

/**
 * Where each MCP server's protected resource metadata is, from its 401 challenges. That describes the
 * server, not a user, so one copy per server is right; and what it points to is checked before use
 * (outbound guard, and the metadata must name this server's URL as its resource).
 *
 * A challenge's `scope` is not kept here. It may depend on the request that drew it (per-operation
 * scopes), which anyone can send without signing in: kept per server, it would choose the scopes of
 * everybody's next login, over-broad or invalid. It goes to the browser that met it instead, in its
 * login URL (`loginUrlAfter`). A crafted link can ask for scopes that way, as a step-up link can: the
 * authorization server's consent is what grants them.
 */
export class ChallengeHintsCache {
  private readonly byServer = new Map<string, string>();

  /** @param onChallenge told when cached metadata should be dropped (the server's AS may have moved). */
  constructor(private readonly onChallenge: (server: string) => void = () => {}) {}

  get(server: string): ChallengeHints {
    const resourceMetadata = this.byServer.get(server);
    return resourceMetadata ? { resourceMetadata } : {};
  }

  /**
   * @param server a configured server's id (so the map holds at most one entry per configured server).
   * @param withToken whether the refused request carried a token.
   */
  remember(server: string, params: Record<string, string>, withToken: boolean): void {
    const url = params.resource_metadata;
    const named = url !== undefined && url.length <= MAX_METADATA_URL_LENGTH && URL.canParse(url) ? url : undefined;
    const changed = named !== undefined && named !== this.byServer.get(server);
    if (changed) this.byServer.set(server, named);
    // A refused token may mean the server moved to another AS; new metadata certainly means something
    // changed. An anonymous request that draws the same challenge again changes nothing, so a stream
    // of them cannot keep the discovery cache cold.
    if (withToken || changed) this.onChallenge(server);
  }
}
