import { afterAll, expect, test } from "bun:test";
import { describeFailure } from "../../src/jobs/failure.ts";
import { Redactor } from "../../src/lib/redact.ts";
import { createLogger } from "../../src/log.ts";
import { JobStore } from "../../src/server/job-store.ts";
import { Metrics } from "../../src/server/metrics.ts";
import { primeApp } from "../../src/server/prime-app.ts";
import { fakeComfyHandle } from "../helpers/fake-comfy-handle.ts";

let runs = 0;
const store = new JobStore({
  concurrency: 1,
  resultTtlMs: 60_000,
  timeoutMs: 0,
  execute: async () => ++runs,
  fail: (error) => describeFailure(error, () => [], new Redactor()),
});
afterAll(() => store.drain(0));

test("priming the job routes (behind the API token) runs its jobs on a throwaway store: the worker's sees none", async () => {
  const metrics = new Metrics();
  const completed = await primeApp({
    health: {
      phase: "starting",
      startedAt: 0,
      comfy: fakeComfyHandle(),
      jobs: store,
      weights: { state: "ready", pending: 0, missing: [] },
    },
    metrics,
    log: createLogger({ level: "error", format: "json", redactor: new Redactor(), stream: process.stderr }),
    apiToken: "secret-token",
  });
  // every warm-up job got past auth and the body check and was answered through /runsync
  expect(completed).toBe(8);
  await Bun.sleep(20);
  expect(store.inQueue()).toBe(0);
  expect(runs).toBe(0);
  expect(store.counts).toEqual({ completed: 0, failed: 0, retried: 0 });
});
