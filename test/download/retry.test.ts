import { describe, expect, test } from "bun:test";
import {
  classifyFailure,
  isRetryableStatus,
  parseRetryAfter,
  RETRY_AFTER_MAX_MS,
  retryDelayMs,
  transientError,
  withRetry,
} from "../../src/download/retry.ts";
import { WorkerError } from "../../src/errors.ts";

const errno = (code: string) => Object.assign(new TypeError(`${code}: socket`), { code });

describe("classifyFailure", () => {
  test("retries 408, 425, 429 and 5xx, nothing else", () => {
    expect([408, 425, 429, 500, 502, 503, 504, 599].every(isRetryableStatus)).toBe(true);
    expect([400, 401, 403, 404, 410, 416, 600].some(isRetryableStatus)).toBe(false);
  });

  test("retries transport failures and transient errors, with a host's delay when it gave one", () => {
    expect(classifyFailure(errno("ECONNRESET"))).toEqual({ kind: "retry" });
    expect(classifyFailure(errno("ECONNREFUSED"))).toEqual({ kind: "retry" });
    expect(classifyFailure(transientError("429", { status: 429, retryAfterMs: 3000 }))).toEqual({
      kind: "retry",
      afterMs: 3000,
    });
  });

  test("never retries a deliberate timeout, an abort, or a final error", () => {
    expect(classifyFailure(new DOMException("late", "TimeoutError"))).toEqual({ kind: "fatal" });
    expect(classifyFailure(new DOMException("stop", "AbortError"))).toEqual({ kind: "fatal" });
    expect(classifyFailure(new WorkerError("E_DOWNLOAD", "404"))).toEqual({ kind: "fatal" });
    expect(classifyFailure(new Error("bug"))).toEqual({ kind: "fatal" });
    expect(classifyFailure(errno("ECONNRESET"), AbortSignal.abort())).toEqual({ kind: "abort" });
  });
});

describe("Retry-After", () => {
  test("reads delta-seconds and HTTP-dates, caps long waits, ignores garbage", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("7", now)).toBe(7000);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:05 GMT", now)).toBe(5000);
    expect(parseRetryAfter("Wed, 31 Dec 2025 23:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("86400", now)).toBe(RETRY_AFTER_MAX_MS);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  test("a host's delay replaces our backoff; otherwise backoff grows with the attempt", () => {
    expect(retryDelayMs({ kind: "retry", afterMs: 4000 }, 1)).toBe(4000);
    const options = { initialMs: 100, maxMs: 10_000 };
    expect(retryDelayMs({ kind: "retry" }, 1, options)).toBeLessThanOrEqual(100);
    expect(retryDelayMs({ kind: "retry" }, 4, options)).toBeGreaterThanOrEqual(400);
  });
});

describe("withRetry", () => {
  test("retries transient failures until success", async () => {
    let calls = 0;
    const value = await withRetry(
      "x",
      async () => {
        calls++;
        if (calls < 3) throw errno("ECONNRESET");
        return "ok";
      },
      { initialMs: 1 },
    );
    expect([value, calls]).toEqual(["ok", 3]);
  });

  test("stops at the attempt cap with a message naming the attempts and the last error", async () => {
    const run = withRetry(
      "probing u",
      async () => {
        throw transientError("u answered HTTP 502", { status: 502 });
      },
      { attempts: 2, initialMs: 1 },
    );
    await expect(run).rejects.toThrow("probing u failed after 2 attempts: u answered HTTP 502; try again later");
  });

  test("turns the caller's abort during a wait into E_INTERRUPTED without another attempt", async () => {
    const controller = new AbortController();
    let calls = 0;
    const run = withRetry(
      "x",
      async () => {
        calls++;
        setTimeout(() => controller.abort(), 5);
        throw errno("ECONNRESET");
      },
      { signal: controller.signal, initialMs: 10_000 },
    );
    await expect(run).rejects.toMatchObject({ code: "E_INTERRUPTED" });
    expect(calls).toBe(1);
  });
});
