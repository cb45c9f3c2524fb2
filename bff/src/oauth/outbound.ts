import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { Agent, fetch as undiciFetch } from 'undici';
import { isLoopbackHost } from '../config.js';
import { OAuthFailure } from './errors.js';

/**
 * The one way the BFF, as an OAuth client, reaches URLs it read from metadata or challenges (resource
 * metadata, AS metadata, registration, token, revocation): https only (loopback http only in the
 * explicit dev mode); no loopback, private, link-local or otherwise special addresses unless allowed;
 * DNS resolved once per connection and the connection made to exactly the address that was checked;
 * redirects never followed; response bodies capped; every request timed out.
 */
export interface OutboundGuardOptions {
  /** Allow http:// and loopback addresses for loopback host names (the demo and tests). */
  allowHttpLoopback: boolean;
  /** Allow private and loopback addresses (an AS inside the deployment's own network). */
  allowPrivateNetworks: boolean;
  timeoutMs: number;
  maxResponseBytes: number;
}

const special = new BlockList();
// IPv4 ranges that are not the public internet (RFC 6890 and friends).
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['100.64.0.0', 10],
  ['169.254.0.0', 16],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  special.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  special.addSubnet(net, prefix, 'ipv6');

const privateNets = new BlockList();
for (const [net, prefix] of [
  ['10.0.0.0', 8],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
] as const)
  privateNets.addSubnet(net, prefix, 'ipv4');
privateNets.addSubnet('fc00::', 7, 'ipv6');

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/** Why an address may not be contacted, or undefined when it may. */
export function addressProblem(address: string, hostname: string, o: OutboundGuardOptions): string | undefined {
  let ip = address;
  let family: 'ipv4' | 'ipv6' = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
  // IPv4-mapped IPv6 (::ffff:10.0.0.1) is checked as the IPv4 address it is.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) {
    ip = mapped[1] as string;
    family = 'ipv4';
  }
  if (loopback.check(ip, family)) {
    return o.allowHttpLoopback && isLoopbackHost(hostname) ? undefined : 'a loopback address';
  }
  if (special.check(ip, family)) return 'a reserved or link-local address';
  if (privateNets.check(ip, family)) return o.allowPrivateNetworks ? undefined : 'a private address';
  return undefined;
}

export function createOutboundFetch(o: OutboundGuardOptions): typeof fetch {
  const agent = new Agent({
    connect: {
      timeout: o.timeoutMs,
      // Called for every new connection: the address checked is the address connected to.
      lookup(hostname, options, callback) {
        dnsLookup(hostname, { all: true, family: options.family as number | undefined }, (error, addresses) => {
          if (error) return callback(error, '', 0);
          const list = addresses as LookupAddress[];
          const bad = list.map((a) => addressProblem(a.address, hostname, o)).find(Boolean);
          if (bad || list.length === 0) {
            return callback(Object.assign(new Error(`refusing to connect to ${hostname}: ${bad ?? 'no address'}`), { code: 'EBLOCKED' }), '', 0);
          }
          const first = list[0] as LookupAddress;
          if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, [first]);
          return callback(null, first.address, first.family);
        });
      },
    },
    headersTimeout: o.timeoutMs,
    bodyTimeout: o.timeoutMs,
  });

  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && o.allowHttpLoopback && isLoopbackHost(url.hostname))) {
      throw new OAuthFailure('discovery_failed', `refusing ${url.protocol} URL ${url.origin}: https only`);
    }
    // An IP literal is never looked up, so it is checked here.
    const literal = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(literal)) {
      const bad = addressProblem(literal, url.hostname, o);
      if (bad) throw new OAuthFailure('discovery_failed', `refusing to connect to ${url.hostname}: ${bad}`);
    }
    const signal = init?.signal ? AbortSignal.any([init.signal, AbortSignal.timeout(o.timeoutMs)]) : AbortSignal.timeout(o.timeoutMs);
    const response = (await undiciFetch(url, {
      ...(init as object),
      redirect: 'manual',
      signal,
      dispatcher: agent,
    } as Parameters<typeof undiciFetch>[1])) as unknown as Response;
    return capBody(response, o.maxResponseBytes);
  }) as typeof fetch;
}

/** A response whose body errors once it grows past `max` bytes, so nothing buffers an endless body. */
function capBody(response: Response, max: number): Response {
  const declared = Number(response.headers.get('content-length') ?? 'NaN');
  if (Number.isFinite(declared) && declared > max) {
    void response.body?.cancel();
    throw new OAuthFailure('invalid_response', `response from ${new URL(response.url).origin} is larger than ${max} bytes`);
  }
  if (!response.body) return response;
  let seen = 0;
  const limited = response.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength;
        if (seen > max) controller.error(new OAuthFailure('invalid_response', `response larger than ${max} bytes`));
        else controller.enqueue(chunk);
      },
    }),
  );
  const out = new Response(limited, { status: response.status, statusText: response.statusText, headers: response.headers });
  Object.defineProperty(out, 'url', { value: response.url });
  return out;
}
