import { expect, test } from "bun:test";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config.ts";
import { Redactor } from "../../src/lib/redact.ts";
import { createLogger } from "../../src/log.ts";
import { Inventory } from "../../src/volume/inventory.ts";
import { startWorker } from "../../src/worker/start.ts";
import { freePort } from "../helpers/emulator.ts";
import { importTableComfy } from "../helpers/import-table-comfy.ts";
import { eventually, stopAfterEach } from "../helpers/worker.ts";

const track = stopAfterEach();

async function modelsFolder(): Promise<{ dir: string; yaml: string }> {
  const dir = await mkdtemp(join(tmpdir(), "cw-inventory-"));
  const yaml = join(dir, "paths.yaml");
  await writeFile(yaml, `vol:\n  base_path: ${dir}\n  is_default: true\n  checkpoints: checkpoints\n`);
  return { dir, yaml };
}

test("the inventory names the custom nodes ComfyUI reported as IMPORT FAILED", async () => {
  const { dir, yaml } = await modelsFolder();
  const port = await freePort();
  // a ComfyUI whose start-up prints nodes.py's import table with one failed pack, then serves (the emulator)
  const comfyCmd = await importTableComfy(dir, port, [
    "   0.1 seconds: /comfyui/custom_nodes/ComfyUI-Good",
    "   0.4 seconds (IMPORT FAILED): /comfyui/custom_nodes/ComfyUI-Broken",
  ]);
  const config = loadConfig({
    env: {
      PORT: String(await freePort()),
      COMFY_CMD: comfyCmd,
      COMFY_PORT: String(port),
      LOG_LEVEL: "error",
      RUNPOD_POD_ID: "pod-x1",
      EXTRA_MODEL_PATHS: yaml,
    },
  });
  const log = createLogger({ level: "error", format: "json", redactor: new Redactor(), stream: process.stderr });
  track(await startWorker(config, log));
  const file = join(dir, ".comfy-worker/inventory/pod-x1.json");
  await eventually(() => Bun.file(file).exists(), "the inventory file");
  const inventory = Inventory.parse(await Bun.file(file).json());
  expect(inventory.failed_imports).toEqual(["ComfyUI-Broken"]);
  expect(inventory.packs["comfy-core"]).toContain("CheckpointLoaderSimple");
}, 30_000);
