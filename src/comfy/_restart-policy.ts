import { backoffMs } from "../lib/time.ts";

export interface RestartPolicyOptions {
  /** Restarts allowed within `windowMs`; one more crash means giving up. */
  maxRestarts: number;
  windowMs: number;
  initialMs: number;
  maxMs: number;
}

/** Decides whether and when to restart: exponential backoff over the restarts of the last window. */
export class RestartPolicy {
  readonly #options: RestartPolicyOptions;
  #times: number[] = [];

  constructor(options: RestartPolicyOptions) {
    this.#options = options;
  }

  /** Restarts counted in the window ending at `now`. */
  recent(now = Date.now()): number {
    this.#times = this.#times.filter((time) => now - time < this.#options.windowMs);
    return this.#times.length;
  }

  /** Delay before the next restart, or undefined when the limit for the window is used up. */
  next(now = Date.now()): number | undefined {
    const recent = this.recent(now);
    if (recent >= this.#options.maxRestarts) return undefined;
    // a ComfyUI that ran fine for the whole window gets a quick first restart again
    return backoffMs(recent, { initialMs: this.#options.initialMs, maxMs: this.#options.maxMs });
  }

  /** Counts a restart made at `now`. */
  record(now = Date.now()): void {
    this.#times.push(now);
  }
}
