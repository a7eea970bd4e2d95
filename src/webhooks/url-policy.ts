// Which callback URLs the webhook server will call. A callback URL is chosen by whoever
// submits the task, so it must not be a way to make the server reach what only it can reach
// (SSRF): cloud metadata, link-local, "this host" addresses are always refused; loopback and
// private ranges are refused too when blockPrivate is set, except for allowlisted hosts (the
// cluster-internal webhook client). The same check runs on the resolved addresses when sending
// (guardedLookup), so a name that resolved to a public address at submission and to a private
// one later (DNS rebinding) is still refused.
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { BlockList, isIP } from "node:net";

export const MAX_CALLBACK_URL_LENGTH = 2048;

export interface CallbackPolicy {
  blockPrivate: boolean;
  /** Lower-case host names that stay allowed when blockPrivate is set. */
  allowedHosts: readonly string[];
}

function blockList(ranges: [string, number, "ipv4" | "ipv6"][]): BlockList {
  const list = new BlockList();
  for (const [net, prefix, family] of ranges) list.addSubnet(net, prefix, family);
  return list;
}

const ALWAYS_REFUSED = blockList([
  ["0.0.0.0", 8, "ipv4"], // "this network", incl. the unspecified 0.0.0.0
  ["169.254.0.0", 16, "ipv4"], // link-local, incl. 169.254.169.254 (AWS, GCP, Azure metadata)
  ["100.100.100.200", 32, "ipv4"], // Alibaba Cloud metadata
  ["224.0.0.0", 4, "ipv4"], // multicast
  ["240.0.0.0", 4, "ipv4"], // reserved, incl. broadcast
  ["::", 128, "ipv6"], // unspecified
  ["fe80::", 10, "ipv6"], // link-local
  ["fd00:ec2::254", 128, "ipv6"], // AWS metadata over IPv6
  ["ff00::", 8, "ipv6"], // multicast
]);

const PRIVATE = blockList([
  ["127.0.0.0", 8, "ipv4"],
  ["10.0.0.0", 8, "ipv4"],
  ["172.16.0.0", 12, "ipv4"],
  ["192.168.0.0", 16, "ipv4"],
  ["100.64.0.0", 10, "ipv4"], // carrier-grade NAT, used by some cluster networks
  ["::1", 128, "ipv6"],
  ["fc00::", 7, "ipv6"], // unique local
]);

/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is judged as the IPv4 address it is. */
function normalise(address: string): { address: string; family: "ipv4" | "ipv6" } | undefined {
  const bare = address.replace(/^\[|\]$/g, "");
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped?.[1]) return { address: mapped[1], family: "ipv4" };
  const version = isIP(bare);
  if (version === 4) return { address: bare, family: "ipv4" };
  if (version === 6) return { address: bare, family: "ipv6" };
  return undefined;
}

/** Why this address may not be called for `host`, or undefined when it may. */
export function addressRefusal(
  address: string,
  host: string,
  policy: CallbackPolicy,
): string | undefined {
  const ip = normalise(address);
  if (!ip) return `${address} is not an IP address`;
  if (ALWAYS_REFUSED.check(ip.address, ip.family)) {
    return `${address} is a link-local, metadata or unspecified address`;
  }
  if (
    policy.blockPrivate &&
    PRIVATE.check(ip.address, ip.family) &&
    !policy.allowedHosts.includes(host.toLowerCase())
  ) {
    return `${address} is a loopback or private address`;
  }
  return undefined;
}

function resolveAll(host: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => {
    dnsLookup(host, { all: true, verbatim: true }, (err, addresses) =>
      err ? reject(err) : resolve(addresses),
    );
  });
}

/**
 * Why the server refuses to call `raw`, or undefined when it accepts it. Checks the form, then
 * every address the host resolves to now.
 */
export async function callbackUrlRefusal(
  raw: string,
  policy: CallbackPolicy,
): Promise<string | undefined> {
  if (raw.length > MAX_CALLBACK_URL_LENGTH) {
    return `must be at most ${MAX_CALLBACK_URL_LENGTH} characters`;
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "must be an absolute http(s) URL";
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return "must use http or https";
  // Credentials in the URL would end up in logs and delivery records.
  if (url.username || url.password) return "must not carry credentials";
  if (url.hash) return "must not have a fragment";
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (!host) return "must name a host";
  if (isIP(host)) return addressRefusal(host, host, policy);
  let addresses: LookupAddress[];
  try {
    addresses = await resolveAll(host);
  } catch {
    return `host ${host} does not resolve`;
  }
  for (const { address } of addresses) {
    const refusal = addressRefusal(address, host, policy);
    if (refusal) return `host ${host} resolves to ${refusal}`;
  }
  return undefined;
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

export class RefusedAddressError extends Error {
  readonly code = "ERR_CALLBACK_ADDRESS_REFUSED";
}

/**
 * A dns.lookup for the HTTP client's connections: resolves, then refuses the connection if any
 * address is not allowed. Used at send time, so the address really connected to is checked.
 */
export function guardedLookup(policy: CallbackPolicy) {
  return (hostname: string, options: { all?: boolean }, callback: LookupCallback): void => {
    dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => {
      if (err) return callback(err, []);
      for (const { address } of addresses) {
        const refusal = addressRefusal(address, hostname, policy);
        if (refusal) return callback(new RefusedAddressError(refusal), []);
      }
      const first = addresses[0];
      if (!first) return callback(new RefusedAddressError(`${hostname}: no address`), []);
      if (options.all) return callback(null, addresses);
      callback(null, first.address, first.family);
    });
  };
}
