import { afterAll, afterEach, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WorkerError } from "../../src/errors.ts";
import { describeFailure } from "../../src/jobs/failure.ts";
import { Redactor } from "../../src/lib/redact.ts";
import { createLogger } from "../../src/log.ts";
import { createApp } from "../../src/server/app.ts";
import { JobStore, type JobStoreOptions } from "../../src/server/job-store.ts";
import { Metrics } from "../../src/server/metrics.ts";
import { ResultFiles } from "../../src/server/result-files.ts";
import { fakeComfyHandle } from "../helpers/fake-comfy-handle.ts";

const RESULT_TTL_MS = 1_800_000;
const parent = mkdtempSync(join(tmpdir(), "cw-retention-"));
const stores: JobStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.drain(0);
});

// a clock the test moves: retention is checked without waiting
function setup(execute: JobStoreOptions["execute"], withFiles = true, minBytes = 1024) {
  const clock = { now: 1_700_000_000_000 };
  const files = withFiles ? new ResultFiles({ parent, minBytes }) : undefined;
  const store = new JobStore({
    concurrency: 1,
    resultTtlMs: RESULT_TTL_MS,
    timeoutMs: 0,
    execute,
    fail: (error) => describeFailure(error, () => [], new Redactor()),
    now: () => clock.now,
    ...(files ? { files } : {}),
  });
  stores.push(store);
  const log = createLogger({ level: "error", format: "json", redactor: new Redactor(), stream: process.stderr });
  const health = { phase: "serving" as const, startedAt: 0, comfy: fakeComfyHandle(), jobs: store };
  const app = createApp({
    health: { ...health, weights: { state: "ready", pending: 0, missing: [] } },
    metrics: new Metrics(),
    log,
  });
  return { store, clock, files, app };
}

const bigOutput = () => ({
  images: [{ filename: "a.png", type: "base64", data: Buffer.alloc(3 * 1_048_576, 7).toString("base64") }],
});
// the same job sent to /runsync (answered when done) and to /run; resolves once the /run one finished too
async function syncAndRun({ store, app }: Pick<ReturnType<typeof setup>, "store" | "app">) {
  const init = {
    method: "POST",
    body: JSON.stringify({ input: { workflow: {} } }),
    headers: { "content-type": "application/json" },
  };
  const sync = (await (await app.request("/runsync", init)).json()) as { id: string };
  const run = (await (await app.request("/run", init)).json()) as { id: string };
  await store.wait(run.id, 2_000);
  return { sync: sync.id, run: run.id };
}

const settled = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await Bun.sleep(5);
  expect(check()).toBe(true);
};

test("a /runsync result is dropped about a minute after it was returned; a /run result lives RESULT_TTL_S", async () => {
  const { store, clock, app } = setup(async () => ({ ok: true }), false);
  const { sync, run } = await syncAndRun({ store, app });
  clock.now += 59_000;
  expect(store.get(sync)?.status).toBe("COMPLETED");
  clock.now += 2_000;
  expect(store.get(sync)).toBeUndefined();
  expect((await app.request(`/status/${sync}`)).status).toBe(404);
  expect(store.get(run)?.status).toBe("COMPLETED");
  clock.now += RESULT_TTL_MS;
  expect(store.sweep()).toBe(0);
});

test("finished jobs keep no input; a failed one keeps it on disk for /retry, which gets it back", async () => {
  let calls = 0;
  const seen: unknown[] = [];
  const { store, files } = setup(async (job) => {
    seen.push(job.request.input);
    if (++calls === 1) throw new WorkerError("E_JOB_FAILED", "first try fails");
    return "ok";
  });
  const input = { workflow: { "1": { class_type: "X", inputs: { text: "y".repeat(4096) } } } };
  const job = store.submit({ input });
  await store.wait(job.id, 2_000);
  await settled(() => job.inputFile !== undefined);
  expect(job.request.input).toEqual({});
  expect(readdirSync(files?.dir as string)).toHaveLength(1);
  await store.retry(job.id);
  await store.wait(job.id, 2_000);
  expect(job.status).toBe("COMPLETED");
  expect(seen).toEqual([input, input]);
  // completed now: its record leaves the heap for its parked file, and the input's file is gone
  await settled(() => store.kept().records === 0 && store.kept().parked === 1);
  await settled(() => readdirSync(files?.dir as string).length === 1);
});

test("a large output waits on disk, is served back byte-identical, and its file goes when the job expires", async () => {
  const output = bigOutput();
  const { store, clock, files, app } = setup(async () => output);
  const job = store.submit({ input: { workflow: {} } });
  await store.wait(job.id, 2_000);
  await settled(() => store.kept().parked === 1);
  expect(store.kept().records).toBe(0);
  expect(readdirSync(files?.dir as string)).toHaveLength(1);
  for (const method of ["GET", "POST"]) {
    const res = await app.request(`/status/${job.id}`, { method });
    expect(res.headers.get("content-type")).toContain("application/json");
    const view = (await res.json()) as { id: string; status: string; output: unknown };
    expect(view).toMatchObject({ id: job.id, status: "COMPLETED" });
    expect(view.output).toEqual(output);
  }
  clock.now += RESULT_TTL_MS + 1;
  store.sweep();
  await settled(() => readdirSync(files?.dir as string).length === 0);
});

test("a /runsync result is answered from memory, then parked on disk for its last minute: no record in the heap", async () => {
  const output = bigOutput();
  const { store, clock, files, app } = setup(async () => output);
  const body = JSON.stringify({ input: { workflow: {} } });
  const res = await app.request("/runsync", { method: "POST", body, headers: { "content-type": "application/json" } });
  const view = (await res.json()) as { id: string; status: string; output: unknown; executionTime: number };
  expect(view.status).toBe("COMPLETED");
  expect(view.output).toEqual(output);
  await settled(() => store.kept().parked === 1);
  expect(store.kept().records).toBe(0);
  expect(readdirSync(files?.dir as string)).toHaveLength(1);
  // read again, twice: the same status object, streamed from the parked file, which it stays in
  for (let i = 0; i < 2; i++) expect(await (await app.request(`/status/${view.id}`)).json()).toEqual(view);
  expect(store.kept()).toEqual({ records: 0, parked: 1 });
  clock.now += 61_000;
  expect(store.sweep()).toBe(0);
  await settled(() => readdirSync(files?.dir as string).length === 0);
});

test("a parked /runsync result nobody reads again goes with its file after a minute; a shorter policy.ttl wins", async () => {
  const { store, clock, files, app } = setup(async () => ({ text: "small" }));
  const post = async (request: object) =>
    (await (
      await app.request("/runsync", {
        method: "POST",
        body: JSON.stringify(request),
        headers: { "content-type": "application/json" },
      })
    ).json()) as { id: string };
  const minute = await post({ input: { workflow: {} } });
  const short = await post({ input: { workflow: {} }, policy: { ttl: 20_000 } });
  await settled(() => store.kept().parked === 2);
  clock.now += 21_000;
  expect((await app.request(`/status/${short.id}`)).status).toBe(404);
  expect(store.get(minute.id)?.status).toBe("COMPLETED");
  clock.now += 40_000;
  expect(store.sweep()).toBe(0);
  expect((await app.request(`/status/${minute.id}`)).status).toBe(404);
  await settled(() => readdirSync(files?.dir as string).length === 0);
});

test("a failed /runsync result is not parked: it keeps its record and its input, for /retry", async () => {
  let calls = 0;
  const { store, app } = setup(async () => {
    if (++calls === 1) throw new WorkerError("E_JOB_FAILED", "first try fails");
    return { ok: true };
  });
  const init = {
    method: "POST",
    body: JSON.stringify({ input: { workflow: { "1": { class_type: "X", inputs: { text: "y".repeat(4096) } } } } }),
    headers: { "content-type": "application/json" },
  };
  const { id, status } = (await (await app.request("/runsync", init)).json()) as { id: string; status: string };
  expect(status).toBe("FAILED");
  await settled(() => store.get(id)?.inputFile !== undefined);
  expect(store.kept()).toEqual({ records: 1, parked: 0 });
  // RunPod's answer: the state the job was put in, though an idle runner takes it at once
  expect(await (await app.request(`/retry/${id}`, { method: "POST" })).json()).toEqual({ id, status: "IN_QUEUE" });
  await store.wait(id, 2_000);
  expect(store.get(id)?.status).toBe("COMPLETED");
});

test("small outputs stay in memory; the folder is removed when the store drains, and stale ones by the next worker", async () => {
  const { store, files } = setup(async () => ({ text: "small" }));
  const job = store.submit({ input: { workflow: {} } });
  await store.wait(job.id, 2_000);
  await Bun.sleep(10);
  expect(job.output).toEqual({ text: "small" });
  expect(job.outputFile).toBeUndefined();
  await store.drain(0);
  expect(existsSync(files?.dir as string)).toBe(false);
  // a folder named for a pid that no longer runs is what a SIGKILLed worker leaves behind
  const stale = join(parent, "comfy-worker-results-999999999-abc");
  await Bun.write(join(stale, "1.json"), "{}");
  new ResultFiles({ parent }).close();
  expect(existsSync(stale)).toBe(false);
});

test("when the disk refuses a parked file, small outputs share a 4 MiB in-memory budget and come back intact", async () => {
  // outputs of about 1 MiB count as small here (minBytes 2 MiB): the fifth no longer fits in memory
  const output = (n: number) => ({ text: `${n}`.padEnd(1_048_000, "x") });
  let n = 0;
  const { store, files, app } = setup(async () => output(++n), true, 2 * 1_048_576);
  // a record and its output in one file is what the disk refuses here; single spills still work
  if (files) files.spillParts = async () => Promise.reject(new Error("ENOSPC"));
  const jobs = [];
  for (let i = 0; i < 5; i++) {
    const job = store.submit({ input: { workflow: {} } });
    await store.wait(job.id, 2_000);
    await settled(() => job.output === undefined || job.keptBytes !== undefined);
    jobs.push(job);
  }
  expect(store.kept()).toEqual({ records: 5, parked: 0 });
  expect(jobs.map((job) => job.outputFile === undefined)).toEqual([true, true, true, true, false]);
  const last = (await (await app.request(`/status/${jobs[4]?.id}`)).json()) as { output: unknown };
  expect(last.output).toEqual(output(5));
});

test("small results, /runsync's and /run's alike, leave the heap for their files and are read back from them", async () => {
  const { store, app } = setup(async () => ({ text: "small" }));
  const { sync, run } = await syncAndRun({ store, app });
  await settled(() => store.kept().parked === 2);
  expect(store.kept().records).toBe(0);
  for (const id of [sync, run]) {
    expect(store.get(id)?.outputFile).toBeDefined();
    expect(store.get(id)?.keptBytes).toBeUndefined();
    const again = (await (await app.request(`/status/${id}`)).json()) as { output: unknown };
    expect(again.output).toEqual({ text: "small" });
  }
  // reads never bring a record back to the heap
  expect(store.kept()).toEqual({ records: 0, parked: 2 });
});

test("a result /runsync returned keeps only its last progress chunk; a /run job keeps its whole stream", async () => {
  const chunk = (value: number) => ({ node: "3", value, max: 3, percent: (value / 3) * 100 });
  const { store, app } = setup(async (_job, execution) => {
    for (const value of [1, 2, 3]) execution.onProgress(chunk(value));
    return { ok: true };
  });
  const { sync, run } = await syncAndRun({ store, app });
  // settled chunks wait as one string in the parked file, not as objects
  await settled(() => store.kept().parked === 2);
  for (const id of [sync, run]) {
    expect(store.get(id)?.streamText).toBeDefined();
    expect(store.get(id)?.stream).toEqual([]);
  }
  const stream = async (id: string) =>
    ((await (await app.request(`/stream/${id}`, { method: "POST" })).json()) as { stream: unknown[] }).stream;
  expect(await stream(sync)).toEqual([{ output: chunk(3) }]);
  expect(await stream(run)).toEqual([chunk(1), chunk(2), chunk(3)].map((output) => ({ output })));
  // each chunk is handed out once, although the parked file still holds it
  expect(await stream(run)).toEqual([]);
  expect(await stream(sync)).toEqual([]);
});

test("a settle timed before the store drained does nothing: no file, no collection, for a store that is gone", async () => {
  const { store, app } = setup(async () => ({ ok: true }), false);
  const { sync } = await syncAndRun({ store, app });
  const job = store.get(sync);
  await store.drain(0);
  // /runsync's settle waits 200 ms after the answer; by then the store is gone and the record is left as it was
  await Bun.sleep(300);
  expect(job?.request.input).toEqual({ workflow: {} });
});

afterAll(() => rmSync(parent, { recursive: true, force: true }));
