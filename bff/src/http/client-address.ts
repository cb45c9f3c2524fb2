import { BlockList, isIP } from 'node:net';
import type { Context } from 'hono';
import type { Logger } from '../log.js';
import { requestHeader } from './node.js';

/** What requests are counted under when the runtime gives no socket (Hono's `app.request()` in tests). */
export const UNKNOWN_CLIENT = 'unknown';

/** Gives the address a request came from, as the key its limits are counted under. */
export type ClientAddress = (c: Context) => string;

/**
 * The client address of a request: the socket's peer, unless that peer is one of `trustedProxies`
 * (IPs or CIDR ranges, as config.ts checked them). Then X-Forwarded-For is read from the right, hop by
 * hop, for as long as each hop is a trusted proxy too; the first untrusted one is the client. The
 * leftmost entries are whatever the client wrote, so they are never taken on trust. Without trusted
 * proxies (the default) X-Forwarded-For is not read at all.
 *
 * The key is the IPv4 address, or the /64 an IPv6 address belongs to: one host usually has a whole /64
 * and can pick a fresh address in it for every request.
 *
 * @param log told once, when X-Forwarded-For arrives and no proxy is trusted: behind a reverse proxy
 *   that nobody named in TRUSTED_PROXIES, every client counts as the proxy and shares its limits.
 */
export function clientAddressResolver(trustedProxies: readonly string[], log?: Logger): ClientAddress {
  const trusted = trustedProxyList(trustedProxies);
  let hinted = false;
  return function clientAddress(c: Context): string {
    const peer = socketAddress(c);
    if (peer === undefined) return UNKNOWN_CLIENT;
    let address = peer;
    if (!trusted && !hinted && requestHeader(c, 'x-forwarded-for') !== undefined) {
      hinted = true;
      log?.warn({ event: 'forwarded_for_ignored', message: 'X-Forwarded-For is ignored: set TRUSTED_PROXIES to the reverse proxy addresses' });
    }
    if (trusted && isTrusted(trusted, address)) {
      const hops = (requestHeader(c, 'x-forwarded-for') ?? '').split(',');
      for (let i = hops.length - 1; i >= 0 && isTrusted(trusted, address); i--) {
        const hop = normalise((hops[i] as string).trim());
        // A malformed entry ends the walk: the last address known to be real is used.
        if (hop === undefined) break;
        address = hop;
      }
    }
    return limitKey(address);
  };
}

/** TRUSTED_PROXIES as a BlockList (addresses and CIDR ranges, IPv4 and IPv6); undefined when empty. */
export function trustedProxyList(entries: readonly string[]): BlockList | undefined {
  if (entries.length === 0) return undefined;
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', prefix] = entry.split('/');
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return list;
}

function isTrusted(list: BlockList, address: string): boolean {
  return list.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
}

function socketAddress(c: Context): string | undefined {
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  const address = incoming?.socket?.remoteAddress;
  return address === undefined ? undefined : normalise(address);
}

/** An IP address as one spelling: IPv4-mapped IPv6 as IPv4, no zone, no brackets; undefined if it is none. */
function normalise(raw: string): string | undefined {
  let address = raw.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) address = mapped[1] as string;
  return isIP(address) === 0 ? undefined : address.toLowerCase();
}

/** IPv4 as it is; IPv6 reduced to its /64 prefix. */
function limitKey(address: string): string {
  if (isIP(address) !== 6) return address;
  return `${expandIpv6(address).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address (a trailing dotted IPv4 part counts as two). */
function expandIpv6(address: string): string[] {
  const [head = '', tail] = address.split('::');
  const groups = (part: string) =>
    part === ''
      ? []
      : part.split(':').flatMap((g) => {
          if (!g.includes('.')) return [g];
          const [a = 0, b = 0, c = 0, d = 0] = g.split('.').map(Number);
          return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
        });
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const middle = Array.from({ length: 8 - left.length - right.length }, () => '0');
  return [...left, ...middle, ...right].map((g) => g.replace(/^0+(?=.)/, ''));
}
