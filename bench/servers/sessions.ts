import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newSessionId } from '../../bff/src/session/cookies.js';
import type { SessionRecord, TokenRecord } from '../../bff/src/store/types.js';
import { serveRpc } from '../lib/child.js';
import { gcAndMeasure } from '../lib/memory.js';
import { STORES } from '../lib/stores.js';

/**
 * Memory and store size per session: fills a fresh store with `count` sessions, each with one
 * connection whose token record looks like the demo's (a ~1 KB JWT access token, an opaque refresh
 * token). Runs with --expose-gc so the heap figures are live data.
 */
export interface SessionsResult {
  store: string;
  count: number;
  heapBytesPerSession: number;
  rssBytesPerSession: number;
  storeBytesPerSession: number | undefined;
  writesPerSecond: number;
}

function tokenRecord(now: number): TokenRecord {
  return {
    // A JWT of the demo's shape: header, ~600 bytes of claims, RS256 signature.
    accessToken: `eyJhbGciOiJSUzI1NiIsInR5cCI6ImF0K2p3dCJ9.${randomBytes(600).toString('base64url')}.${randomBytes(256).toString('base64url')}`,
    refreshToken: randomBytes(32).toString('base64url'),
    scopes: ['mcp:tools'],
    issuedAt: now,
    expiresAt: now + 3_600_000,
    issuer: 'http://127.0.0.1:4000',
    clientId: 'mcp-bff-demo',
    resource: 'http://127.0.0.1:4100/mcp',
    generation: 1,
  };
}

async function measure(params: { store: string; count: number }): Promise<SessionsResult> {
  const make = STORES[params.store];
  if (!make) throw new Error(`no store ${params.store}`);
  const dir = mkdtempSync(join(tmpdir(), 'bench-store-'));
  try {
    const bench = await make.open(dir);
    const before = gcAndMeasure();
    const sizeBefore = (await bench.sizeBytes()) ?? 0;
    const now = Date.now();
    const started = performance.now();
    // 100 at a time, as concurrent logins would arrive (and so that a network store is not timed on
    // round trips alone).
    for (let i = 0; i < params.count; i += 100) {
      const batch = Array.from({ length: Math.min(100, params.count - i) }, async () => {
        const id = newSessionId();
        // Cast: the record's shape grows with the vault (idle expiry); extra fields are harmless.
        const session = { id, createdAt: now, expiresAt: now + 8 * 3_600_000, idleExpiresAt: now + 8 * 3_600_000 } as SessionRecord;
        await bench.store.createSession(session);
        await bench.store.putConnection(id, 'default', tokenRecord(now));
      });
      await Promise.all(batch);
    }
    const seconds = (performance.now() - started) / 1000;
    const after = gcAndMeasure();
    const size = await bench.sizeBytes();
    await bench.close();
    return {
      store: params.store,
      count: params.count,
      heapBytesPerSession: (after.heapUsed + after.external - before.heapUsed - before.external) / params.count,
      rssBytesPerSession: (after.rss - before.rss) / params.count,
      storeBytesPerSession: size === undefined ? undefined : (size - sizeBefore) / params.count,
      writesPerSecond: params.count / seconds,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

serveRpc({
  stores: () => Object.keys(STORES).filter((name) => STORES[name]?.available()),
  measure,
  exit: () => void setImmediate(() => process.exit(0)),
});
