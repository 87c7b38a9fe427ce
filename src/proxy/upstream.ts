/**
 * Talking to the local ComfyUI behind the proxy: requests are passed on unchanged — method, path, query, every
 * end-to-end header including Host and Origin (so ComfyUI's own origin check judges the browser's request as if
 * it had come straight to it), streamed bodies both ways, compressed bodies left compressed.
 */

// hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection, never forwarded
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
  "proxy-authenticate",
  "proxy-authorization",
]);
const READ_TIMEOUT_MS = 30_000;
/** Marks the proxy's own 502 for a ComfyUI it could not reach (ComfyUI itself never answers 502). */
export const UNREACHABLE_HEADER = "comfy-worker-upstream-unreachable";

/** The local ComfyUI: where it is and how to reach it. */
export interface Upstream {
  readonly url: string;
  /** Passes a browser request on (optionally with a body already read) and returns ComfyUI's answer as is. */
  forward(req: Request, body?: string | null): Promise<Response>;
  /** GET JSON from ComfyUI on behalf of a browser request (its headers go along), or undefined when not 200. */
  json(req: Request, pathAndQuery: string): Promise<unknown>;
  /** An input/output file through ComfyUI's /view, for the endpoint. */
  readFile(file: { filename: string; subfolder: string; type: string }): Promise<Uint8Array | undefined>;
  objectInfo(): Promise<unknown>;
}

/** An Upstream for the ComfyUI at `url`. */
export function createUpstream(url: string, fetchImpl: typeof fetch = fetch): Upstream {
  const base = url.replace(/\/+$/, "");
  const forward = async (req: Request, body?: string | null) => {
    const incoming = new URL(req.url);
    const hasBody = req.method !== "GET" && req.method !== "HEAD";
    const headers = forwardHeaders(req.headers);
    // a body read (and maybe rewritten) here gets its own length
    if (body !== undefined) headers.delete("content-length");
    const init = {
      method: req.method,
      headers,
      body: body !== undefined ? body : hasBody ? req.body : null,
      redirect: "manual",
      decompress: false,
      duplex: "half",
    } as RequestInit;
    try {
      const res = await fetchImpl(`${base}${incoming.pathname}${incoming.search}`, init);
      return new Response(res.body, { status: res.status, statusText: res.statusText, headers: _strip(res.headers) });
    } catch (error) {
      const text = `comfy-worker proxy: ComfyUI at ${base} is not reachable (${error instanceof Error ? error.message : String(error)}); is it running?`;
      return new Response(text, {
        status: 502,
        headers: { "content-type": "text/plain; charset=utf-8", [UNREACHABLE_HEADER]: "1" },
      });
    }
  };
  return {
    url: base,
    forward,
    async json(req, pathAndQuery) {
      const res = await fetchImpl(`${base}${pathAndQuery}`, {
        headers: forwardHeaders(req.headers),
        signal: AbortSignal.timeout(READ_TIMEOUT_MS),
      }).catch(() => undefined);
      if (!res?.ok) return undefined;
      return res.json().catch(() => undefined);
    },
    async readFile(file) {
      const query = new URLSearchParams({ filename: file.filename, subfolder: file.subfolder, type: file.type });
      const res = await fetchImpl(`${base}/view?${query}`, { signal: AbortSignal.timeout(READ_TIMEOUT_MS) }).catch(
        () => undefined,
      );
      if (!res?.ok) return undefined;
      return new Uint8Array(await res.arrayBuffer());
    },
    async objectInfo() {
      const res = await fetchImpl(`${base}/object_info`, { signal: AbortSignal.timeout(READ_TIMEOUT_MS * 4) });
      if (!res.ok) throw new Error(`ComfyUI at ${base} answered /object_info with HTTP ${res.status}`);
      return res.json();
    },
  };
}

/** The request headers a forwarded request keeps: all but hop-by-hop ones. */
export function forwardHeaders(headers: Headers): Headers {
  return _strip(headers);
}

function _strip(headers: Headers): Headers {
  const out = new Headers();
  const listed = (headers.get("connection") ?? "")
    .toLowerCase()
    .split(",")
    .map((h) => h.trim());
  headers.forEach((value, key) => {
    if (!HOP_BY_HOP.has(key) && !listed.includes(key)) out.append(key, value);
  });
  // several Set-Cookie headers must stay several
  for (const cookie of headers.getSetCookie?.() ?? [])
    if (!out.getSetCookie().includes(cookie)) out.append("set-cookie", cookie);
  return out;
}
