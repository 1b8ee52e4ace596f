/**
 * The egress rule: the one decision every network connection cloudless opens
 * goes through (webhooks, MQTT sinks and sources, and anything later: fleet,
 * dashboard uplinks). It is decided per connection, not per config:
 *
 *   1. The URL's host must be an entry of the allow-list (checked at load by
 *      checkAllowed, and again here).
 *   2. The host is resolved once, here. Every address it resolves to is
 *      checked; the connection is then made to that checked address (the
 *      caller passes `target.address` as the socket's host and the name only as
 *      the TLS server name and the HTTP Host header), so there is no second
 *      lookup an attacker could answer differently.
 *   3. An address is allowed when it is itself on the list (an IP literal or a
 *      CIDR range such as 192.168.1.0/24), or when it is a public unicast
 *      address reached through a listed name. A listed name that resolves to a
 *      loopback, private, link-local, unique-local, CGNAT, multicast or
 *      unspecified address is refused unless that address (or its range) is
 *      listed too: a hostile DNS answer or hosts entry cannot turn an allowed
 *      name into a way into the local network.
 *   4. Nothing follows redirects: an HTTP 3xx is a failed delivery naming where
 *      it pointed, so a receiver cannot forward the event to another host.
 *
 * The address actually contacted is returned so the ledger and `audit` can
 * record it beside the configured destination.
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { CloudlessError } from '../ir/index.js';
import { hostOf, safeText } from './privacy.js';

/** Resolves a host name to all of its addresses (default: the system resolver, dns.lookup with all: true). */
export type Resolver = (host: string) => Promise<{ address: string; family: number }[]>;

export interface EgressTarget {
  /** The host as written in the URL (lower case, no brackets). */
  host: string;
  /** The checked address to connect to. */
  address: string;
  family: 4 | 6;
  port: number;
}

const systemResolver: Resolver = (host) => lookup(host, { all: true, verbatim: true });

/** Address ranges a name must not lead into unless the allow-list names the address or its range. */
const NON_PUBLIC = (() => {
  const b = new BlockList();
  for (const [net, bits] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16],
    ['172.16.0.0', 12], ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4]] as const) {
    b.addSubnet(net, bits, 'ipv4');
  }
  for (const [net, bits] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['64:ff9b::', 96]] as const) {
    b.addSubnet(net, bits, 'ipv6');
  }
  return b;
})();

const familyOf = (address: string): 'ipv4' | 'ipv6' => (isIP(address) === 6 ? 'ipv6' : 'ipv4');

/** Strips the IPv4-mapped IPv6 prefix so ::ffff:127.0.0.1 is judged as 127.0.0.1. */
function unmapped(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1]! : address;
}

/** True for addresses a listed name may lead to without the address being listed itself. */
export function isPublicAddress(address: string): boolean {
  const a = unmapped(address);
  if (!isIP(a)) return false;
  return !NON_PUBLIC.check(a, familyOf(a));
}

export class EgressPolicy {
  private readonly names = new Set<string>();
  private readonly addresses = new BlockList();
  readonly allow: readonly string[];

  /**
   * `allow` holds host names, IP addresses and CIDR ranges ("10.0.0.0/8",
   * "fd00::/8"). A range allows addresses a listed name resolves to; it does
   * not by itself allow a URL (a URL's host must be an entry).
   */
  constructor(allow: readonly string[], private readonly resolver: Resolver = systemResolver) {
    this.allow = allow;
    for (const raw of allow) {
      const entry = raw.trim().toLowerCase().replace(/^\[|\]$/g, '');
      const cidr = /^(.+)\/(\d{1,3})$/.exec(entry);
      if (cidr && isIP(cidr[1]!)) {
        const bits = Number(cidr[2]);
        const fam = familyOf(cidr[1]!);
        if (bits > (fam === 'ipv4' ? 32 : 128)) throw new CloudlessError('E_CONFIG', `allow: "${safeText(raw)}" has a prefix longer than the address`);
        this.addresses.addSubnet(cidr[1]!, bits, fam);
      } else if (isIP(entry)) {
        this.addresses.addAddress(unmapped(entry), familyOf(unmapped(entry)));
        this.names.add(entry);
      } else {
        this.names.add(entry);
      }
    }
  }

  /** True when an address may be contacted: listed itself, or public and reached through a listed name. */
  addressAllowed(address: string, viaName: boolean): boolean {
    const a = unmapped(address);
    if (this.addresses.check(a, familyOf(a))) return true;
    return viaName && isPublicAddress(a);
  }

  /**
   * Decides one connection to `url`: checks its host against the list,
   * resolves it once and checks the answers; returns the address to connect
   * to, or throws E_EGRESS naming the host, the address and the rule.
   */
  async resolve(url: string | URL): Promise<EgressTarget> {
    const u = typeof url === 'string' ? new URL(url) : url;
    const host = hostOf(u.href);
    const port = Number(u.port) || defaultPort(u.protocol);
    if (!this.names.has(host)) {
      throw new CloudlessError('E_EGRESS', `egress refused: host "${host}" is not on the allow-list (${this.allow.join(', ') || 'empty'})`, {
        hint: `add "${host}" under allow: if it may receive the pipeline's events`,
      });
    }
    if (isIP(host)) {
      return { host, address: host, family: isIP(host) === 6 ? 6 : 4, port };
    }
    let answers: { address: string; family: number }[];
    try {
      answers = await this.resolver(host);
    } catch (err) {
      throw new CloudlessError('E_EGRESS', `egress refused: cannot resolve "${host}": ${safeText(err)}`);
    }
    if (answers.length === 0) throw new CloudlessError('E_EGRESS', `egress refused: "${host}" resolves to no address`);
    // Every answer must pass: a name that resolves to one public and one loopback address is refused as a whole.
    const bad = answers.filter((a) => !this.addressAllowed(a.address, true));
    if (bad.length) {
      throw new CloudlessError('E_EGRESS', `egress refused: "${host}" resolves to ${bad.map((a) => a.address).join(', ')}, which is not on the allow-list`, {
        hint: `a listed name may lead only to public addresses; to reach a local one, list the address or its range too (e.g. allow: [${host}, ${bad[0]!.address}])`,
      });
    }
    const first = answers[0]!;
    return { host, address: first.address, family: first.family === 6 ? 6 : 4, port };
  }
}

function defaultPort(protocol: string): number {
  switch (protocol) {
    case 'http:': case 'ws:': return 80;
    case 'https:': case 'wss:': return 443;
    case 'mqtt:': case 'tcp:': return 1883;
    case 'mqtts:': case 'ssl:': case 'tls:': return 8883;
    default: return 0;
  }
}

/** How the ledger and `audit` name a contacted address: "1.2.3.4:443" or "[::1]:80". */
export function formatAddress(t: { address: string; port: number }): string {
  return isIP(t.address) === 6 ? `[${t.address}]:${t.port}` : `${t.address}:${t.port}`;
}
