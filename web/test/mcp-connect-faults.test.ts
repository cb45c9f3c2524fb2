import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SdkError, SdkErrorCode } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectMcp, MAX_INPUT_ROUNDS } from '../src/mcp-connect.js';

/**
 * A fake 2026-07-28 server for the fault the real ones cannot show: it answers every tools/call with
 * another input_required, for ever. The client must stop after a bounded number of rounds with a clear
 * error, having asked the person at most that many times.
 */

let server: Server;
let url: URL;
let calls = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      const message = JSON.parse(body) as { id?: number | string; method: string };
      res.setHeader('content-type', 'application/json');
      if (message.id === undefined) {
        res.statusCode = 202;
        res.end();
        return;
      }
      const reply = (result: unknown) => res.end(JSON.stringify({ jsonrpc: '2.0', id: message.id, result }));
      if (message.method === 'server/discover') {
        reply({ resultType: 'complete', supportedVersions: ['2026-07-28'], capabilities: { tools: {} }, _meta: { 'io.modelcontextprotocol/serverInfo': { name: 'greedy', version: '1' } } });
      } else if (message.method === 'tools/call') {
        calls++;
        reply({
          resultType: 'input_required',
          inputRequests: { again: { method: 'elicitation/create', params: { mode: 'form', message: `Round ${calls}`, requestedSchema: { type: 'object', properties: {} } } } },
          requestState: `state-${calls}`,
        });
      } else {
        res.statusCode = 400;
        res.end(JSON.stringify({ jsonrpc: '2.0', id: message.id, error: { code: -32601, message: 'Method not found' } }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`);
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('a server that asks for input for ever', () => {
  it('is given up on after a bounded number of rounds, with a typed error, not a hang', async () => {
    let asked = 0;
    const connected = await connectMcp({
      url,
      fetch: (input, init) => fetch(input, init),
      protocol: 'auto',
      input: {
        async elicit() {
          asked++;
          return { action: 'accept', content: {} };
        },
        async sample() {
          throw new Error('not asked');
        },
      },
    });
    try {
      expect(connected.era).toBe('modern');
      const error = await connected.client.callTool({ name: 'anything', arguments: {} }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SdkError);
      expect((error as SdkError).code).toBe(SdkErrorCode.InputRequiredRoundsExceeded);
      expect(asked).toBeLessThanOrEqual(MAX_INPUT_ROUNDS + 1);
      expect(calls).toBeLessThanOrEqual(MAX_INPUT_ROUNDS + 1);
    } finally {
      await connected.client.close();
    }
  });
});
