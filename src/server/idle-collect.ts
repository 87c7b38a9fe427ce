// after this long with no job running or queued, the worker counts as idle
const IDLE_DELAY_MS = 1_000;
// a worker at rest is about 80 MiB resident (half of it the binary's own pages); above this, garbage is
// collected while busy too
const BUSY_RSS_LIMIT_BYTES = 92 * 1_048_576;
// at most one busy-time collection per this long: a burst of large results costs a bounded share of the thread
const BUSY_MIN_GAP_MS = 250;
// and only once RSS grew this much since the last one: live data above the limit (a minute of kept results at a
// high job rate) must not make every job pay a collection that frees nothing
const BUSY_GROWTH_BYTES = 4 * 1_048_576;

export interface IdleCollectorOptions {
  delayMs?: number;
  busyRssLimitBytes?: number;
  collect?: () => void;
  rss?: () => number;
  now?: () => number;
}

/**
 * Full garbage collections after large results left the heap (moved to disk). JSC's own heuristics let RSS
 * climb to ~190 MiB over 200 jobs with 2 × 3 MB outputs and stay there. A full collection takes 10–50 ms of the
 * one JS thread, so it runs once the worker is idle, or, while jobs keep coming, as soon as a result settled
 * with the process above BUSY_RSS_LIMIT_BYTES (at most every BUSY_MIN_GAP_MS, and only after RSS grew since
 * the last). A result settles after its answer went out, while ComfyUI runs the next prompt, so no answer
 * waits for it.
 */
export class IdleCollector {
  readonly #idle: () => boolean;
  readonly #delayMs: number;
  readonly #busyLimit: number;
  readonly #collect: () => void;
  readonly #rss: () => number;
  readonly #now: () => number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastBusyAt = Number.NEGATIVE_INFINITY;
  #afterLast = 0;

  constructor(idle: () => boolean, options: IdleCollectorOptions = {}) {
    this.#idle = idle;
    this.#delayMs = options.delayMs ?? IDLE_DELAY_MS;
    this.#busyLimit = options.busyRssLimitBytes ?? BUSY_RSS_LIMIT_BYTES;
    this.#collect = options.collect ?? (() => Bun.gc(true));
    this.#rss = options.rss ?? (() => process.memoryUsage.rss());
    this.#now = options.now ?? Date.now;
  }

  /** A job's result settled (large values may have been dropped): collect now when memory is high, else once idle. */
  settled(): void {
    const rss = this.#rss();
    const due = rss > this.#busyLimit && rss > this.#afterLast + BUSY_GROWTH_BYTES;
    if (due && this.#now() - this.#lastBusyAt >= BUSY_MIN_GAP_MS) {
      this.#lastBusyAt = this.#now();
      this.#collect();
      this.#afterLast = this.#rss();
    }
    this.#whenIdle();
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #whenIdle(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#idle()) this.#collect();
      else this.#whenIdle();
    }, this.#delayMs);
    this.#timer.unref();
  }
}
