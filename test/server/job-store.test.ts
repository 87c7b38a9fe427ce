import { afterEach, expect, test } from "bun:test";
import { WorkerError } from "../../src/errors.ts";
import { describeFailure } from "../../src/jobs/failure.ts";
import { Redactor } from "../../src/lib/redact.ts";
import { type JobExecution, type JobRecord, JobStore, type JobStoreOptions } from "../../src/server/job-store.ts";

const stores: JobStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.drain(0);
});

function createStore(execute: JobStoreOptions["execute"], options: Partial<JobStoreOptions> = {}): JobStore {
  const store = new JobStore({
    concurrency: 1,
    resultTtlMs: 60_000,
    timeoutMs: 0,
    execute,
    fail: (error) => describeFailure(error, () => ["comfy line"], new Redactor()),
    ...options,
  });
  stores.push(store);
  return store;
}

/** An execute function whose jobs finish when the test says so. */
function controlled() {
  const pending = new Map<string, { resolve: (v: unknown) => void; execution: JobExecution }>();
  const execute = (job: JobRecord, execution: JobExecution) =>
    new Promise<unknown>((resolve, reject) => {
      pending.set(job.id, { resolve, execution });
      execution.signal.addEventListener("abort", () => reject(execution.signal.reason));
    });
  return { pending, execute };
}

test("runs jobs in order with delayTime and executionTime", async () => {
  const store = createStore(async (job) => ({ echo: job.request.input }));
  const job = store.submit({ input: { a: 1 } });
  expect(job.status).toBe("IN_QUEUE");
  await store.wait(job.id, 2_000);
  const view = store.view(job);
  expect(view).toMatchObject({ id: job.id, status: "COMPLETED", output: { echo: { a: 1 } } });
  expect(view.delayTime).toBeGreaterThanOrEqual(0);
  expect(view.executionTime).toBeGreaterThanOrEqual(0);
  expect(store.counts.completed).toBe(1);
});

test("honours CONCURRENCY", async () => {
  const { pending, execute } = controlled();
  const store = createStore(execute, { concurrency: 2 });
  const jobs = [1, 2, 3].map(() => store.submit({ input: {} }));
  await Bun.sleep(20);
  expect(jobs.map((job) => job.status)).toEqual(["IN_PROGRESS", "IN_PROGRESS", "IN_QUEUE"]);
  pending.get(jobs[0]?.id as string)?.resolve("done");
  await store.wait(jobs[0]?.id as string, 1_000);
  await Bun.sleep(20);
  expect(jobs[2]?.status).toBe("IN_PROGRESS");
});

test("a failing job is FAILED with error and output.details", async () => {
  const store = createStore(async () => {
    throw new WorkerError("E_JOB_FAILED", "KSampler (node 3) failed: RuntimeError: boom", {
      details: { exception: { type: "RuntimeError" } },
    });
  });
  const job = store.submit({ input: {} });
  await store.wait(job.id, 1_000);
  expect(store.view(job)).toMatchObject({
    status: "FAILED",
    error: "KSampler (node 3) failed: RuntimeError: boom",
    output: { details: { code: "E_JOB_FAILED", exception: { type: "RuntimeError" }, last_log_lines: ["comfy line"] } },
  });
  expect(store.counts.failed).toBe(1);
});

test("cancels a queued job at once and a running one through its signal", async () => {
  const { execute } = controlled();
  const store = createStore(execute);
  const running = store.submit({ input: {} });
  const queued = store.submit({ input: {} });
  await Bun.sleep(10);
  store.cancel(queued.id);
  expect(queued.status).toBe("CANCELLED");
  store.cancel(running.id);
  await store.wait(running.id, 1_000);
  expect(running.status).toBe("CANCELLED");
});

test("a cancelled running job stays CANCELLED while it winds down, and keeps its slot until it has stopped", async () => {
  let release = () => {};
  const stopped = new Promise<void>((resolve) => {
    release = resolve;
  });
  const started: string[] = [];
  // like ComfyUI: the interrupt takes a while, then the run fails as interrupted
  const store = createStore(async (job, execution) => {
    started.push(job.id);
    if (started.length > 1) return "next";
    await new Promise((resolve) => execution.signal.addEventListener("abort", resolve));
    await stopped;
    throw new WorkerError("E_JOB_FAILED", "the prompt was interrupted in ComfyUI");
  });
  const running = store.submit({ input: {} });
  const next = store.submit({ input: {} });
  await store.wait(running.id, 50);
  expect(store.cancel(running.id)?.status).toBe("CANCELLED");
  for (let i = 0; i < 5; i++) {
    await Bun.sleep(5);
    expect(store.view(running)).toMatchObject({ status: "CANCELLED", error: "the job was cancelled" });
    expect(next.status).toBe("IN_QUEUE");
  }
  release();
  await store.wait(next.id, 2_000);
  expect(store.view(running)).toMatchObject({ status: "CANCELLED", error: "the job was cancelled" });
  expect(store.view(running).output).toBeUndefined();
  expect(next.status).toBe("COMPLETED");
  // a cancelled job did not fail
  expect(store.counts).toMatchObject({ completed: 1, failed: 0 });
});

test("a job past its execution timeout is TIMED_OUT at once while ComfyUI winds it down, and keeps its slot", async () => {
  let release = () => {};
  const stopped = new Promise<void>((resolve) => {
    release = resolve;
  });
  const store = createStore(
    async (job, execution) => {
      if (job.request.input.next) return "next";
      await new Promise((resolve) => execution.signal.addEventListener("abort", resolve));
      await stopped;
      throw new WorkerError("E_JOB_FAILED", "the prompt was interrupted in ComfyUI");
    },
    { timeoutMs: 30 },
  );
  const slow = store.submit({ input: {} });
  const next = store.submit({ input: { next: true } });
  await store.wait(slow.id, 2_000);
  expect(store.view(slow)).toMatchObject({ status: "TIMED_OUT", error: expect.stringContaining("execution timeout") });
  expect(next.status).toBe("IN_QUEUE");
  release();
  await store.wait(next.id, 2_000);
  expect(store.view(slow).status).toBe("TIMED_OUT");
  expect(next.status).toBe("COMPLETED");
  expect(store.counts).toMatchObject({ completed: 1, failed: 1 });
});

test("jobs cancelled by a shutdown say so, queued and running alike", async () => {
  const { execute } = controlled();
  const store = createStore(execute);
  const running = store.submit({ input: {} });
  const queued = store.submit({ input: {} });
  await store.wait(running.id, 20);
  await store.drain(0);
  expect(store.view(queued)).toMatchObject({ status: "CANCELLED", error: "cancelled: the worker shut down" });
  expect(store.view(running)).toMatchObject({
    status: "CANCELLED",
    error: "cancelled: the worker shut down before the job finished",
  });
  expect(store.purge()).toBe(0);
});

test("times out a job past policy.executionTimeout", async () => {
  const { execute } = controlled();
  const store = createStore(execute);
  const job = store.submit({ input: {}, policy: { executionTimeout: 50 } });
  await store.wait(job.id, 2_000);
  expect(store.view(job)).toMatchObject({
    status: "TIMED_OUT",
    error: "the job ran past its 0.05 s execution timeout",
  });
});

test("streams each progress chunk once and long-polls for new ones", async () => {
  const { pending, execute } = controlled();
  const store = createStore(execute);
  const job = store.submit({ input: {} });
  await Bun.sleep(10);
  const { execution, resolve } = pending.get(job.id) as { execution: JobExecution; resolve: (v: unknown) => void };
  setTimeout(() => execution.onProgress({ node: "3", value: 1, max: 4, percent: 25 }), 30);
  expect(await store.takeStream(job.id, 2_000)).toEqual([{ node: "3", value: 1, max: 4, percent: 25 }]);
  expect(store.view(job).output).toEqual({ node: "3", value: 1, max: 4, percent: 25 });
  execution.onProgress({ node: "3", value: 2, max: 4, percent: 50 });
  resolve({ ok: true });
  await store.wait(job.id, 1_000);
  expect(await store.takeStream(job.id, 10)).toEqual([{ node: "3", value: 2, max: 4, percent: 50 }]);
  expect(await store.takeStream(job.id, 10)).toEqual([]);
});

test("retries only FAILED or TIMED_OUT jobs, under the same id", async () => {
  let calls = 0;
  const store = createStore(async () => {
    calls++;
    if (calls === 1) throw new WorkerError("E_JOB_FAILED", "first try fails");
    return "second try works";
  });
  const job = store.submit({ input: {} });
  await store.wait(job.id, 1_000);
  expect(job.status).toBe("FAILED");
  await store.retry(job.id);
  await store.wait(job.id, 1_000);
  expect(store.view(job)).toMatchObject({ id: job.id, status: "COMPLETED", output: "second try works" });
  await expect(store.retry(job.id)).rejects.toThrow("only FAILED or TIMED_OUT");
});

test("purge removes queued jobs only", async () => {
  const { execute } = controlled();
  const store = createStore(execute);
  const running = store.submit({ input: {} });
  store.submit({ input: {} });
  store.submit({ input: {} });
  await Bun.sleep(10);
  expect(store.purge()).toBe(2);
  expect(running.status).toBe("IN_PROGRESS");
  expect(store.inQueue()).toBe(0);
});

test("forgets results after the result TTL", async () => {
  const store = createStore(async () => "x", { resultTtlMs: 30 });
  const job = store.submit({ input: {} });
  await store.wait(job.id, 1_000);
  expect(store.get(job.id)).toBeDefined();
  await Bun.sleep(50);
  expect(store.get(job.id)).toBeUndefined();
});

test("refuses new jobs once draining", async () => {
  const store = createStore(async () => "x");
  await store.drain(0);
  expect(() => store.submit({ input: {} })).toThrow("shutting down");
});
