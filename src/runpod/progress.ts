import type { JobProgress } from "../jobs/pipeline.ts";

/** Sends a job's progress at most once per interval, latest value wins; `close` is called before the result. */
export interface ProgressReporter {
  push(progress: JobProgress): void;
  /** Drops anything pending and waits for the update in flight, so no IN_PROGRESS lands after the result. */
  close(): Promise<void>;
}

/**
 * Throttles progress: ComfyUI reports every sampler step, and each update is a POST to the platform
 * (§1.10); the SDK's fire-and-forget thread per update would flood it and could race the final result.
 */
export function createProgressReporter(
  send: (progress: JobProgress) => Promise<void>,
  minIntervalMs: number,
): ProgressReporter {
  let latest: JobProgress | undefined;
  let inFlight: Promise<void> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let lastSentAt = Number.NEGATIVE_INFINITY;
  let closed = false;

  const flush = () => {
    timer = undefined;
    if (closed || inFlight || !latest) return;
    const wait = lastSentAt + minIntervalMs - Date.now();
    if (wait > 0) {
      timer = setTimeout(flush, wait);
      return;
    }
    const progress = latest;
    latest = undefined;
    lastSentAt = Date.now();
    inFlight = send(progress)
      .catch(() => {})
      .finally(() => {
        inFlight = undefined;
        if (latest) flush();
      });
  };

  return {
    push: (progress) => {
      if (closed) return;
      latest = progress;
      if (!timer) flush();
    },
    close: async () => {
      closed = true;
      clearTimeout(timer);
      await inFlight;
    },
  };
}
