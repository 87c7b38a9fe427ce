import { isWorkerError } from "../errors.ts";
import { openRange } from "./fetch-range.ts";
import { createStallGuard, pumpBody } from "./pump.ts";
import { abortError, type RetryOptions, transientError, waitBeforeRetry } from "./retry.ts";
import { isComplete, type Segment } from "./segments.ts";
import type { Source } from "./sources.ts";

/** What both transfer modes need: where to fetch, how to retry, and where bytes go. */
export interface TransferContext {
  source: Source;
  /** The probe's final URL (after redirects); replaced when a signed CDN URL expires mid-download. */
  url: string;
  /** Probes again for a fresh final URL (single-flight); absent when there is nothing to refresh. */
  refreshUrl?: (() => Promise<void>) | undefined;
  /** The caller's signal: aborting it stops every connection and is never retried. */
  signal?: AbortSignal | undefined;
  retry: RetryOptions;
  stallMs: number;
  /** Puts bytes on disk at `position` (throws to refuse them, e.g. an HTML page). */
  writeAt(position: number, bytes: Uint8Array): Promise<void>;
  /** Accounts for bytes just written (progress, hashing, resume state). */
  onWritten(position: number, bytes: Uint8Array): void;
}

/**
 * Fetches every incomplete segment over up to `connections` parallel Range requests, lowest offsets
 * first (so the in-order hasher can follow). A segment cut short is resumed from its last written byte;
 * the first final error stops all connections and is thrown.
 */
export async function fetchSegments(ctx: TransferContext, segments: Segment[], connections: number): Promise<void> {
  const inner = new AbortController();
  const signal = ctx.signal ? AbortSignal.any([ctx.signal, inner.signal]) : inner.signal;
  let failure: unknown;
  const worker = async () => {
    for (let segment = _claim(segments); segment && failure === undefined; segment = _claim(segments)) {
      try {
        await _fetchSegment(ctx, segment, signal);
      } catch (error) {
        failure ??= error;
        inner.abort();
      }
    }
  };
  const pending = segments.filter((segment) => !isComplete(segment)).length;
  await Promise.all(Array.from({ length: Math.min(connections, pending) }, worker));
  if (ctx.signal?.aborted) throw abortError(ctx.signal, `downloading ${ctx.source.original}`);
  if (failure !== undefined) throw failure;
}

/**
 * Fetches the whole file over one plain GET (a host without ranges): each attempt starts over from
 * byte 0 after `restart()` empties the `.part`. Returns the byte count.
 */
export async function fetchWhole(
  ctx: TransferContext,
  size: number | undefined,
  restart: () => Promise<void>,
): Promise<number> {
  const what = `downloading ${ctx.source.original}`;
  for (let attempt = 1; ; attempt++) {
    const guard = createStallGuard(ctx.stallMs, ctx.signal);
    try {
      await restart();
      const res = await openRange(ctx.source, ctx.url, undefined, guard.signal);
      const write = async (position: number, bytes: Uint8Array) => {
        await ctx.writeAt(position, bytes);
        ctx.onWritten(position, bytes);
      };
      return await pumpBody(res, { position: 0, ...(size !== undefined ? { end: size } : {}), write }, guard);
    } catch (error) {
      const cause = guard.stalled ? transientError("the connection stalled") : await _refreshIfExpired(ctx, error);
      await waitBeforeRetry(cause, attempt, what, {
        ...ctx.retry,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      });
    } finally {
      guard.dispose();
    }
  }
}

async function _fetchSegment(ctx: TransferContext, segment: Segment, signal: AbortSignal): Promise<void> {
  const what = `downloading ${ctx.source.original}`;
  const write = async (position: number, bytes: Uint8Array) => {
    await ctx.writeAt(position, bytes);
    segment.written += bytes.length;
    ctx.onWritten(position, bytes);
  };
  for (let attempt = 1; !isComplete(segment); attempt++) {
    const before = segment.written;
    const guard = createStallGuard(ctx.stallMs, signal);
    try {
      const start = segment.start + segment.written;
      const res = await openRange(ctx.source, ctx.url, { start, end: segment.end }, guard.signal);
      await pumpBody(res, { position: start, end: segment.end, write }, guard);
    } catch (error) {
      // a connection that made progress before dropping earns a fresh set of attempts
      if (segment.written > before) attempt = 1;
      const cause = guard.stalled ? transientError("the connection stalled") : await _refreshIfExpired(ctx, error);
      await waitBeforeRetry(cause, attempt, what, { ...ctx.retry, signal });
    } finally {
      guard.dispose();
    }
  }
}

// Signed CDN URLs (Hugging Face, Civitai's R2) expire, typically within hours: a 401/403/410 from the final
// URL of a long download means "ask the source again", and only the source's own answer is final.
async function _refreshIfExpired(ctx: TransferContext, error: unknown): Promise<unknown> {
  const status = isWorkerError(error) ? error.details.status : undefined;
  if (!ctx.refreshUrl || ctx.url === ctx.source.url || ![401, 403, 410].includes(status as number)) return error;
  await ctx.refreshUrl();
  return transientError(`the signed download URL expired (HTTP ${status}); got a new one`);
}

function _claim(segments: Segment[]): Segment | undefined {
  const next = segments.find((segment) => !segment.claimed && !isComplete(segment));
  if (next) next.claimed = true;
  return next;
}
