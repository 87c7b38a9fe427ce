import { deadlineSignal, delay } from "../lib/time.ts";

/** Outcome of one GET /system_stats: "refused" is nothing listening, "failed" any other transport error. */
export type ProbeResult = "ok" | "timeout" | "refused" | "failed" | "bad-status";

// ComfyUI binds its port seconds after spawn; a refused connection is cheap, so poll briskly
export const READY_POLL_MS = 250;

/** One readiness/health probe: GET {url}/system_stats answering 200 within `timeoutMs`. Never rejects. */
export async function probeComfy(url: string, timeoutMs: number, signal?: AbortSignal): Promise<ProbeResult> {
  const deadline = deadlineSignal(timeoutMs, signal);
  try {
    const res = await fetch(`${url}/system_stats`, { signal: deadline.signal, redirect: "manual" });
    // read the (small) body so the keep-alive connection is released
    await res.arrayBuffer();
    return res.status === 200 ? "ok" : "bad-status";
  } catch (error) {
    if (deadline.signal.aborted) return "timeout";
    return (error as { code?: unknown })?.code === "ECONNREFUSED" ? "refused" : "failed";
  } finally {
    deadline.dispose();
  }
}

/** A sleep that can be cut short: `wake()` ends the current (or next) `wait` at once. */
export class Waker {
  #pending = false;
  #wake: (() => void) | undefined;

  /** Resolves after `ms`, or sooner when woken. */
  wait(ms: number): Promise<void> {
    if (this.#pending) {
      this.#pending = false;
      return Promise.resolve();
    }
    const controller = new AbortController();
    this.#wake = () => controller.abort();
    return delay(ms, controller.signal).then(() => {
      this.#wake = undefined;
    });
  }

  /** Ends the current wait, or makes the next one return at once. */
  wake(): void {
    if (this.#wake) this.#wake();
    else this.#pending = true;
  }
}

export interface WaitForReadyOptions {
  url: string;
  timeoutMs: number;
  probeTimeoutMs: number;
  /** Pause between failed probes (default READY_POLL_MS). */
  pollMs?: number;
  /** Resolves when the process died; readiness stops being possible. */
  ended: Promise<unknown>;
  /** Woken when the log says the server is listening, so we probe at once. */
  waker: Waker;
  signal: AbortSignal;
}

/** Polls /system_stats until it answers 200, the process ends, the deadline passes or `signal` aborts. */
export async function waitForReady(o: WaitForReadyOptions): Promise<"ready" | "ended" | "timeout" | "aborted"> {
  const local = new AbortController();
  const signal = AbortSignal.any([o.signal, local.signal]);
  try {
    return await Promise.race([o.ended.then(() => "ended" as const), _pollReady(o, signal)]);
  } finally {
    local.abort();
  }
}

async function _pollReady(o: WaitForReadyOptions, signal: AbortSignal): Promise<"ready" | "timeout" | "aborted"> {
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return "timeout";
    const result = await probeComfy(o.url, Math.min(o.probeTimeoutMs, left), signal);
    if (signal.aborted) return "aborted";
    if (result === "ok") return "ready";
    await o.waker.wait(Math.min(o.pollMs ?? READY_POLL_MS, Math.max(0, deadline - Date.now())));
    if (signal.aborted) return "aborted";
  }
}

export interface WatchHealthOptions {
  url: string;
  intervalMs: number;
  timeoutMs: number;
  ended: Promise<unknown>;
  signal: AbortSignal;
}

/**
 * Watches a ready ComfyUI: returns "ended" the moment the process exits, and "hang" once it has not
 * answered /system_stats for `timeoutMs` or refuses connections twice in a row (probed every `intervalMs`; either
 * ≤ 0 turns hang detection off);
 * "aborted" when `signal` aborts.
 */
export async function watchHealth(o: WatchHealthOptions): Promise<"hang" | "ended" | "aborted"> {
  const local = new AbortController();
  const signal = AbortSignal.any([o.signal, local.signal]);
  try {
    return await Promise.race([o.ended.then(() => "ended" as const), _pollHealth(o, signal)]);
  } finally {
    local.abort();
  }
}

async function _pollHealth(o: WatchHealthOptions, signal: AbortSignal): Promise<"hang" | "aborted"> {
  if (o.intervalMs <= 0 || o.timeoutMs <= 0) {
    // hang detection is off: only an exit or an abort ends the watch
    if (!signal.aborted) await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
    return "aborted";
  }
  let lastOk = Date.now();
  while (await delay(o.intervalMs, signal)) {
    const result = await probeComfy(o.url, o.timeoutMs, signal);
    if (signal.aborted) break;
    // nothing listening, asked twice: ComfyUI is gone now, and every job sent to it would fail until it is back
    if (result === "refused" && (await _refusedAgain(o.url, signal))) return "hang";
    // one failed probe (e.g. a reset keep-alive socket) is not a hang; silence for timeoutMs is
    if (result === "ok") lastOk = Date.now();
    else if (Date.now() - lastOk >= o.timeoutMs) return "hang";
  }
  return "aborted";
}

async function _refusedAgain(url: string, signal: AbortSignal): Promise<boolean> {
  if (!(await delay(REFUSED_RECHECK_MS, signal))) return false;
  return (await probeComfy(url, REFUSED_RECHECK_MS * 10, signal)) === "refused";
}

// a port being rebound (a fast restart) is refused for a moment; a second look this much later tells
const REFUSED_RECHECK_MS = 200;
