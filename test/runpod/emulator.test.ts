import { afterAll, beforeAll, expect, test } from "bun:test";
import { failureDetailsSchema } from "../../src/jobs/schema.ts";
import { sd15Workflow } from "../helpers/emulator.ts";
import { type FakeRunpod, startFakeRunpod } from "../helpers/fake-runpod.ts";
import { jsonPost, startTestWorker, stopAfterEach } from "../helpers/worker.ts";
import { startRunpodTestWorker } from "./_helpers.ts";

// biome-ignore lint/suspicious/noExplicitAny: job bodies are inspected freely
type Json = Record<string, any>;
type Worker = Awaited<ReturnType<typeof startRunpodTestWorker>>;
let fake: FakeRunpod;
const track = stopAfterEach();
beforeAll(() => {
  fake = startFakeRunpod({ holdMs: 1_000 });
});
afterAll(async () => {
  await fake.close();
});

async function worker(env: Record<string, string> = {}): Promise<Worker> {
  const started = await startRunpodTestWorker(fake, env);
  track(started);
  return started;
}

/**
 * The job whose prompt ComfyUI is executing. Every prompt shares the worker's one client id; a queue entry is
 * [number, prompt_id, prompt, extra_data, outputs], and extra_data names the job.
 */
async function runningJob(w: Worker): Promise<string> {
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
    const queue = (await (await fetch(`${w.comfy.url}/queue`)).json()) as { queue_running: unknown[][] };
    const extra = queue.queue_running[0]?.[3] as { comfy_worker_job_id?: string } | undefined;
    if (extra?.comfy_worker_job_id) return extra.comfy_worker_job_id;
    await Bun.sleep(25);
  }
  throw new Error("no prompt is running in ComfyUI");
}

// a distinct seed per job: ComfyUI (and the emulator) answer an identical prompt from cache, without progress
function job(id: string, seed: number, extra: Json = {}) {
  return { id, input: { workflow: sd15Workflow(), overrides: { "3.seed": seed }, ...extra } };
}

test("concurrency 1: several jobs through the emulator; a job-done answered 500 twice is retried", async () => {
  const w = await worker({ COMFY_ARGS: "--node-ms 30" });
  fake.failDone("one-2", 500, 500);
  fake.enqueue(job("one-1", 1), job("one-2", 2), job("one-3", 3));
  for (const id of ["one-1", "one-2", "one-3"])
    await fake.waitFor(() => fake.accepted(id).length === 1, `${id} reported`, 30_000);
  for (const id of ["one-1", "one-3"]) expect(fake.results(id)).toHaveLength(1);
  expect(fake.results("one-2").map((r) => r.answered)).toEqual([500, 500, 200]);
  const output = fake.results("one-1")[0]?.json.output as Json;
  expect(output.images).toHaveLength(1);
  expect(output.images[0]).toMatchObject({ node_id: "9", type: "base64", mime: "image/png" });
  expect(output.prompt_id).toEqual(expect.any(String));
  expect(fake.progress("one-1").length).toBeGreaterThan(0);
  // one slot: never the batch endpoint
  expect(fake.of("take-batch")).toHaveLength(0);
  const health = (await (await fetch(`${w.url}/health`)).json()) as Json;
  expect(health).toMatchObject({ status: "ready", jobs: { completed: 3, failed: 0, inProgress: 0 } });
}, 60_000);

test("concurrency 2: batch take, pings list both held jobs, a stop interrupts the running one in ComfyUI", async () => {
  const w = await worker({ CONCURRENCY: "2", COMFY_ARGS: "--node-ms 500" });
  fake.enqueue(job("two-1", 11), job("two-2", 12));
  await fake.waitFor(
    () => fake.of("ping").some((p) => /two-1/.test(p.query.job_id ?? "") && /two-2/.test(p.query.job_id ?? "")),
    "a ping listing both jobs",
    30_000,
  );
  expect(fake.of("take-batch").some((r) => r.query.batch_size === "2")).toBe(true);
  // ComfyUI runs one prompt at a time: stop the one it is running now, keep the other
  const running = await runningJob(w);
  const waiting = running === "two-1" ? "two-2" : "two-1";
  fake.stopJob(running);
  await fake.waitFor(() => fake.results(waiting).length === 1, `${waiting} reported`, 30_000);
  await fake.waitFor(
    () => w.comfy.logs(500).some((line) => line.includes("Processing interrupted")),
    "ComfyUI interrupted",
    20_000,
  );
  // a stopped job is cancelled, not failed; its run has ended once nothing is in progress
  await fake.waitFor(() => w.health.jobs.inProgress().length === 0, "the stopped job finished");
  expect(w.health.jobs.counts.failed).toBe(0);
  // no result is posted for a job the platform stopped (§1.12)
  expect(fake.results(running)).toHaveLength(0);
  expect(fake.results(waiting)[0]?.json.output.images).toHaveLength(1);
}, 60_000);

test("a failing job has the same output.details in RunPod mode as in API mode", async () => {
  const input = { workflow: { ...sd15Workflow(), "20": { class_type: "IPAdapterAdvanced", inputs: {} } } };
  await worker();
  fake.enqueue({ id: "fail-1", input });
  await fake.waitFor(() => fake.results("fail-1").length === 1, "the failure report", 30_000);
  const body = fake.results("fail-1")[0]?.json as Json;
  const api = await startTestWorker();
  track(api);
  const view = (await (await api.api("/runsync", jsonPost({ input }))).json()) as Json;
  expect(view.status).toBe("FAILED");
  expect(failureDetailsSchema().safeParse(body.output.details).success).toBe(true);
  const strip = (details: Json) => ({
    ...details,
    last_log_lines: details.last_log_lines.length > 0,
    last_log_lines_window: Boolean(details.last_log_lines_window),
  });
  expect(strip(body.output.details)).toEqual(strip(view.output.details));
  expect(body.output.details).toMatchObject({ code: "E_UNKNOWN_NODE", unknown_nodes: ["IPAdapterAdvanced"] });
  const error = JSON.parse(body.error) as Json;
  expect(error.error_message).toBe(view.error);
  expect(error).toMatchObject({ error_type: "E_UNKNOWN_NODE", hostname: "fake-host", worker_id: fake.workerId });
}, 60_000);
