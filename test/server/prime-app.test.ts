import { afterAll, expect, test } from "bun:test";
import { describeFailure } from "../../src/jobs/failure.ts";
import { Redactor } from "../../src/lib/redact.ts";
import { createLogger } from "../../src/log.ts";
import { createApp, primeApp } from "../../src/server/app.ts";
import { JobStore } from "../../src/server/job-store.ts";
import { Metrics } from "../../src/server/metrics.ts";
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

test("priming the job routes in-process (with the API token) queues and runs nothing", async () => {
  const seen: string[] = [];
  const app = createApp({
    health: {
      phase: "starting",
      startedAt: 0,
      comfy: fakeComfyHandle(),
      jobs: store,
      weights: { state: "ready", pending: 0, missing: [] },
    },
    metrics: new Metrics(),
    log: createLogger({ level: "error", format: "json", redactor: new Redactor(), stream: process.stderr }),
    apiToken: "secret-token",
  });
  const fetch = async (request: Request) => {
    const response = await app.fetch(request);
    seen.push(`${new URL(request.url).pathname} ${response.status}`);
    return response;
  };
  await primeApp({ fetch }, "secret-token");
  // the request got past auth to the body check, so the route's own path ran
  expect(seen).toEqual(["/runsync 400"]);
  await Bun.sleep(20);
  expect(store.inQueue()).toBe(0);
  expect(runs).toBe(0);
  expect(store.counts).toEqual({ completed: 0, failed: 0, retried: 0 });
});
