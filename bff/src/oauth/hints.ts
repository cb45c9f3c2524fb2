import type { ChallengeHints } from './client.js';

/**
 * What each MCP server's last 401 challenge said about where its metadata is and which scopes it wants.
 * These describe the server, not a user, so one copy per server is right.
 */
export class ChallengeHintsCache {
  private readonly byServer = new Map<string, ChallengeHints>();

  /** @param onChallenge told of every challenge, e.g. to drop cached metadata (the server's AS may have moved). */
  constructor(private readonly onChallenge: (server: string) => void = () => {}) {}

  get(server: string): ChallengeHints {
    return this.byServer.get(server) ?? {};
  }

  remember(server: string, params: Record<string, string>): void {
    const hints: ChallengeHints = {};
    if (params.resource_metadata) hints.resourceMetadata = params.resource_metadata;
    if (params.scope) hints.scope = params.scope;
    this.byServer.set(server, hints);
    this.onChallenge(server);
  }
}
