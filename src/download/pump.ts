import { transientError } from "./retry.ts";

// a connection that sends nothing this long is dead even if the socket says otherwise; it is retried
export const STALL_TIMEOUT_MS = 60_000;

/** Where body bytes go: `write` must put them on disk at `position` before resolving. */
export interface PumpOptions {
  /** File offset of the first body byte. */
  position: number;
  /** Offset to stop at (exclusive); the body must reach it. Undefined: whatever the body holds. */
  end?: number;
  write: (position: number, bytes: Uint8Array) => Promise<void>;
}

/** A watchdog that aborts its signal when `touch` is not called for `ms`; `stalled` says whether it fired. */
export interface StallGuard {
  signal: AbortSignal;
  touch(): void;
  readonly stalled: boolean;
  dispose(): void;
}

/** Creates a {@link StallGuard} linked to `parent` (aborting the parent aborts it too). */
export function createStallGuard(ms: number, parent?: AbortSignal): StallGuard {
  const controller = new AbortController();
  let stalled = false;
  let last = performance.now();
  // a coarse check instead of re-arming a timer for every ~64 KiB chunk
  const timer = setInterval(
    () => {
      if (performance.now() - last <= ms) return;
      stalled = true;
      clearInterval(timer);
      controller.abort(transientError(`no data for ${Math.round(ms / 1000)} s`));
    },
    Math.max(10, ms / 4),
  );
  return {
    signal: parent ? AbortSignal.any([parent, controller.signal]) : controller.signal,
    touch: () => {
      last = performance.now();
    },
    get stalled() {
      return stalled;
    },
    dispose: () => clearInterval(timer),
  };
}

/**
 * Streams a response body to `write` chunk by chunk (never the whole body in memory). Throws a transient
 * error when the body ends before `end`, so the caller retries from where it stopped.
 */
export async function pumpBody(res: Response, options: PumpOptions, guard?: StallGuard): Promise<number> {
  let position = options.position;
  const end = options.end ?? Number.POSITIVE_INFINITY;
  const body = res.body ?? new ReadableStream<Uint8Array>({ start: (controller) => controller.close() });
  const reader = body.getReader();
  try {
    while (position < end) {
      const { done, value } = await reader.read();
      guard?.touch();
      if (done) break;
      const bytes = value.length > end - position ? value.subarray(0, end - position) : value;
      await options.write(position, bytes);
      position += bytes.length;
    }
  } finally {
    // releases the connection early on failure; on an errored stream cancel itself rejects, which is moot
    await reader.cancel().catch(() => {});
  }
  if (options.end !== undefined && position < options.end) {
    throw transientError(`the connection closed after ${position} of ${options.end} bytes`);
  }
  return position - options.position;
}
