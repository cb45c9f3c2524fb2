import { PROTOCOL_PREFERENCES, type SessionInfo } from '@mcp-bff/shared';
import { describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { MemoryTokenStore } from '../src/store/memory.js';

/** The operator's per-server protocol choice: `"protocol"` in MCP_SERVERS, MCP_PROTOCOL with MCP_SERVER_URL. */

const base = {
  PUBLIC_URL: 'https://app.example.com',
  MCP_SERVER_URL: 'https://mcp.example.com/mcp',
  // Test-only, public in this repository.
  SESSION_SECRET: 'NJQA7l/CJUKp+wCOMZfFr1oEnfR1tDEyZd495OrN7qWg09pxMdYpbzvoRIFeukRC',
};
const several = (...servers: Array<Record<string, unknown>>) => ({ ...base, MCP_SERVER_URL: undefined, MCP_SERVERS: JSON.stringify(servers) });

function problems(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

const CHOICES = 'auto, 2026-07-28, 2025-11-25';

describe('protocol configuration', () => {
  it('is auto unless set, for one server and for several', () => {
    expect(loadConfig(base).servers[0]?.protocol).toBe('auto');
    // An empty variable is an unset one.
    expect(loadConfig({ ...base, MCP_PROTOCOL: '' }).servers[0]?.protocol).toBe('auto');
    expect(loadConfig(several({ id: 'a', url: 'https://a.example/mcp' })).servers[0]?.protocol).toBe('auto');
  });

  it.each(PROTOCOL_PREFERENCES)('takes %s from MCP_PROTOCOL and from a server’s "protocol"', (choice) => {
    expect(loadConfig({ ...base, MCP_PROTOCOL: choice }).servers[0]?.protocol).toBe(choice);
    const c = loadConfig(several({ id: 'a', url: 'https://a.example/mcp', protocol: choice }, { id: 'b', url: 'https://b.example/mcp' }));
    expect(c.servers.map((s) => s.protocol)).toEqual([choice, 'auto']);
  });

  it('refuses any other value and lists the choices, together with every other problem', () => {
    expect(problems({ ...base, MCP_PROTOCOL: '2026-07-29' })).toEqual([`MCP_PROTOCOL must be one of ${CHOICES}`]);
    expect(problems({ ...base, MCP_PROTOCOL: 'latest', PORT: 'x' })).toEqual(expect.arrayContaining([`MCP_PROTOCOL must be one of ${CHOICES}`, expect.stringMatching(/PORT/)]));
    const bad = problems(
      several({ id: 'a', url: 'https://a.example/mcp', protocol: 'AUTO' }, { id: 'b', url: 'https://b.example/mcp', protocol: 20260728 }),
    );
    expect(bad).toEqual([`MCP_SERVERS[0][protocol]: protocol must be one of ${CHOICES}`, `MCP_SERVERS[1][protocol]: protocol must be one of ${CHOICES}`]);
  });

  it('MCP_PROTOCOL with MCP_SERVERS is a problem (it would be silently ignored), not a default for all', () => {
    expect(problems({ ...several({ id: 'a', url: 'https://a.example/mcp' }), MCP_PROTOCOL: '2025-11-25' })).toEqual([
      'MCP_PROTOCOL goes with MCP_SERVER_URL; in MCP_SERVERS give each server a "protocol"',
    ]);
  });

  it('/bff/session names each server’s choice', async () => {
    const config = loadConfig(
      several(
        { id: 'modern', url: 'https://modern.example/mcp', protocol: '2026-07-28' },
        { id: 'legacy', url: 'https://legacy.example/mcp', protocol: '2025-11-25' },
        { id: 'either', url: 'https://either.example/mcp' },
      ),
    );
    const app = createApp({ config, store: new MemoryTokenStore(), log: createLogger('silent') });
    const res = await app.request('/bff/session', { headers: { 'x-csrf': '1' } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as SessionInfo;
    expect(body.connections.map((c) => [c.server, c.protocol])).toEqual([
      ['modern', '2026-07-28'],
      ['legacy', '2025-11-25'],
      ['either', 'auto'],
    ]);
  });
});
