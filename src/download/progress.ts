/** What a download is doing right now (SPEC §7 state, minus the `missing`/`ready`/`failed` the caller knows). */
export type DownloadPhase = "downloading" | "verifying";

/** A progress report: bytes on disk, the total when known, the recent rate and the time left at that rate. */
export interface DownloadProgress {
  phase: DownloadPhase;
  bytes: number;
  total: number | undefined;
  /** Bytes per second over the last few seconds (this run only; resumed bytes don't inflate it). */
  rate: number;
  /** Seconds left at `rate`; undefined when the total or the rate is unknown. */
  etaS: number | undefined;
}

export type ProgressCallback = (progress: DownloadProgress) => void;

// often enough for a progress bar, rarely enough to cost nothing
export const PROGRESS_INTERVAL_MS = 500;
const RATE_WINDOW_MS = 5000;

/** Counts bytes and calls back at most every PROGRESS_INTERVAL_MS (and on every phase change or `flush`). */
export interface ProgressTracker {
  add(bytes: number): void;
  /** Forget counted bytes (a single-stream download starting over). */
  reset(bytes: number): void;
  phase(phase: DownloadPhase): void;
  flush(): void;
  readonly bytes: number;
  /** Bytes added by this run, restarts included. */
  readonly fetched: number;
}

/** Creates a tracker starting at `already` bytes (resumed) of `total`. */
export function createProgress(
  total: number | undefined,
  already: number,
  callback: ProgressCallback | undefined,
  now: () => number = performance.now.bind(performance),
): ProgressTracker {
  let bytes = already;
  let fetched = 0;
  let phase: DownloadPhase = "downloading";
  let lastEmit = Number.NEGATIVE_INFINITY;
  const samples: Array<[number, number]> = [[now(), bytes]];
  const emit = (force: boolean) => {
    const at = now();
    if (!callback || (!force && at - lastEmit < PROGRESS_INTERVAL_MS)) return;
    lastEmit = at;
    samples.push([at, bytes]);
    while (samples.length > 2 && at - (samples[0] as [number, number])[0] > RATE_WINDOW_MS) samples.shift();
    const [t0, b0] = samples[0] as [number, number];
    const rate = at > t0 ? ((bytes - b0) * 1000) / (at - t0) : 0;
    const etaS = total !== undefined && rate > 0 ? Math.max(0, total - bytes) / rate : undefined;
    callback({ phase, bytes, total, rate, etaS });
  };
  return {
    add(count) {
      bytes += count;
      fetched += count;
      emit(false);
    },
    reset(count) {
      bytes = count;
      samples.splice(0, samples.length, [now(), bytes]);
    },
    phase(next) {
      phase = next;
      emit(true);
    },
    flush: () => emit(true),
    get bytes() {
      return bytes;
    },
    get fetched() {
      return fetched;
    },
  };
}
