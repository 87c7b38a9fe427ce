/**
 * Longest delay a timer honours: 2^31 − 1 ms (≈ 24.8 days). Above it setTimeout/setInterval (Bun and Node)
 * warn and fire after 1 ms, which turns a huge interval into a busy loop and a huge timeout into none.
 */
export const MAX_TIMER_MS = 2_147_483_647;

/** A delay in ms made safe for a timer: NaN or negative → 0, above MAX_TIMER_MS → MAX_TIMER_MS, whole ms. */
export function timerMs(ms: number): number {
  if (Number.isNaN(ms) || ms <= 0) return 0;
  return Math.min(MAX_TIMER_MS, Math.ceil(ms));
}

/** A duration setting in seconds (e.g. COMFY_HEALTH_INTERVAL_S) → a safe timer delay in ms (see timerMs). */
export function secondsToTimerMs(seconds: number): number {
  return timerMs(seconds * 1000);
}

/** Options for {@link backoffMs}. */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** Share of the delay removed at random, 0–1 (default 0.5: attempt 0 waits between initialMs/2 and initialMs). */
  jitter?: number;
  /** Source of randomness in [0, 1), injectable for tests. */
  random?: () => number;
}

/** Exponential backoff with jitter: attempt 0 waits ≈ initialMs, each next attempt twice as long, capped at maxMs. */
export function backoffMs(attempt: number, options: BackoffOptions): number {
  const { initialMs, maxMs, jitter = 0.5, random = Math.random } = options;
  // cap the exponent so large attempt numbers cannot overflow to Infinity
  const base = Math.min(maxMs, initialMs * 2 ** Math.min(Math.max(0, attempt), 30));
  return Math.round(base * (1 - jitter * random()));
}

/**
 * True when `promise` settles (fulfils or rejects) within `ms`, false otherwise. Never rejects, and its
 * timer is cleared as soon as the promise settles, so it keeps nothing alive.
 */
export function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timerMs(ms));
    const done = () => {
      clearTimeout(timer);
      resolve(true);
    };
    promise.then(done, done);
  });
}

/** Waits `ms`; resolves true when the time elapsed, false at once when `signal` aborts. Never rejects. */
export function delay(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, timerMs(ms));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * An AbortSignal that aborts after `ms` or when `parent` aborts. Unlike `AbortSignal.timeout`, its timer is
 * cleared by `dispose()`, so a finished request leaves no timer behind.
 */
export function deadlineSignal(ms: number, parent?: AbortSignal): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException("deadline exceeded", "TimeoutError")), timerMs(ms));
  const onAbort = () => controller.abort(parent?.reason);
  if (parent?.aborted) onAbort();
  else parent?.addEventListener("abort", onAbort, { once: true });
  const dispose = () => {
    clearTimeout(timer);
    parent?.removeEventListener("abort", onAbort);
  };
  return { signal: controller.signal, dispose };
}
