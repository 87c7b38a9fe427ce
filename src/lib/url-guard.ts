import type { BlockList } from "node:net";
import { WorkerError } from "../errors.ts";
import { nodeNet } from "./lazy-modules.ts";
import { isAllowedHost, isPrivateAddress, type LookupFn, lookupAll } from "./net.ts";

/** The rules one job-supplied URL (input file, webhook, s3Config.endpointUrl) must pass before it is fetched. */
export interface UrlGuard {
  /** PRIVATE_HOSTS_ALLOWED: host names (with subdomains), addresses or CIDRs reachable although private. */
  privateAllowed: readonly string[];
  /** When set, only these hosts and their subdomains (DOWNLOAD_ALLOW_HOSTS for input files). */
  allowHosts?: readonly string[];
  /** Accepted schemes; default https only. A host named in `privateAllowed` may always use http. */
  protocols?: readonly string[];
  lookup?: LookupFn;
}

export interface GuardedFetchOptions extends UrlGuard {
  fetch?: typeof fetch;
  maxRedirects?: number;
}

const DEFAULT_MAX_REDIRECTS = 5;

/**
 * Refuses (E_INPUT) a URL a job must not make the worker reach: wrong scheme, a host outside `allowHosts`,
 * or a name that resolves to a private, loopback or link-local address not in `privateAllowed`.
 */
export async function checkJobUrl(raw: string, what: string, guard: UrlGuard): Promise<URL> {
  return (await _vet(raw, what, guard)).url;
}

// the URL and, for a name that was resolved, the checked address to connect to
async function _vet(raw: string, what: string, guard: UrlGuard): Promise<{ url: URL; address?: string }> {
  const url = _parse(raw, what);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const named = _namedAllowed(host, guard.privateAllowed);
  const protocols = guard.protocols ?? ["https:"];
  if (!protocols.includes(url.protocol) && !(named && url.protocol === "http:")) {
    throw new WorkerError("E_INPUT", `${what}: only ${_schemes(protocols)} URLs are accepted, got ${url.protocol}`);
  }
  if (guard.allowHosts && !isAllowedHost(host, guard.allowHosts)) {
    throw new WorkerError(
      "E_INPUT",
      `${what}: host ${host} is not in DOWNLOAD_ALLOW_HOSTS (${guard.allowHosts.join(", ") || "empty"}); send the file as base64 or add the host`,
    );
  }
  if (named) return { url };
  const addresses = nodeNet().isIP(host) ? [host] : await (guard.lookup ?? lookupAll)(host).catch(() => [] as string[]);
  if (addresses.length === 0) throw new WorkerError("E_INPUT", `${what}: cannot resolve ${host}`);
  const allowed = _allowedAddresses(guard.privateAllowed);
  const blocked = addresses.find((address) => isPrivateAddress(address) && !_inList(allowed, address));
  if (blocked) {
    const where =
      blocked === host ? `${host} is a private address` : `${host} resolves to the private address ${blocked}`;
    throw new WorkerError(
      "E_INPUT",
      `${what}: ${where} (loopback, private or link-local); refused. An operator can allow it with PRIVATE_HOSTS_ALLOWED`,
    );
  }
  return nodeNet().isIP(host) ? { url } : { url, address: addresses[0] as string };
}

/**
 * fetch() for a job-supplied URL: the URL and every redirect target are checked with `checkJobUrl` before
 * anything is sent to them, and the connection goes to the address that was checked (Host header and TLS
 * server name keep the original name), so a second DNS answer cannot swap in a private address.
 * Guard refusals are WorkerErrors; transport errors are thrown as fetch throws them.
 */
export async function guardedFetch(
  raw: string,
  init: RequestInit,
  what: string,
  options: GuardedFetchOptions,
): Promise<Response> {
  const doFetch = options.fetch ?? fetch;
  const max = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  let current = raw;
  let request = init;
  for (let hop = 0; hop <= max; hop++) {
    const { url, address } = await _vet(current, what, options);
    const res = await doFetch(..._pinned(url, address, { ...request, redirect: "manual" }));
    const location = res.headers.get("location");
    if (res.status < 300 || res.status >= 400 || !location) return res;
    await res.body?.cancel();
    current = new URL(location, current).toString();
    request = _redirected(request, res.status);
  }
  throw new WorkerError("E_INPUT", `${what}: more than ${max} redirects from ${raw}`);
}

function _pinned(url: URL, address: string | undefined, init: RequestInit): [string, RequestInit] {
  if (!address) return [url.toString(), init];
  const target = new URL(url);
  target.hostname = nodeNet().isIP(address) === 6 ? `[${address}]` : address;
  const headers = new Headers(init.headers);
  headers.set("host", url.host);
  const tls = url.protocol === "https:" ? { tls: { serverName: url.hostname } } : {};
  return [target.toString(), { ...init, headers, ...tls }];
}

// as the fetch standard does: 303, and 301/302 after a POST, continue as a GET without a body
function _redirected(init: RequestInit, status: number): RequestInit {
  const method = (init.method ?? "GET").toUpperCase();
  if (status === 303 || ((status === 301 || status === 302) && method === "POST")) {
    const { body: _body, ...rest } = init;
    return { ...rest, method: "GET" };
  }
  return init;
}

function _parse(raw: string, what: string): URL {
  try {
    return new URL(raw);
  } catch {
    throw new WorkerError("E_INPUT", `${what}: ${JSON.stringify(raw)} is not a URL`);
  }
}

function _schemes(protocols: readonly string[]): string {
  return protocols.map((protocol) => protocol.replace(/:$/, "")).join(" or ");
}

function _namedAllowed(host: string, entries: readonly string[]): boolean {
  const names = entries.filter((entry) => !nodeNet().isIP(entry) && !entry.includes("/"));
  if (nodeNet().isIP(host)) return _inList(_allowedAddresses(entries), host);
  return isAllowedHost(host, names);
}

function _allowedAddresses(entries: readonly string[]): BlockList {
  const list = new (nodeNet().BlockList)();
  for (const entry of entries) {
    const [address = "", bits] = entry.split("/");
    const type = nodeNet().isIP(address) === 6 ? "ipv6" : "ipv4";
    if (!nodeNet().isIP(address)) continue;
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(bits), type);
  }
  return list;
}

function _inList(list: BlockList, address: string): boolean {
  return list.check(address, nodeNet().isIP(address) === 6 ? "ipv6" : "ipv4");
}

/** The PRIVATE_HOSTS_ALLOWED entries that are neither a host name, an address nor a CIDR (for config errors). */
export function badPrivateHostEntries(entries: readonly string[]): string[] {
  return entries.filter((entry) => {
    if (!entry.includes("/")) return !nodeNet().isIP(entry) && !/^[a-z0-9.-]+$/i.test(entry);
    const [address = "", bits = ""] = entry.split("/");
    const max = nodeNet().isIP(address) === 6 ? 128 : 32;
    return !nodeNet().isIP(address) || !/^\d+$/.test(bits) || Number(bits) > max;
  });
}
