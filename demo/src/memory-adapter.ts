import type { Adapter, AdapterPayload } from 'oidc-provider';

/**
 * Per-provider in-memory storage for oidc-provider.
 *
 * oidc-provider's bundled MemoryAdapter keeps every model in one module-wide LRU of 1,000 entries shared by
 * all Provider instances in the process: load tests or many test servers in one worker could silently
 * evict live grants and refresh tokens. This one is a plain Map per provider with real expiry, and it
 * announces nothing on the console. Demo only: state is lost on restart.
 */
interface Entry {
  payload: AdapterPayload;
  expiresAt: number; // ms epoch
}

/** Models whose records belong to a grant, so revokeByGrantId can find them. */
const GRANT_BOUND = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);

export function createMemoryAdapterFactory(): (model: string) => Adapter {
  const records = new Map<string, Entry>();
  const byGrant = new Map<string, Set<string>>();
  const sessionByUid = new Map<string, string>();
  const byUserCode = new Map<string, string>();

  const read = (key: string): AdapterPayload | undefined => {
    const entry = records.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      records.delete(key);
      return undefined;
    }
    return entry.payload;
  };

  // Expired entries are dropped on read; this sweep keeps memory bounded for records never read again.
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [key, entry] of records) if (entry.expiresAt <= now) records.delete(key);
  }, 60_000);
  sweep.unref();

  return (model: string): Adapter => {
    const key = (id: string) => `${model}:${id}`;
    return {
      async upsert(id, payload, expiresIn) {
        records.set(key(id), { payload, expiresAt: Date.now() + expiresIn * 1000 });
        if (model === 'Session' && payload.uid) sessionByUid.set(payload.uid, id);
        if (payload.userCode) byUserCode.set(payload.userCode, id);
        if (GRANT_BOUND.has(model) && payload.grantId) {
          const keys = byGrant.get(payload.grantId) ?? new Set<string>();
          keys.add(key(id));
          byGrant.set(payload.grantId, keys);
        }
      },
      async find(id) {
        return read(key(id));
      },
      async findByUid(uid) {
        const id = sessionByUid.get(uid);
        return id === undefined ? undefined : read(key(id));
      },
      async findByUserCode(userCode) {
        const id = byUserCode.get(userCode);
        return id === undefined ? undefined : read(key(id));
      },
      async consume(id) {
        const payload = read(key(id));
        if (payload) payload.consumed = Math.floor(Date.now() / 1000);
      },
      async destroy(id) {
        records.delete(key(id));
      },
      async revokeByGrantId(grantId) {
        for (const k of byGrant.get(grantId) ?? []) records.delete(k);
        byGrant.delete(grantId);
      },
    };
  };
}
