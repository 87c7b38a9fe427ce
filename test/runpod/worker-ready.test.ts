import { afterEach, beforeEach, expect, test } from "bun:test";
import { loadConfig } from "../../src/config.ts";
import { WorkerError } from "../../src/errors.ts";
import { createRunpodClient } from "../../src/runpod/client.ts";
import { resolveRunpodUrls } from "../../src/runpod/urls.ts";
import { createRunpodService, type RunpodExecute } from "../../src/worker/runpod-jobs.ts";
import { type FakeRunpod, startFakeRunpod } from "../helpers/fake-runpod.ts";
import { testLog, within } from "./_helpers.ts";

// the take gate behind issue 10 point 1: no take while ComfyUI cannot run jobs, none ever once it never will

let fake: FakeRunpod;
const stops: Array<() => Promise<unknown>> = [];
beforeEach(() => {
  fake = startFakeRunpod({ holdMs: 300 });
});
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
  await fake.close();
});

/** The RunPod loop with `ready` gating its takes; jobs just echo their input. */
function gatedWorker(ready: (signal: AbortSignal) => Promise<void>) {
  const config = loadConfig({ env: { SHUTDOWN_GRACE_S: "2", RUNPOD_PING_INTERVAL: "1000", ...fake.env() } });
  const urls = resolveRunpodUrls(config, fake.workerId);
  const client = createRunpodClient({ urls, apiKey: fake.apiKey, log: testLog });
  const execute: RunpodExecute = async (job) => ({ echo: job.input });
  const { worker } = createRunpodService({ config, client, execute, ready, logs: () => [], log: testLog });
  stops.push(() => worker.stop());
  return worker;
}

test("no job is taken while ComfyUI is not ready; taking starts once it is", async () => {
  let open: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  fake.enqueue({ id: "after-restart", input: { n: 1 } });
  const worker = gatedWorker((signal) =>
    Promise.race([gate, new Promise<void>((r) => signal.addEventListener("abort", () => r()))]),
  );
  void worker.run();
  await fake.waitFor(() => fake.of("ping").length > 0, "the first ping");
  await Bun.sleep(500);
  expect(fake.of("take")).toHaveLength(0);
  expect(fake.queued()).toBe(1);
  open();
  await fake.waitFor(() => fake.accepted("after-restart").length === 1, "the job reported");
});

test("once ComfyUI failed for good the loop takes nothing, ends 'failed' and keeps the reason", async () => {
  const failure = new WorkerError("E_COMFY_DIED", "ComfyUI kept dying");
  fake.enqueue(...Array.from({ length: 5 }, (_, i) => ({ id: `left-${i}`, input: {} })));
  const worker = gatedWorker(() => Promise.reject(failure));
  expect(await within(worker.run(), 10_000, "the loop to end")).toBe("failed");
  expect(worker.failure).toBe(failure);
  expect(fake.of("take")).toHaveLength(0);
  expect(fake.queued()).toBe(5);
});
