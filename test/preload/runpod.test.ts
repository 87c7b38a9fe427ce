import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { tempDir } from "../helpers/download.ts";
import { sd15Workflow } from "../helpers/emulator.ts";
import { type FakeRunpod, startFakeRunpod } from "../helpers/fake-runpod.ts";
import { writeManifest } from "../helpers/pull.ts";
import { startWeightHost, type WeightHost } from "../helpers/weight-host.ts";
import { startRunpodTestWorker } from "../runpod/_helpers.ts";

// RunPod queue mode: no job is taken before the preloads and the warmup are done
const MB = 1_048_576;
const work = tempDir("cw-preload-rp-");
let fake: FakeRunpod;
let host: WeightHost;
beforeAll(() => {
  fake = startFakeRunpod({ holdMs: 500 });
  host = startWeightHost();
});
afterAll(async () => {
  host.stop();
  await fake.close();
  work[Symbol.dispose]();
});

test("serve --mode runpod preloads and warms up before its first job-take", async () => {
  host.serve("/rp.safetensors", { size: 2 * MB, seed: 61, throttleBytesPerSec: 4 * MB });
  const kit = await writeManifest(join(work.dir, "kit.yaml"), [
    { folder: "loras", name: "rp.safetensors", url: host.url("/rp.safetensors"), size: 2 * MB },
  ]);
  const warmup = join(work.dir, "warmup.json");
  await Bun.write(warmup, JSON.stringify(sd15Workflow()));
  fake.enqueue({ id: "rp-1", input: { workflow: sd15Workflow(), overrides: { "3.seed": 5 } } });
  const worker = await startRunpodTestWorker(fake, {
    PRELOAD_KIT: kit,
    WARMUP_WORKFLOW: warmup,
    DOWNLOAD_CONNECTIONS: "1",
  });
  try {
    expect(fake.of("take")).toHaveLength(0);
    expect(worker.health.weights).toMatchObject({ state: "ready", pending: 0 });
    const history = (await (await fetch(`${worker.comfy.url}/history`)).json()) as object;
    expect(Object.keys(history)).toHaveLength(1);
    await fake.waitFor(() => fake.accepted("rp-1").length === 1, "rp-1 reported", 30_000);
    expect(host.bytesSent("/rp.safetensors")).toBe(2 * MB + 1);
  } finally {
    await worker.stop();
  }
}, 60_000);
