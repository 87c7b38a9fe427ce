/** What the fault proxy does to requests on their way to the real S3 server. */
export interface FaultRules {
  /** Answer this part-upload attempt (1-based) with 503 + Retry-After: 0 instead of forwarding it. */
  failPart?: (part: number, attempt: number) => boolean;
  /** Never answer uploads of this part (a connection that stalls). */
  hangPart?: (part: number) => boolean;
  /** Listing pages of at most this many keys (forces paging). */
  pageSize?: number;
  /** Answer the first N listing requests that carry a continuation token with that same token again. */
  sameToken?: number;
}

/**
 * A small HTTP proxy in front of s3rver that counts part uploads and injects faults: failed or stalled parts,
 * small listing pages and RunPod's "same next token" listing answer.
 */
export function startFaultProxy(target: string, rules: FaultRules = {}) {
  rules = { ...rules };
  const attempts = new Map<number, number>();
  const forwarded: number[] = [];
  let sameTokenLeft = rules.sameToken ?? 0;
  let listings = 0;
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const query = url.searchParams;
      const part = Number(query.get("partNumber"));
      if (req.method === "PUT" && part > 0) {
        const attempt = (attempts.get(part) ?? 0) + 1;
        attempts.set(part, attempt);
        if (rules.hangPart?.(part)) return new Promise<Response>(() => {});
        if (rules.failPart?.(part, attempt)) {
          await req.arrayBuffer();
          return new Response("<Error><Code>SlowDown</Code><Message>injected</Message></Error>", {
            status: 503,
            headers: { "retry-after": "0" },
          });
        }
        forwarded.push(part);
      }
      if (req.method === "GET" && query.get("list-type") === "2") {
        listings++;
        const token = query.get("continuation-token");
        if (token && sameTokenLeft > 0) {
          sameTokenLeft--;
          return new Response(
            `<?xml version="1.0"?><ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>${token}</NextContinuationToken></ListBucketResult>`,
          );
        }
        // s3rver's own continuation tokens need DES, which Bun's crypto lacks: page its full listing here
        if (rules.pageSize) return _page(target, url.pathname, query, rules.pageSize, req.headers);
      }
      const headers = new Headers(req.headers);
      headers.delete("host");
      const body = req.method === "GET" || req.method === "HEAD" ? undefined : await req.arrayBuffer();
      const res = await fetch(`${target}${url.pathname}?${query}`, { method: req.method, headers, body });
      const out = new Headers(res.headers);
      out.delete("content-encoding");
      out.delete("transfer-encoding");
      if (req.method === "HEAD") return new Response(null, { status: res.status, headers: out });
      out.delete("content-length");
      return new Response(await res.arrayBuffer(), { status: res.status, headers: out });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    /** Part numbers forwarded to the server (successful attempts reached it), in order. */
    forwarded,
    attempts,
    /** Change the faults while running (the endpoint URL, hence resume records, stays the same). */
    setRules(next: FaultRules) {
      rules = { ...next };
      sameTokenLeft = next.sameToken ?? 0;
    },
    get listings() {
      return listings;
    },
    stop: () => server.stop(true),
  };
}

async function _page(
  target: string,
  path: string,
  query: URLSearchParams,
  size: number,
  headers: Headers,
): Promise<Response> {
  const token = query.get("continuation-token");
  const full = new URLSearchParams({ "list-type": "2", prefix: query.get("prefix") ?? "" });
  const forward = new Headers(headers);
  forward.delete("host");
  const xml = await (await fetch(`${target}${path}?${full}`, { headers: forward })).text();
  const contents = [...xml.matchAll(/<Contents>[\s\S]*?<\/Contents>/g)].map((m) => m[0]);
  const after = token ? Buffer.from(token, "base64").toString() : "";
  const start = after ? contents.findIndex((c) => c.includes(`<Key>${after}</Key>`)) + 1 : 0;
  const page = contents.slice(start, start + size);
  const truncated = start + size < contents.length;
  const last = page.at(-1)?.match(/<Key>([\s\S]*?)<\/Key>/)?.[1] ?? "";
  const next = truncated
    ? `<NextContinuationToken>${Buffer.from(last).toString("base64")}</NextContinuationToken>`
    : "";
  return new Response(
    `<?xml version="1.0"?><ListBucketResult><IsTruncated>${truncated}</IsTruncated>${next}${page.join("")}</ListBucketResult>`,
  );
}
