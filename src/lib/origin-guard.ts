/**
 * ComfyUI's origin-only middleware (server.py `create_origin_only_middleware`): a browser on another site can
 * POST to 127.0.0.1 freely, so a request whose Origin names another host:port than its Host is refused with
 * 403 when that Host is a loopback address. Requests without Host or Origin pass, as in ComfyUI.
 */

import { nodeNet } from "./lazy-modules.ts";
import { lookupAll } from "./net.ts";

const LOOPBACK_CACHE_MAX = 256;
const loopbackCache = new Map<string, boolean>();

/** True when ComfyUI would refuse this request with 403 (mismatched Origin on a loopback Host). */
export async function originRefused(headers: Headers): Promise<boolean> {
  const host = headers.get("host");
  const origin = headers.get("origin");
  if (host === null || origin === null) return false;
  const hostPart = _split(host.toLowerCase());
  const originPart = _originNetloc(origin);
  // only when the Host names this machine: the check exists against drive-by requests to 127.0.0.1
  if (!(await isLoopbackHost(hostPart.hostname))) return false;
  // a side without an explicit port is compared without the other side's port ("weird browsers")
  const hostDomain = originPart.port === undefined ? hostPart.hostname : hostPart.netloc;
  const originDomain = hostPart.port === undefined ? originPart.hostname : originPart.netloc;
  if (!hostDomain || !originDomain) return false;
  return hostDomain !== originDomain;
}

/** Whether `hostname` is loopback: an IP literal in 127/8 or ::1, or a name that resolves only to those. */
export async function isLoopbackHost(hostname: string): Promise<boolean> {
  if (!hostname) return false;
  if (nodeNet().isIP(hostname)) return _loopbackAddress(hostname);
  const cached = loopbackCache.get(hostname);
  if (cached !== undefined) return cached;
  const addresses = await lookupAll(hostname).catch(() => [] as string[]);
  const loopback = addresses.length > 0 && addresses.every(_loopbackAddress);
  if (loopbackCache.size >= LOOPBACK_CACHE_MAX) loopbackCache.clear();
  loopbackCache.set(hostname, loopback);
  return loopback;
}

function _loopbackAddress(address: string): boolean {
  const lower = address.toLowerCase();
  return lower.startsWith("127.") || lower === "::1" || /^::ffff:127\./.test(lower);
}

interface NetlocParts {
  netloc: string;
  hostname: string;
  port: string | undefined;
}

// urllib's urlsplit("//" + host): hostname without brackets, port only when written
function _split(netloc: string): NetlocParts {
  const bracketed = /^\[([^\]]*)\](?::(\d*))?$/.exec(netloc);
  if (bracketed) return { netloc, hostname: bracketed[1] ?? "", port: bracketed[2] || undefined };
  const colon = netloc.lastIndexOf(":");
  if (colon < 0) return { netloc, hostname: netloc, port: undefined };
  return { netloc, hostname: netloc.slice(0, colon), port: netloc.slice(colon + 1) || undefined };
}

// urlparse(origin).netloc: "" for "null" and anything without a scheme://
function _originNetloc(origin: string): NetlocParts {
  const match = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(origin.trim());
  const netloc = (match?.[1] ?? "").replace(/^.*@/, "").toLowerCase();
  return _split(netloc);
}
