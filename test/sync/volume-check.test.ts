import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { Inventory } from "../../src/volume/inventory.ts";
import { runCliCaptured } from "../helpers/cli.ts";
import { eventually, startTestWorker, stopAfterEach } from "../helpers/worker.ts";
import { modelsDir, startVolumeServer, syncEnv, type VolumeServer } from "./_harness.ts";

const CORPUS = join(import.meta.dir, "../../../shared/corpus/workflows");
const LORA_STACK = join(CORPUS, "api-sd15-lora-stack.json");
const API_KEY = "rpa_volume_check_key_01";
let server: VolumeServer;
let rest: ReturnType<typeof Bun.serve>;
const track = stopAfterEach();

beforeAll(async () => {
  server = await startVolumeServer(["vol-a"]);
  rest = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/v1/endpoints/ep-a") return Response.json({ id: "ep-a", networkVolumeIds: ["vol-a"] });
      if (path === "/v1/networkvolumes/vol-a")
        return Response.json({ id: "vol-a", dataCenterId: "EU-RO-1", name: "m", size: 50 });
      return Response.json({ error: "not found" }, { status: 404 });
    },
  });
  // the volume holds the checkpoint and one of the two LoRAs of the corpus workflow
  const dir = await modelsDir({
    "checkpoints/v1-5-pruned-emaonly.ckpt": "ckpt",
    "loras/epiNoiseoffset_v2.safetensors": "lora",
  });
  const sync = await runCliCaptured(
    ["sync", dir, "--volume", "vol-a", "--endpoint-url", server.endpoint],
    syncEnv(server),
  );
  expect(sync.code).toBe(0);
});
afterAll(async () => {
  rest.stop(true);
  await server.stop();
});

const env = () => ({
  ...syncEnv(server),
  RUNPOD_API_KEY: API_KEY,
  RUNPOD_REST_BASE_URL: `http://127.0.0.1:${rest.port}/v1`,
});
const put = (key: string, body: string) =>
  server.sdk.send(new PutObjectCommand({ Bucket: "vol-a", Key: key, Body: body }));

test("check --volume finds what the volume holds under the image's model paths and names what it lacks", async () => {
  const result = await runCliCaptured(
    ["check", LORA_STACK, "--volume", "vol-a", "--endpoint-url", server.endpoint, "--json"],
    env(),
  );
  expect(result.code).toBe(3);
  const report = JSON.parse(result.stdout);
  const weights = report.volumes[0].workflows[0].weights.map((w: { name: string; status: string; path?: string }) => [
    w.name,
    w.status,
    w.path,
  ]);
  expect(weights).toContainEqual([
    "v1-5-pruned-emaonly.ckpt",
    "present",
    "/runpod-volume/models/checkpoints/v1-5-pruned-emaonly.ckpt",
  ]);
  expect(weights).toContainEqual([
    "epiNoiseoffset_v2.safetensors",
    "present",
    "/runpod-volume/models/loras/epiNoiseoffset_v2.safetensors",
  ]);
  expect(weights).toContainEqual(["theovercomer8sContrastFix_sd15.safetensors", "missing", undefined]);
  const text = await runCliCaptured(
    ["check", LORA_STACK, "--volume", "vol-a", "--endpoint-url", server.endpoint],
    env(),
  );
  expect(text.stdout).toContain("volume vol-a");
  expect(text.stdout).toContain("theovercomer8sContrastFix_sd15.safetensors");
});

test("a worker publishes its node inventory at start-up; check --endpoint reads the newest and catches node types the workers lack", async () => {
  const models = mkdtempSync(join(tmpdir(), "cw-inventory-"));
  const yaml = join(models, "paths.yaml");
  await Bun.write(
    yaml,
    `vol:\n  base_path: ${models}\n  is_default: true\n  checkpoints: checkpoints\n  loras: loras\n`,
  );
  track(await startTestWorker({ RUNPOD_POD_ID: "pod-new", EXTRA_MODEL_PATHS: yaml }));
  const written = join(models, ".comfy-worker/inventory/pod-new.json");
  await eventually(() => Bun.file(written).exists(), "the worker's inventory file");
  const inventory = Inventory.parse(await Bun.file(written).json());
  expect(inventory.worker_id).toBe("pod-new");
  expect(inventory.packs["comfy-core"]).toContain("KSampler");

  // what the worker wrote on its volume mount, as the volume's S3 API shows it; plus an older, smaller one
  const withoutLora = {
    ...inventory,
    packs: { "comfy-core": inventory.packs["comfy-core"]?.filter((n) => n !== "LoraLoader") ?? [] },
  };
  await put(
    "models/.comfy-worker/inventory/pod-old.json",
    JSON.stringify({
      ...inventory,
      worker_id: "pod-old",
      written_at: "2020-01-01T00:00:00.000Z",
      packs: { "comfy-core": ["KSampler"] },
    }),
  );
  await put("models/.comfy-worker/inventory/pod-new.json", JSON.stringify(withoutLora));
  await put("models/loras/theovercomer8sContrastFix_sd15.safetensors", "lora");
  const result = await runCliCaptured(
    ["check", LORA_STACK, "--endpoint", "ep-a", "--endpoint-url", server.endpoint, "--json"],
    env(),
  );
  const report = JSON.parse(result.stdout);
  expect(report.volumes[0].inventory).toMatchObject({
    worker_id: "pod-new",
    comfyui_version: inventory.comfyui_version,
  });
  expect(report.volumes[0].workflows[0].unknown_nodes).toEqual([{ class_type: "LoraLoader" }]);
  expect(report.volumes[0].workflows[0].weights.every((w: { status: string }) => w.status === "present")).toBe(true);
  expect(result.code).toBe(5);
}, 60_000);

test("no inventory on the volume yet: check --endpoint says so and checks against core nodes", async () => {
  const bare = await startVolumeServer(["vol-a"]);
  try {
    const result = await runCliCaptured(["check", LORA_STACK, "--endpoint", "ep-a", "--endpoint-url", bare.endpoint], {
      ...env(),
      ...syncEnv(bare),
    });
    expect(result.stdout).toContain("no worker inventory on this volume yet");
    expect(result.code).toBe(3);
  } finally {
    await bare.stop();
  }
});
