import type { BlockList } from "node:net";
import { nodeDns, nodeNet } from "./lazy-modules.ts";

export type LookupFn = (host: string) => Promise<string[]>;

/** Resolves a host name to every address it has (A and AAAA). */
export const lookupAll: LookupFn = async (host) =>
  (await nodeDns().lookup(host, { all: true })).map((entry) => entry.address);

// ranges no job input may make the worker reach: loopback, private, link-local, CGNAT, multicast, reserved;
// BlockList also matches IPv4-mapped IPv6 (::ffff:7f00:1) against the IPv4 rules
const PRIVATE_V4: Array<[string, number]> = [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 3],
];
// ::/96 (unspecified, loopback, IPv4-compatible), discard, documentation, unique-local, link-local, multicast
const PRIVATE_V6: Array<[string, number]> = [
  ["::", 96],
  ["100::", 64],
  ["2001:db8::", 32],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
];
let privateRanges: BlockList | undefined;

/** True for addresses a job input must never reach (loopback, private, link-local, metadata, multicast). */
export function isPrivateAddress(address: string): boolean {
  const version = nodeNet().isIP(address);
  if (version === 0) return true;
  if (_ranges().check(address, version === 4 ? "ipv4" : "ipv6")) return true;
  // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 address that must pass the same rules
  const embedded = version === 6 ? _embeddedV4(address) : undefined;
  return embedded !== undefined && _ranges().check(embedded, "ipv4");
}

function _ranges(): BlockList {
  if (privateRanges) return privateRanges;
  const list = new (nodeNet().BlockList)();
  for (const [base, bits] of PRIVATE_V4) list.addSubnet(base, bits, "ipv4");
  for (const [base, bits] of PRIVATE_V6) list.addSubnet(base, bits, "ipv6");
  privateRanges = list;
  return list;
}

function _embeddedV4(address: string): string | undefined {
  const groups = _expandV6(address);
  if (!groups) return undefined;
  const v4 = (high: number, low: number) => [high >> 8, high & 255, low >> 8, low & 255].join(".");
  const nat64 = groups[0] === 0x64 && groups[1] === 0xff9b && groups.slice(2, 6).every((group) => group === 0);
  if (nat64) return v4(groups[6] as number, groups[7] as number);
  if (groups[0] === 0x2002) return v4(groups[1] as number, groups[2] as number);
  return undefined;
}

// eight 16-bit groups of an IPv6 address (a trailing dotted quad becomes two groups)
function _expandV6(address: string): number[] | undefined {
  let text = address.toLowerCase().split("%")[0] as string;
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const fill = tail === undefined ? 0 : 8 - left.length - right.length;
  if (fill < 0) return undefined;
  const groups = [...left, ...Array<string>(fill).fill("0"), ...right].map((group) => Number.parseInt(group, 16));
  return groups.length === 8 && groups.every((group) => group >= 0 && group <= 0xffff) ? groups : undefined;
}

/** True when `host` is one of `allowed` or a subdomain of one (`cdn.huggingface.co` ⊂ `huggingface.co`). */
export function isAllowedHost(host: string, allowed: readonly string[]): boolean {
  const name = host.toLowerCase().replace(/\.$/, "");
  return allowed.some((entry) => {
    const rule = entry.toLowerCase();
    return name === rule || name.endsWith(`.${rule}`);
  });
}
