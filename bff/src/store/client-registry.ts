import type { ClientRegistry, IssuerPin, RegisteredClient } from '../oauth/registration.js';
import type { TokenStore } from './types.js';

/**
 * Registered OAuth clients (RFC 7591) kept in the token store, encrypted like token records (they
 * hold client secrets): a restart, or another instance, reuses the registration instead of making a
 * new one at every start.
 */
export class StoreClientRegistry implements ClientRegistry {
  constructor(private readonly store: TokenStore) {}

  async get(issuer: string): Promise<RegisteredClient | undefined> {
    const stored = await this.store.getRegisteredClient(issuer);
    if (!stored || stored.issuer !== issuer || typeof stored.clientId !== 'string') return undefined;
    return stored as unknown as RegisteredClient;
  }

  async put(client: RegisteredClient): Promise<void> {
    await this.store.putRegisteredClient(client.issuer, { ...client });
  }

  async lock(issuer: string, ttlMs: number): Promise<(() => Promise<void>) | undefined> {
    const name = `register\u0000${issuer}`;
    const token = await this.store.acquireLock(name, ttlMs);
    return token === undefined ? undefined : () => this.store.releaseLock(name, token);
  }

  // Pins live beside the clients under keys no issuer URL can take ("pin:<server id>").
  async pinnedIssuer(server: string): Promise<IssuerPin | undefined> {
    const stored = await this.store.getRegisteredClient(`pin:${server}`);
    if (typeof stored?.pinnedIssuer !== 'string') return undefined;
    // Pins written before the date was kept have none.
    return typeof stored.pinnedAt === 'number' ? { issuer: stored.pinnedIssuer, since: stored.pinnedAt } : { issuer: stored.pinnedIssuer };
  }

  async pinIssuer(server: string, issuer: string): Promise<void> {
    await this.store.putRegisteredClient(`pin:${server}`, { pinnedIssuer: issuer, pinnedAt: Date.now() });
  }
}
