import { lookup as dnsLookup } from "node:dns/promises";
import { isIP } from "node:net";

export type LookupFn = (host: string) => Promise<string[]>;

/** Resolves a host name to every address it has (A and AAAA). */
export const lookupAll: LookupFn = async (host) => (await dnsLookup(host, { all: true })).map((entry) => entry.address);

// ranges no job input may make the worker fetch from: loopback, private, link-local, CGNAT, multicast, reserved
const PRIVATE_V4: Array<[number, number]> = [
  [0x00000000, 8],
  [0x0a000000, 8],
  [0x64400000, 10],
  [0x7f000000, 8],
  [0xa9fe0000, 16],
  [0xac100000, 12],
  [0xc0000000, 24],
  [0xc0a80000, 16],
  [0xc6120000, 15],
  [0xe0000000, 3],
];

/** True for addresses a job input must never reach (loopback, private, link-local, metadata, multicast). */
export function isPrivateAddress(address: string): boolean {
  const version = isIP(address);
  if (version === 4) return _privateV4(address);
  if (version !== 6) return true;
  const lower = address.toLowerCase();
  const mapped = lower.match(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/);
  if (mapped) return _privateV4(mapped[1] as string);
  if (lower === "::" || lower === "::1") return true;
  // fc00::/7 unique-local, fe80::/10 link-local, ff00::/8 multicast
  return /^(f[cd]|fe[89ab]|ff)/.test(lower);
}

function _privateV4(address: string): boolean {
  const value = address.split(".").reduce((acc, part) => acc * 256 + Number(part), 0);
  return PRIVATE_V4.some(
    ([base, bits]) => Math.floor(value / 2 ** (32 - bits)) === Math.floor(base / 2 ** (32 - bits)),
  );
}

/** True when `host` is one of `allowed` or a subdomain of one (`cdn.huggingface.co` ⊂ `huggingface.co`). */
export function isAllowedHost(host: string, allowed: readonly string[]): boolean {
  const name = host.toLowerCase().replace(/\.$/, "");
  return allowed.some((entry) => {
    const rule = entry.toLowerCase();
    return name === rule || name.endsWith(`.${rule}`);
  });
}
