import { afterAll, expect, test } from "bun:test";
import type { WorkerHandle } from "../../src/worker/start.ts";
import { freePort, type SpawnedEmulator, spawnEmulator } from "../helpers/emulator.ts";
import { eventually, type Json, jsonPost, startAttachedWorker } from "../helpers/worker.ts";

// An attached ComfyUI that hangs mid-job (SIGSTOP) fails that job; once it answers again (SIGCONT), the failed job's
// prompt must not run on ahead of later jobs.
let emulator: SpawnedEmulator | undefined;
let worker: WorkerHandle | undefined;
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  if (emulator) process.kill(emulator.proc.pid, "SIGCONT");
  await worker?.stop();
  await emulator?.stop();
  for (const cleanup of cleanups) await cleanup();
});

test("a job failed by a hung attached ComfyUI has its prompt taken out once ComfyUI answers again", async () => {
  emulator = await spawnEmulator({ args: ["--node-ms", "1000"] });
  worker = await startAttachedWorker(emulator.url, { COMFY_HEALTH_INTERVAL_S: "0.2", COMFY_HEALTH_TIMEOUT_S: "1" });
  const w = worker;
  const workflow = {
    "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
    "2": { class_type: "ImageInvert", inputs: { image: ["1", 0] } },
    "3": { class_type: "ImageInvert", inputs: { image: ["2", 0] } },
    "4": { class_type: "ImageInvert", inputs: { image: ["3", 0] } },
    "5": { class_type: "ImageInvert", inputs: { image: ["4", 0] } },
    "6": { class_type: "SaveImage", inputs: { images: ["5", 0], filename_prefix: "hang" } },
  };
  const { id } = (await (await fetch(`${w.url}/run`, jsonPost({ input: { workflow } }))).json()) as Json;
  const status = async () => (await (await fetch(`${w.url}/status/${id}`)).json()) as Json;
  await eventually(async () => (await status()).status === "IN_PROGRESS", "the job running", 10_000);
  const pid = emulator.proc.pid;
  process.kill(pid, "SIGSTOP");
  await eventually(async () => (await status()).status === "FAILED", "the job failed", 15_000);
  expect((await status()).error).toContain("jobs wait until it answers again");
  process.kill(pid, "SIGCONT");
  // its prompt ends interrupted, not run to the end
  const url = emulator.url;
  let entry: Json | undefined;
  await eventually(
    async () => {
      const history = (await (await fetch(`${url}/history`)).json()) as Record<string, Json>;
      entry = Object.values(history).find((e) => e.prompt?.[3]?.comfy_worker_job_id === id);
      return entry !== undefined;
    },
    "the prompt to end",
    20_000,
  );
  const events = ((entry?.status.messages ?? []) as [string, unknown][]).map(([event]) => event);
  expect(events).toContain("execution_interrupted");
  expect(events).not.toContain("execution_success");
}, 60_000);

test("COMFY_READY_TIMEOUT_S bounds the wait for an attached ComfyUI at start", async () => {
  const url = `http://127.0.0.1:${await freePort()}`;
  const outcome = await Promise.race([
    startAttachedWorker(url, { COMFY_READY_TIMEOUT_S: "1" }).then(
      (started) => started.stop().then(() => "started"),
      (error: Error) => error.message,
    ),
    Bun.sleep(15_000).then(() => "still waiting"),
  ]);
  expect(outcome).toContain("did not answer GET /system_stats within 1 s");
}, 30_000);

test("a job sent to an attached ComfyUI that has just gone waits for it to come back, rather than failing", async () => {
  const first = await spawnEmulator();
  const port = first.port;
  // probed rarely: the worker still believes ComfyUI is ready when the job's prompt is refused
  const w = await startAttachedWorker(first.url, { COMFY_HEALTH_INTERVAL_S: "30" });
  cleanups.push(() => w.stop());
  await first.stop();
  const workflow = {
    "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
    "2": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "back" } },
  };
  const { id } = (await (await fetch(`${w.url}/run`, jsonPost({ input: { workflow } }))).json()) as Json;
  await Bun.sleep(300);
  const again = await spawnEmulator({ port });
  cleanups.push(() => again.stop());
  const done = (await (await fetch(`${w.url}/status-sync/${id}?wait=30000`)).json()) as Json;
  expect(done.status).toBe("COMPLETED");
  expect(done.output.images).toHaveLength(1);
}, 60_000);

test("a job failing on an attached ComfyUI carries ComfyUI's lines from its own run, and GET /logs shows them", async () => {
  const emu = await spawnEmulator({ args: ["--fail-node", "ImageInvert"] });
  cleanups.push(() => emu.stop());
  const w = await startAttachedWorker(emu.url);
  cleanups.push(() => w.stop());
  const workflow = {
    "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
    "2": { class_type: "ImageInvert", inputs: { image: ["1", 0] } },
    "3": { class_type: "SaveImage", inputs: { images: ["2", 0], filename_prefix: "fails" } },
  };
  const result = (await (await fetch(`${w.url}/runsync?wait=30000`, jsonPost({ input: { workflow } }))).json()) as Json;
  expect(result.status).toBe("FAILED");
  const lines = result.output.details.last_log_lines as string[];
  expect(lines.some((line) => line.includes("Traceback"))).toBe(true);
  // only this job's run: not ComfyUI's start-up banner
  expect(lines.some((line) => line.includes("Starting server"))).toBe(false);
  const logs = await (await fetch(`${w.url}/logs`)).text();
  expect(logs).toContain("Traceback");
}, 60_000);
