import type { z } from "zod";
import { isRetryableStatus, parseRetryAfter, transientError, withRetry } from "../download/retry.ts";
import { WorkerError } from "../errors.ts";
import { describeIssues } from "../lib/issues.ts";
import { deadlineSignal, delay } from "../lib/time.ts";

/** Knobs of the lookup client; tests shrink them. */
export interface LookupHttpOptions {
  /** Deadline of one call (connect to last byte). */
  timeoutMs: number;
  /** Least time between two calls to the same host (a polite rate limit). */
  minIntervalMs?: number;
  /** Attempts per call (429/5xx/network), honouring Retry-After. */
  attempts?: number;
  retryInitialMs?: number;
  signal?: AbortSignal;
}

/** A failed lookup: not found (404) is an answer, everything else an error with a reason. */
export type LookupResult<T> = { ok: true; value: T } | { ok: false; status?: number; reason: string };

const DEFAULT_MIN_INTERVAL_MS = 250;

/**
 * JSON GETs for `fix`'s lookups: every call has a deadline, calls to one host are spaced out, 429 and 5xx are
 * retried after the host's Retry-After (or a backoff), and nothing is cached: a model published tomorrow is
 * found tomorrow. Answers are validated with the caller's zod schema.
 */
export class LookupHttp {
  readonly #next = new Map<string, number>();

  constructor(readonly options: LookupHttpOptions) {}

  /** GET `url` as JSON matching `schema`; a 404 or a refused/failed call comes back as `{ok: false}`. */
  async json<T>(url: string, schema: z.ZodType<T>, headers: Record<string, string> = {}): Promise<LookupResult<T>> {
    try {
      const body = await withRetry(`GET ${_safe(url)}`, () => this.#once(url, headers), {
        attempts: this.options.attempts ?? 4,
        ...(this.options.retryInitialMs !== undefined ? { initialMs: this.options.retryInitialMs } : {}),
        ...(this.options.signal ? { signal: this.options.signal } : {}),
      });
      if (body === undefined) return { ok: false, status: 404, reason: "not found" };
      const parsed = schema.safeParse(body);
      if (!parsed.success)
        return {
          ok: false,
          reason: `unexpected answer from ${_safe(url)}: ${describeIssues(parsed.error, body, "").slice(0, 3).join("; ")}`,
        };
      return { ok: true, value: parsed.data };
    } catch (error) {
      if (this.options.signal?.aborted) throw error;
      const status = error instanceof WorkerError ? (error.details.status as number | undefined) : undefined;
      return {
        ok: false,
        ...(status ? { status } : {}),
        reason: error instanceof Error ? error.message : String(error),
      };
    }
  }

  async #once(url: string, headers: Record<string, string>): Promise<unknown> {
    await this.#wait(new URL(url).host);
    const deadline = deadlineSignal(this.options.timeoutMs, this.options.signal);
    try {
      const res = await fetch(url, { headers: { accept: "application/json", ...headers }, signal: deadline.signal });
      if (res.status === 404) return undefined;
      if (isRetryableStatus(res.status)) {
        const retryAfterMs = parseRetryAfter(res.headers.get("retry-after"));
        throw transientError(`GET ${_safe(url)} answered HTTP ${res.status}`, {
          status: res.status,
          ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
        });
      }
      if (!res.ok)
        throw new WorkerError("E_DOWNLOAD", `GET ${_safe(url)} answered HTTP ${res.status}`, {
          details: { status: res.status },
        });
      return await res.json();
    } catch (error) {
      if (error instanceof Error && error.name === "TimeoutError" && !this.options.signal?.aborted)
        throw new WorkerError(
          "E_DOWNLOAD",
          `GET ${_safe(url)} got no answer within ${this.options.timeoutMs / 1000} s`,
        );
      throw error;
    } finally {
      deadline.dispose();
    }
  }

  // one slot per host: each call waits until the host's previous call is minIntervalMs old
  async #wait(host: string): Promise<void> {
    const now = Date.now();
    const at = Math.max(now, this.#next.get(host) ?? 0);
    this.#next.set(host, at + (this.options.minIntervalMs ?? DEFAULT_MIN_INTERVAL_MS));
    if (at > now) await delay(at - now, this.options.signal);
  }
}

// tokens never travel in URLs we build, but strip any query anyway before a URL reaches a message
function _safe(url: string): string {
  return url.split("?")[0] ?? url;
}
