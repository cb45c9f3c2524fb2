import { createHash } from 'node:crypto';

/**
 * What a store uses in place of a bearer-like identifier (session id, MCP session id, login
 * transaction id): its SHA-256. A dump of the store then holds nothing that could be replayed in a
 * cookie or header. The ids hashed here are all ≥ 128 random bits, so a plain hash is enough.
 */
export function storageKey(id: string): string {
  let key = recentKeys.get(id);
  if (key === undefined) {
    key = createHash('sha256').update(id, 'utf8').digest('base64url');
    // Each request hashes its session id more than once; a small bounded memo saves the repeats.
    if (recentKeys.size >= RECENT_KEYS_MAX) recentKeys.clear();
    recentKeys.set(id, key);
  }
  return key;
}

const RECENT_KEYS_MAX = 1_000;
const recentKeys = new Map<string, string>();

/** Additional authenticated data for a connection record: a ciphertext opens only where it was written. */
export function connectionAad(sessionKey: string, server: string): string {
  return `connection:${sessionKey}:${server}`;
}

export function mcpOwnerAad(mcpKey: string): string {
  return `mcp-owner:${mcpKey}`;
}

export function clientAad(issuer: string): string {
  return `client:${issuer}`;
}

export function noteAad(noteKey: string): string {
  return `note:${noteKey}`;
}
