import { timerMs } from "../lib/time.ts";

/**
 * Latest-wins throttle for preview frames: at most `maxFps` deliveries a second, and only the newest frame
 * waiting is delivered; older ones are dropped. `deliver` may be slow (a slow stream reader, a network
 * post): while one delivery is in flight, new frames replace the waiting one, so nothing queues up behind
 * a slow consumer and the job never waits for it.
 */
export class PreviewThrottle<T> {
  readonly #intervalMs: number;
  readonly #deliver: (frame: T) => Promise<void> | void;
  #waiting: T | undefined;
  #lastMs = Number.NEGATIVE_INFINITY;
  #busy = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  /** Frames dropped because a newer one arrived first (for tests and /metrics). */
  dropped = 0;
  delivered = 0;

  constructor(maxFps: number, deliver: (frame: T) => Promise<void> | void) {
    this.#intervalMs = maxFps > 0 ? 1000 / maxFps : Number.POSITIVE_INFINITY;
    this.#deliver = deliver;
  }

  push(frame: T): void {
    if (this.#closed) return;
    if (this.#waiting !== undefined) this.dropped++;
    this.#waiting = frame;
    this.#schedule();
  }

  /** Stops delivering; a frame still waiting is dropped. */
  close(): void {
    this.#closed = true;
    if (this.#waiting !== undefined) this.dropped++;
    this.#waiting = undefined;
    clearTimeout(this.#timer);
  }

  #schedule(): void {
    if (this.#busy || this.#timer || this.#waiting === undefined) return;
    if (!Number.isFinite(this.#intervalMs)) return;
    const due = Number.isFinite(this.#lastMs) ? this.#lastMs + this.#intervalMs - performance.now() : 0;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        void this.#flush();
      },
      timerMs(Math.max(0, due)),
    );
  }

  async #flush(): Promise<void> {
    const frame = this.#waiting;
    if (frame === undefined || this.#closed) return;
    this.#waiting = undefined;
    this.#busy = true;
    this.#lastMs = performance.now();
    try {
      await this.#deliver(frame);
      this.delivered++;
    } catch {
      // a failed delivery loses that frame only
    } finally {
      this.#busy = false;
      this.#schedule();
    }
  }
}
