import { afterEach, beforeEach, expect, test } from "bun:test";
import { WorkerError } from "../../src/errors.ts";
import type { RunpodExecute } from "../../src/worker/runpod-jobs.ts";
import { type FakeRunpod, startFakeRunpod } from "../helpers/fake-runpod.ts";
import { stubWorker, within } from "./_helpers.ts";

let fake: FakeRunpod;
const stops: Array<() => Promise<unknown>> = [];
beforeEach(() => {
  fake = startFakeRunpod({ holdMs: 500 });
});
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  await fake.close();
});

function start(execute: RunpodExecute, env: Record<string, string> = {}) {
  const service = stubWorker(fake, execute, env);
  const finished = service.worker.run();
  stops.push(() => service.worker.stop());
  return { ...service, finished };
}

/** A job body that runs until released, reporting progress as it goes. */
function gated() {
  const gates = new Map<string, () => void>();
  const execute: RunpodExecute = (job, run) =>
    new Promise((resolve, reject) => {
      run.onProgress({ node: "3", value: 1, max: 10, percent: 10 });
      gates.set(job.id, () => resolve({ echo: job.input }));
      run.signal.addEventListener("abort", () => reject(run.signal.reason), { once: true });
    });
  return { execute, release: (id: string) => gates.get(id)?.(), started: (id: string) => gates.has(id) };
}

test("with two free slots the batch endpoint is used; pings list the jobs while they run", async () => {
  const jobs = gated();
  const { store } = start(jobs.execute, { CONCURRENCY: "2" });
  fake.enqueue({ id: "c1", input: { n: 1 } }, { id: "c2", input: { n: 2 } });
  await fake.waitFor(() => jobs.started("c1") && jobs.started("c2"), "both jobs running");
  expect(fake.of("take-batch")[0]?.query).toMatchObject({ batch_size: "2", job_in_progress: "0" });
  expect(store.inProgress().sort()).toEqual(["c1", "c2"]);
  // the heartbeat is independent of job work: it keeps going while both jobs hold their slots
  const since = Date.now();
  await fake.waitFor(
    () => fake.of("ping").some((p) => p.at > since && p.query.job_id === "c1,c2"),
    "a ping with both ids",
  );
  jobs.release("c1");
  await fake.waitFor(() => fake.results("c1").length === 1, "c1 reported");
  expect(fake.results("c1")[0]?.json).toEqual({ output: { echo: { n: 1 } } });
  // one slot free again: the single take, flagged as still holding a job
  await fake.waitFor(() => fake.of("take").length > 0, "a single take");
  expect(fake.of("take")[0]?.query.job_in_progress).toBe("1");
  jobs.release("c2");
  await fake.waitFor(() => fake.results("c2").length === 1, "c2 reported");
  expect(fake.progress("c1")[0]?.json).toEqual({
    status: "IN_PROGRESS",
    output: { node: "3", value: 1, max: 10, percent: 10 },
  });
}, 20_000);

test("429 on take waits 5 s and 5xx backs off: no hot loop, and jobs still get through", async () => {
  fake.failTakes(429);
  const started = Date.now();
  start(async (job) => ({ ok: job.id }));
  fake.enqueue({ id: "after-429", input: {} });
  await Bun.sleep(3_000);
  expect(fake.of("take").length).toBe(1);
  await fake.waitFor(() => fake.results("after-429").length === 1, "the job after the 429", 10_000);
  expect(Date.now() - started).toBeGreaterThanOrEqual(5_000);

  fake.failTakes(503, 503, 503);
  const before = fake.of("take").length;
  const since = Date.now();
  await Bun.sleep(2_500);
  fake.enqueue({ id: "after-5xx", input: {} });
  const during = fake.of("take").filter((r) => r.at >= since).length;
  // backoff 0.5–1 s, then 1–2 s: at most three takes in 2.5 s (a hot loop would make thousands)
  expect(during).toBeGreaterThanOrEqual(2);
  expect(during).toBeLessThanOrEqual(3);
  await fake.waitFor(() => fake.results("after-5xx").length === 1, "the job after the 5xx", 10_000);
  expect(fake.of("take").length - before).toBeLessThanOrEqual(6);
}, 30_000);

test("a failed job posts the SDK's error keys plus output.details; a bad job object is skipped", async () => {
  start(async () => {
    throw new WorkerError("E_JOB_FAILED", "KSampler (node 3) failed: RuntimeError: boom", {
      details: { exception: { type: "RuntimeError", message: "boom", traceback: ["line 1\n", "line 2\n"] } },
    });
  });
  fake.failTakes(() => Response.json([{ input: {} }, { id: "bad-1", input: {} }]));
  await fake.waitFor(() => fake.results("bad-1").length === 1, "the failure report");
  const body = fake.results("bad-1")[0]?.json;
  expect(body.output.details).toEqual({
    code: "E_JOB_FAILED",
    exception: { type: "RuntimeError", message: "boom", traceback: ["line 1\n", "line 2\n"] },
    last_log_lines: ["last line"],
  });
  const error = JSON.parse(body.error);
  expect(error).toMatchObject({
    error_type: "RuntimeError",
    error_message: "KSampler (node 3) failed: RuntimeError: boom",
    error_traceback: "line 1\nline 2\n",
    hostname: "fake-host",
    worker_id: fake.workerId,
    runpod_version: expect.stringMatching(/^1\.12\.0\+comfy-worker/),
  });
  expect(body.stopPod).toBeUndefined();
}, 20_000);

test("REFRESH_WORKER: the result carries stopPod, no further take is made, and the loop ends", async () => {
  const { finished } = start(async () => ({ done: true }), { REFRESH_WORKER: "true" });
  fake.enqueue({ id: "r1", input: {} }, { id: "r2", input: {} });
  expect(await within(finished, 10_000, "the loop to end")).toBe("refresh");
  expect(fake.results("r1")[0]?.json).toEqual({ output: { done: true }, stopPod: true });
  expect(fake.of("take")).toHaveLength(1);
  expect(fake.results("r2")).toHaveLength(0);
}, 20_000);

test("stop() stops taking, lets the running job finish and report, then ends", async () => {
  const jobs = gated();
  const { worker, finished } = start(jobs.execute);
  fake.enqueue({ id: "s1", input: {} });
  await fake.waitFor(() => jobs.started("s1"), "the job running");
  const stopping = worker.stop();
  const takesAtStop = fake.of("take").length;
  await Bun.sleep(300);
  jobs.release("s1");
  expect(await within(stopping, 10_000, "stop")).toBe("stopped");
  expect(await finished).toBe("stopped");
  expect(fake.results("s1")[0]?.json).toEqual({ output: { echo: {} } });
  expect(fake.of("take").length).toBe(takesAtStop);
}, 20_000);

test("a job still running when the grace period ends is interrupted and not reported", async () => {
  const jobs = gated();
  const { worker } = start(jobs.execute, { SHUTDOWN_GRACE_S: "0.5" });
  fake.enqueue({ id: "g1", input: {} });
  await fake.waitFor(() => jobs.started("g1"), "the job running");
  expect(await within(worker.stop(), 10_000, "stop")).toBe("stopped");
  expect(fake.results("g1")).toHaveLength(0);
}, 20_000);

test("progress is throttled and never posted after the result", async () => {
  start(async (_job, run) => {
    for (let i = 1; i <= 50; i++) {
      run.onProgress({ node: "3", value: i, max: 50, percent: i * 2 });
      await Bun.sleep(20);
    }
    return { ok: true };
  });
  fake.enqueue({ id: "p1", input: {} });
  await fake.waitFor(() => fake.results("p1").length === 1, "the result");
  await Bun.sleep(1_200);
  const posts = fake.of("done").filter((r) => r.jobId === "p1");
  const progress = fake.progress("p1");
  expect(progress.length).toBeGreaterThanOrEqual(1);
  expect(progress.length).toBeLessThanOrEqual(3);
  expect(posts.at(-1)?.json).toEqual({ output: { ok: true } });
}, 20_000);
