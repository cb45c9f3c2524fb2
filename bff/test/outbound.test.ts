import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Listening, listen } from '../../demo/src/listen.js';
import { addressProblem, createOutboundFetch } from '../src/oauth/outbound.js';

const base = { allowHttpLoopback: false, allowPrivateNetworks: false, timeoutMs: 2_000, maxResponseBytes: 1024 };

describe('addressProblem', () => {
  it.each([
    ['127.0.0.1', 'example.com'],
    ['::1', 'example.com'],
    ['10.1.2.3', 'example.com'],
    ['172.16.0.1', 'example.com'],
    ['192.168.1.1', 'example.com'],
    ['169.254.169.254', 'metadata.example'],
    ['fe80::1', 'example.com'],
    ['fd00::1', 'example.com'],
    ['::ffff:10.0.0.1', 'example.com'],
    ['::ffff:127.0.0.1', 'example.com'],
    ['0.0.0.0', 'example.com'],
    ['100.64.0.1', 'example.com'],
  ])('refuses %s', (address, host) => {
    expect(addressProblem(address, host, base)).toBeDefined();
  });

  it.each([['93.184.216.34'], ['2606:2800:220:1:248:1893:25c8:1946'], ['8.8.8.8']])('allows public %s', (address) => {
    expect(addressProblem(address, 'example.com', base)).toBeUndefined();
  });

  it('allows loopback only for loopback names in dev mode, and private networks only when allowed', () => {
    const dev = { ...base, allowHttpLoopback: true };
    expect(addressProblem('127.0.0.1', 'localhost', dev)).toBeUndefined();
    expect(addressProblem('127.0.0.1', 'evil.example', dev)).toBeDefined();
    expect(addressProblem('10.0.0.1', 'as.internal', { ...base, allowPrivateNetworks: true })).toBeUndefined();
    expect(addressProblem('169.254.169.254', 'as.internal', { ...base, allowPrivateNetworks: true })).toBeDefined();
    expect(addressProblem('127.0.0.1', 'as.internal', { ...base, allowPrivateNetworks: true })).toBeDefined();
  });
});

describe('guarded fetch', () => {
  let server: Listening;
  beforeAll(async () => {
    server = await listen(0, '127.0.0.1', 'localhost');
    server.handle((req, res) => {
      if (req.url === '/redirect') {
        res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data' });
        res.end();
      } else if (req.url === '/big') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '4096' });
        res.end('x'.repeat(4096));
      } else if (req.url === '/big-chunked') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('x'.repeat(800));
        res.end('x'.repeat(800));
      } else if (req.url === '/hang') {
        // never answers
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      }
    });
  });
  afterAll(() => server.close());

  it('refuses http and loopback unless in dev mode', async () => {
    await expect(createOutboundFetch(base)(`${server.origin}/`)).rejects.toThrow(/https only/);
    await expect(createOutboundFetch(base)('http://10.0.0.1/')).rejects.toThrow(/https only/);
    await expect(createOutboundFetch(base)('https://10.0.0.1/')).rejects.toThrow(/private address/);
    await expect(createOutboundFetch(base)('https://[::1]/')).rejects.toThrow(/loopback/);
    // A name that resolves to a loopback address is refused at connection time.
    await expect(createOutboundFetch(base)(`https://localhost:${server.port}/`)).rejects.toThrow();
    const dev = createOutboundFetch({ ...base, allowHttpLoopback: true });
    expect(await (await dev(`${server.origin}/`)).json()).toEqual({ ok: true });
  });

  it('never follows redirects, caps bodies, and times out', async () => {
    // A generous timeout where the server answers; a short one only where it never does.
    const dev = createOutboundFetch({ ...base, allowHttpLoopback: true, timeoutMs: 10_000 });
    const redirect = await dev(`${server.origin}/redirect`);
    expect(redirect.status).toBe(302);
    await expect(dev(`${server.origin}/big`)).rejects.toThrow(/larger than 1024 bytes/);
    await expect((await dev(`${server.origin}/big-chunked`)).text()).rejects.toThrow(/larger than 1024 bytes/);
    const impatient = createOutboundFetch({ ...base, allowHttpLoopback: true, timeoutMs: 300 });
    await expect(impatient(`${server.origin}/hang`)).rejects.toThrow();
  });
});
