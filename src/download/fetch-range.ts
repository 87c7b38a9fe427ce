import { WorkerError } from "../errors.ts";
import { VERSION } from "../version.ts";
import { isHtmlContentType, parseContentRange } from "./headers.ts";
import { isRetryableStatus, parseRetryAfter, transientError } from "./retry.ts";
import { headersFor, htmlError, httpError, type Source } from "./sources.ts";

const MAX_REDIRECTS = 10;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** A response after redirects, with the headers every hop sent (HF puts `X-Linked-*` on its 302). */
export interface Followed {
  res: Response;
  url: string;
  hopHeaders: Headers[];
}

/** Why a ranged request could not be served as asked; the engine falls back to one plain GET. */
export type RangeRefusal = "range-ignored" | "range-refused";

/**
 * GETs `url`, following redirects by hand so the source's credentials go only to the source host,
 * never to the CDN a redirect points at (and so each hop's headers can be read).
 */
export async function fetchFollowing(
  source: Source,
  url: string,
  extra: Record<string, string>,
  signal?: AbortSignal,
): Promise<Followed> {
  const hopHeaders: Headers[] = [];
  let current = url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const res = await fetch(current, {
      redirect: "manual",
      // identity: byte ranges must address the file itself, not a compressed rendition of it
      headers: {
        "user-agent": `comfy-worker/${VERSION}`,
        "accept-encoding": "identity",
        ...extra,
        ...headersFor(source, current),
      },
      ...(signal ? { signal } : {}),
    });
    const location = res.headers.get("location");
    if (!REDIRECT_STATUSES.has(res.status) || !location) return { res, url: current, hopHeaders };
    hopHeaders.push(res.headers);
    await res.body?.cancel();
    current = new URL(location, current).href;
  }
  throw new WorkerError("E_DOWNLOAD", `${source.original} redirected more than ${MAX_REDIRECTS} times; check the URL`);
}

/** Throws the right error for a status that is not a file: transient (retried), HTML, or final with advice. */
export async function assertFileResponse(source: Source, res: Response): Promise<void> {
  if (res.status === 200 || res.status === 206) {
    if (!isHtmlContentType(res.headers.get("content-type"))) return;
    await res.body?.cancel();
    throw htmlError(source);
  }
  await res.body?.cancel();
  if (isRetryableStatus(res.status)) {
    const retryAfterMs = parseRetryAfter(res.headers.get("retry-after"));
    throw transientError(`${source.original} answered HTTP ${res.status}`, {
      status: res.status,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    });
  }
  if (res.status === 416) throw _refusal("range-refused", source);
  throw httpError(source, res.status, res.headers);
}

/**
 * Opens bytes `[start, end)` of the file at `url` (the final URL of the probe). Without `end`, a plain
 * GET of the whole file. Throws a `range-ignored`/`range-refused` E_DOWNLOAD when the host does not
 * honour the range, so the caller can fall back to a single stream.
 */
export async function openRange(
  source: Source,
  url: string,
  range: { start: number; end: number } | undefined,
  signal?: AbortSignal,
): Promise<Response> {
  const extra: Record<string, string> = range ? { range: `bytes=${range.start}-${range.end - 1}` } : {};
  const { res } = await fetchFollowing(source, url, extra, signal);
  await assertFileResponse(source, res);
  if (!range) return res;
  const got = parseContentRange(res.headers.get("content-range"));
  if (res.status === 206 && got?.start === range.start) return res;
  await res.body?.cancel();
  throw _refusal("range-ignored", source);
}

/** True when `error` says the host does not serve byte ranges as asked. */
export function isRangeRefusal(error: unknown): boolean {
  const reason = (error as WorkerError | undefined)?.details?.reason;
  return reason === "range-ignored" || reason === "range-refused";
}

function _refusal(reason: RangeRefusal, source: Source): WorkerError {
  return new WorkerError("E_DOWNLOAD", `${source.original} does not serve byte ranges as asked (${reason})`, {
    details: { reason },
  });
}
