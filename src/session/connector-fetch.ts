// A repository's HTTP connectors are opened by the server itself, not from the sandbox, so a
// `.mcp.json` could point them at the server's own network: loopback, the cloud metadata address,
// internal hosts. Their requests go through a fetch that connects only to hosts the routine's
// network policy allows, and never to a loopback, private, link-local or otherwise non-public
// address. The check is made on every connection, on the address actually connected to, so
// neither a redirect nor a DNS answer that changes between looking and connecting gets past it.
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOneOptions } from "node:dns";
import { BlockList, isIP } from "node:net";
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js";
import { Agent, buildConnector, fetch } from "undici";
import { hostAllowed } from "./sandbox.js";

/** Addresses that are not on the public internet (RFC 6890 and its successors). */
const NOT_PUBLIC = new BlockList();
for (const [network, prefix] of [
  ["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16], ["172.16.0.0", 12], ["192.0.0.0", 24],
  ["192.0.2.0", 24], ["192.168.0.0", 16], ["198.18.0.0", 15], ["198.51.100.0", 24], ["203.0.113.0", 24], ["224.0.0.0", 4], ["240.0.0.0", 4],
] as const) NOT_PUBLIC.addSubnet(network, prefix, "ipv4");
for (const [network, prefix] of [["::", 127], ["64:ff9b::", 96], ["64:ff9b:1::", 48], ["100::", 64], ["2001:db8::", 32], ["fc00::", 7], ["fe80::", 10], ["ff00::", 8]] as const) {
  NOT_PUBLIC.addSubnet(network, prefix, "ipv6");
}

/** Whether an IP address is public. IPv4 addresses written as IPv6 (::ffff:a.b.c.d) count as the IPv4 one. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped) return !NOT_PUBLIC.check(mapped, "ipv4");
  return !NOT_PUBLIC.check(address, family === 4 ? "ipv4" : "ipv6");
}

export class ConnectorAddressError extends Error {
  override name = "ConnectorAddressError";
}

/** The hosts a network policy allows: undefined for any public host, else the patterns (`*.example.com` for subdomains). */
export type HostPolicy = readonly string[] | undefined;


/** What to tell the user when a connection was refused: the refusal itself, not "fetch failed". */
export function refusalIn(error: unknown): string | undefined {
  for (let cause = error; cause instanceof Error; cause = cause.cause) if (cause instanceof ConnectorAddressError) return cause.message;
  return undefined;
}

/** Why the connector may not connect to `host`, or undefined when it may (addresses are checked when connecting). */
export function hostRefusal(host: string, allowed: HostPolicy): string | undefined {
  const name = host.toLowerCase().replace(/^\[|\]$/g, "");
  if (isIP(name) !== 0 && !isPublicAddress(name)) return `${name} is not a public address`;
  if (allowed !== undefined && !hostAllowed(name, allowed)) return allowed?.length === 0 ? `the network policy allows no hosts (${name})` : `the network policy does not allow ${name}`;
  return undefined;
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** dns.lookup that answers only public addresses, and fails naming the host otherwise. */
function publicLookup(hostname: string, options: LookupOneOptions | LookupAllOptions, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, "");
    const refused = addresses.find((entry) => !isPublicAddress(entry.address));
    if (refused) return callback(new ConnectorAddressError(`${hostname} resolves to ${refused.address}, which is not a public address`), "");
    if (options.all) return callback(null, addresses);
    const [first] = addresses;
    if (!first) return callback(new ConnectorAddressError(`${hostname} has no address`), "");
    callback(null, first.address, first.family);
  });
}

/** A fetch for a repository's HTTP connector under the routine's network policy. */
export function connectorFetch(allowed: HostPolicy): FetchLike {
  const connect = buildConnector({ lookup: publicLookup });
  const dispatcher = new Agent({
    connect: (options, callback) => {
      const refusal = hostRefusal(options.hostname, allowed);
      if (refusal) return callback(new ConnectorAddressError(refusal), null);
      connect(options, callback);
    },
  });
  // undici's fetch is the one Node's global fetch is built on; only its types differ from the DOM's.
  return (input, init) => fetch(input, { ...(init as Parameters<typeof fetch>[1]), dispatcher }) as unknown as Promise<Response>;
}
