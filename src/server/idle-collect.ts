// after this long with no job running or queued, the worker counts as idle
const IDLE_DELAY_MS = 1_000;

/**
 * One full garbage collection once the worker is idle, after large results left the heap (moved to disk).
 * JSC's own heuristics let RSS climb to ~190 MiB over 200 jobs with 2 × 3 MB outputs and stay there; a full
 * collection takes 20–50 ms of the one JS thread, so it never runs while a job is running or queued.
 */
export class IdleCollector {
  readonly #idle: () => boolean;
  readonly #delayMs: number;
  readonly #collect: () => void;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(idle: () => boolean, delayMs = IDLE_DELAY_MS, collect = () => Bun.gc(true)) {
    this.#idle = idle;
    this.#delayMs = delayMs;
    this.#collect = collect;
  }

  /** Large values were dropped: collect once the worker has been idle for a moment (checked again while busy). */
  dropped(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#idle()) this.#collect();
      else this.dropped();
    }, this.#delayMs);
    this.#timer.unref();
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
