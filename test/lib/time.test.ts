import { expect, test } from "bun:test";
import { backoffMs, deadlineSignal, delay, settlesWithin } from "../../src/lib/time.ts";

test("backoff doubles per attempt, is capped, and jitter only shortens it", () => {
  const none = { initialMs: 500, maxMs: 4000, random: () => 0 };
  expect([0, 1, 2, 3, 4, 50].map((a) => backoffMs(a, none))).toEqual([500, 1000, 2000, 4000, 4000, 4000]);
  const most = { initialMs: 1000, maxMs: 30_000, random: () => 0.999_999 };
  expect(backoffMs(0, most)).toBe(500);
  for (let i = 0; i < 100; i++) {
    const ms = backoffMs(0, { initialMs: 1000, maxMs: 30_000 });
    expect(ms).toBeGreaterThanOrEqual(500);
    expect(ms).toBeLessThanOrEqual(1000);
  }
});

test("settlesWithin tells a settled promise (either way) from a slow one", async () => {
  expect(await settlesWithin(Promise.resolve(1), 50)).toBe(true);
  expect(await settlesWithin(Promise.reject(new Error("no")), 50)).toBe(true);
  const started = Date.now();
  expect(await settlesWithin(new Promise(() => undefined), 50)).toBe(false);
  expect(Date.now() - started).toBeGreaterThanOrEqual(45);
});

test("delay resolves true after its time and false at once when aborted", async () => {
  expect(await delay(10)).toBe(true);
  const controller = new AbortController();
  const started = Date.now();
  setTimeout(() => controller.abort(), 20);
  expect(await delay(5000, controller.signal)).toBe(false);
  expect(Date.now() - started).toBeLessThan(1000);
  expect(await delay(5000, controller.signal)).toBe(false);
});

test("deadlineSignal aborts after its time or with its parent, and dispose cancels it", async () => {
  const timed = deadlineSignal(20);
  await delay(60);
  expect(timed.signal.aborted).toBe(true);
  expect((timed.signal.reason as DOMException).name).toBe("TimeoutError");
  const parent = new AbortController();
  const child = deadlineSignal(5000, parent.signal);
  parent.abort();
  expect(child.signal.aborted).toBe(true);
  child.dispose();
  const disposed = deadlineSignal(20);
  disposed.dispose();
  await delay(60);
  expect(disposed.signal.aborted).toBe(false);
});
