import { isWorkerError, WorkerError } from "../errors.ts";
import { backoffMs, delay } from "../lib/time.ts";

/** How often one request is tried before the download fails; a request that made progress starts over. */
export const MAX_ATTEMPTS = 6;
export const RETRY_INITIAL_MS = 500;
export const RETRY_MAX_MS = 30_000;
// a host asking for more than this is effectively down; we wait this long at most, then try again
export const RETRY_AFTER_MAX_MS = 120_000;

// socket-level failures worth another attempt (Bun puts these in `code`; undici uses UND_ERR_*)
const TRANSIENT_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EAI_AGAIN",
  "ConnectionClosed",
  "ConnectionRefused",
  "FailedToOpenSocket",
  "UND_ERR_SOCKET",
]);

/** What to do about a failed request: try again (maybe after a host-given delay), give up, or stop. */
export type Failure = { kind: "retry"; afterMs?: number } | { kind: "fatal" } | { kind: "abort" };

/** Knobs for {@link withRetry}; tests shrink the delays. */
export interface RetryOptions {
  signal?: AbortSignal;
  attempts?: number;
  initialMs?: number;
  maxMs?: number;
  /** Called before each wait, for a log line. */
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
}

/** True for the statuses a later identical request may well succeed on: 408, 425, 429 and 5xx. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || (status >= 500 && status <= 599);
}

/** Milliseconds to wait from a `Retry-After` value (delta-seconds or an HTTP-date); undefined when absent or bad. */
export function parseRetryAfter(value: string | null | undefined, nowMs = Date.now()): number | undefined {
  if (!value) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Math.min(Number(text) * 1000, RETRY_AFTER_MAX_MS);
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, at - nowMs), RETRY_AFTER_MAX_MS);
}

/** A failure that may succeed on another attempt (an HTTP status or a connection that ended early). */
export function transientError(message: string, details: { status?: number; retryAfterMs?: number } = {}): WorkerError {
  return new WorkerError("E_DOWNLOAD", message, { details: { ...details, transient: true } });
}

/**
 * The one classifier (STYLE rule 17): the caller's abort or deadline is never retried, nor is a
 * TimeoutError (a deliberate deadline, so retrying would silently double it); transient errors
 * and transport failures are; everything else is final.
 */
export function classifyFailure(error: unknown, signal?: AbortSignal): Failure {
  if (signal?.aborted) return { kind: "abort" };
  if (isWorkerError(error)) {
    if (error.details.transient !== true) return { kind: "fatal" };
    const afterMs = error.details.retryAfterMs;
    return typeof afterMs === "number" ? { kind: "retry", afterMs } : { kind: "retry" };
  }
  if (!(error instanceof Error) || error.name === "TimeoutError" || error.name === "AbortError") {
    return { kind: "fatal" };
  }
  const code = (error as NodeJS.ErrnoException).code;
  return code && TRANSIENT_CODES.has(code) ? { kind: "retry" } : { kind: "fatal" };
}

/** Delay before attempt `attempt + 1`: the host's `Retry-After` when given, else jittered exponential backoff. */
export function retryDelayMs(failure: Failure, attempt: number, options: RetryOptions = {}): number {
  if (failure.kind === "retry" && failure.afterMs !== undefined) return failure.afterMs;
  return backoffMs(attempt - 1, {
    initialMs: options.initialMs ?? RETRY_INITIAL_MS,
    maxMs: options.maxMs ?? RETRY_MAX_MS,
  });
}

/** The error to throw when `signal` stopped a download: its own WorkerError reason, a deadline, or a cancel. */
export function abortError(signal: AbortSignal | undefined, what: string): WorkerError {
  const reason: unknown = signal?.reason;
  if (isWorkerError(reason)) return reason;
  if (reason instanceof Error && reason.name === "TimeoutError") {
    return new WorkerError("E_DOWNLOAD", `${what} hit its deadline before finishing`, { cause: reason });
  }
  return new WorkerError("E_INTERRUPTED", `${what} was cancelled`, { cause: reason });
}

/** Waits out one failure: throws when it is final or attempts are used up, else sleeps (abortably) and returns. */
export async function waitBeforeRetry(
  error: unknown,
  attempt: number,
  what: string,
  options: RetryOptions,
): Promise<void> {
  const failure = classifyFailure(error, options.signal);
  if (failure.kind === "abort") throw abortError(options.signal, what);
  if (failure.kind === "fatal") throw error;
  const attempts = options.attempts ?? MAX_ATTEMPTS;
  if (attempt >= attempts) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new WorkerError("E_DOWNLOAD", `${what} failed after ${attempts} attempts: ${reason}; try again later`, {
      cause: error,
    });
  }
  const delayMs = retryDelayMs(failure, attempt, options);
  options.onRetry?.({ attempt, delayMs, error });
  if (!(await delay(delayMs, options.signal))) throw abortError(options.signal, what);
}

/** Runs `fn` until it succeeds, retrying only what {@link classifyFailure} calls transient. */
export async function withRetry<T>(what: string, fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      await waitBeforeRetry(error, attempt, what, options);
    }
  }
}
