import { assertFileResponse, fetchFollowing, isRangeRefusal } from "./fetch-range.ts";
import { parseContentDisposition, parseContentRange, sha256FromEtag } from "./headers.ts";
import { type RetryOptions, withRetry } from "./retry.ts";
import type { Source } from "./sources.ts";

/** What the host says about a file before we fetch it. */
export interface Probe {
  /** The URL after redirects; every later range goes straight there (the pget design). */
  finalUrl: string;
  /** Bytes; undefined when a host streams without a length. */
  size?: number;
  /** True when the host answered a Range request with 206, so parallel and resumed ranges work. */
  ranges: boolean;
  /** The final response's ETag or Last-Modified: a `.part` from another version of the file is discarded. */
  validator?: string;
  /** A sha256 the host declares (Hugging Face `X-Linked-Etag` on the redirect hop). */
  declaredSha256?: string;
  /** The name from `Content-Disposition` (how Civitai names its files). */
  filename?: string;
}

/**
 * Asks for the first byte with GET (not HEAD: presigned CDN URLs are signed for GET only), following
 * redirects; retries transient failures and throws E_DOWNLOAD with advice for the rest.
 */
export async function probeSource(source: Source, retry: RetryOptions = {}): Promise<Probe> {
  return withRetry(`probing ${source.original}`, () => _probeOnce(source, retry.signal), retry);
}

async function _probeOnce(source: Source, signal: AbortSignal | undefined): Promise<Probe> {
  const { res, url, hopHeaders } = await fetchFollowing(source, source.url, { range: "bytes=0-0" }, signal);
  try {
    await assertFileResponse(source, res);
  } catch (error) {
    // 416 on the first byte: an empty file, or a host that refuses ranges; a plain GET settles both
    if (!isRangeRefusal(error)) throw error;
    return { ..._describe(res.headers, hopHeaders, url), ranges: false, ..._unsatisfiedSize(res.headers) };
  }
  await res.body?.cancel();
  const range = parseContentRange(res.headers.get("content-range"));
  const base = _describe(res.headers, hopHeaders, url);
  if (res.status === 206 && range?.start === 0 && range.total !== undefined) {
    return { ...base, ranges: true, size: range.total };
  }
  const length = res.headers.get("content-length");
  const linked = _linkedSize(hopHeaders);
  const size = length !== null && !res.headers.has("content-encoding") ? Number(length) : linked;
  return { ...base, ranges: false, ...(size !== undefined ? { size } : {}) };
}

function _describe(headers: Headers, hops: Headers[], finalUrl: string): Omit<Probe, "ranges" | "size"> {
  const all = [...hops, headers];
  const declared = all.map((hop) => sha256FromEtag(hop.get("x-linked-etag"))).find(Boolean);
  const validator = headers.get("etag") ?? headers.get("last-modified") ?? undefined;
  const filename = parseContentDisposition(headers.get("content-disposition"));
  return {
    finalUrl,
    ...(validator ? { validator } : {}),
    ...(declared ? { declaredSha256: declared } : {}),
    ...(filename ? { filename } : {}),
  };
}

function _linkedSize(hops: Headers[]): number | undefined {
  const value = hops.map((hop) => hop.get("x-linked-size")).find((item) => item !== null);
  return value && /^\d+$/.test(value) ? Number(value) : undefined;
}

function _unsatisfiedSize(headers: Headers): { size?: number } {
  const total = parseContentRange(headers.get("content-range"))?.total;
  return total === 0 ? { size: 0 } : {};
}
