import { afterAll, describe, expect, test } from "bun:test";
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config.ts";
import { Redactor } from "../../src/lib/redact.ts";
import { createLogger } from "../../src/log.ts";
import { STARTUP_PHASES } from "../../src/startup/timeline.ts";
import { startWorker } from "../../src/worker/start.ts";
import { freePort } from "../helpers/emulator.ts";
import { importTableComfy } from "../helpers/import-table-comfy.ts";
import { eventually, type Json, jsonPost, startTestWorker, stopAfterEach } from "../helpers/worker.ts";

const track = stopAfterEach();
const temps: string[] = [];

afterAll(async () => {
  for (const dir of temps) await rm(dir, { recursive: true, force: true });
});

async function modelsDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "cw-cold-"));
  temps.push(dir);
  await writeFile(join(dir, "placeholder"), "");
  await Bun.write(join(dir, "checkpoints", "cold.safetensors"), "");
  await truncate(join(dir, "checkpoints", "cold.safetensors"), 24 * 1024 * 1024);
  await writeFile(join(dir, "paths.yaml"), `cold:\n  base_path: ${dir}\n  checkpoints: checkpoints\n`);
  return dir;
}

const WORKFLOW = {
  "1": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: "cold.safetensors" } },
  "2": { class_type: "EmptyLatentImage", inputs: { width: 64, height: 64, batch_size: 1 } },
  "3": { class_type: "VAEDecode", inputs: { samples: ["2", 0], vae: ["1", 2] } },
  "4": { class_type: "SaveImage", inputs: { images: ["3", 0], filename_prefix: "cold" } },
};

function ordered(phases: Json): void {
  const present = STARTUP_PHASES.filter((phase) => phases[phase]);
  expect(present).toEqual([...STARTUP_PHASES]);
  // every phase on one clock; each at or after the one before it, except preloads and prefetch, which run
  // alongside ComfyUI's boot
  const times = STARTUP_PHASES.filter((p) => p !== "prefetch_done" && p !== "preloads_done").map(
    (phase) => phases[phase].at_ms as number,
  );
  expect(phases.preloads_done.at_ms).toBeLessThanOrEqual(phases.warmup_done.at_ms);
  expect(times).toEqual([...times].sort((a, b) => a - b));
}

describe("start-up timeline and prefetch in serve", () => {
  test("a normal start: the first job carries the whole timeline; /health and /metrics show it; usage is recorded and prefetched next time", async () => {
    const dir = await modelsDir();
    const env = { EXTRA_MODEL_PATHS: join(dir, "paths.yaml"), MODELS_DIR: dir, COMFY_ARGS: "--read-models" };
    const w = track(await startTestWorker(env));
    const result = (await (
      await w.api("/v2/t/runsync?wait=20000", jsonPost({ input: { workflow: WORKFLOW } }))
    ).json()) as Json;
    expect(result.status).toBe("COMPLETED");
    const cold = result.output.timings.cold_start;
    ordered(cold.phases);
    expect(cold.phases.comfy_spawned.pid).toBeGreaterThan(0);
    expect(cold.phases.custom_nodes).toMatchObject({ packs: 0 });
    expect(cold.phases.first_model_load).toMatchObject({ model: "CheckpointLoaderSimple", loaded_mb: 24 });
    // only the first job carries it
    const second = (await (
      await w.api("/v2/t/runsync?wait=20000", jsonPost({ input: { workflow: WORKFLOW } }))
    ).json()) as Json;
    expect(second.output.timings.cold_start).toBeUndefined();
    const health = (await (await w.api("/health")).json()) as Json;
    ordered(health.startup.phases);
    expect(health.prefetch.state).toMatch(/done|stopped/);
    const metrics = await (await w.api("/metrics")).text();
    expect(metrics).toMatch(/comfy_worker_startup_phase_seconds\{phase="first_job_done"\} \d/);
    expect(metrics).toContain('comfy_worker_prefetch_bytes{kind="read"}');
    // the usage file on the "volume" names the checkpoint; the next start reads it first
    await eventually(
      async () => (await readdir(join(dir, ".comfy-worker", "usage")).catch(() => [])).length === 1,
      "usage file",
    );
    const [file] = await readdir(join(dir, ".comfy-worker", "usage"));
    expect(await readFile(join(dir, ".comfy-worker", "usage", file ?? ""), "utf8")).toContain("cold.safetensors");
    await w.stop();
    const next = track(await startTestWorker(env));
    await eventually(
      async () => ((await (await next.api("/health")).json()) as Json).prefetch.state === "done",
      "prefetch",
    );
    const prefetch = ((await (await next.api("/health")).json()) as Json).prefetch;
    expect(prefetch.order).toEqual(["checkpoints/cold.safetensors"]);
    expect(prefetch.read).toEqual({ files: 1, bytes: 24 * 1024 * 1024 });
  });

  test("PREFETCH=off: nothing is read and the timeline says so", async () => {
    const w = track(await startTestWorker({ PREFETCH: "off" }));
    const health = (await (await w.api("/health")).json()) as Json;
    expect(health.prefetch).toEqual({ state: "off" });
    expect(health.startup.phases.prefetch_done).toMatchObject({ state: "off" });
  });

  test("a restart after a crash gets its own record with ComfyUI's phases", async () => {
    const w = track(await startTestWorker({ COMFY_ARGS: "--exit-after 1", COMFY_MAX_RESTARTS: "3" }));
    // the helper's models folder has dreamshaper_8, so the job passes the weights check and reaches ComfyUI
    const workflow = { ...WORKFLOW, "1": { ...WORKFLOW["1"], inputs: { ckpt_name: "dreamshaper_8.safetensors" } } };
    const crashed = (await (await w.api("/v2/t/runsync?wait=20000", jsonPost({ input: { workflow } }))).json()) as Json;
    expect(crashed.status).toBe("FAILED");
    await eventually(
      async () => ((await (await w.api("/health")).json()) as Json).startup.restarts[0]?.comfy_ready,
      "restart record",
    );
    const startup = ((await (await w.api("/health")).json()) as Json).startup;
    expect(Object.keys(startup.restarts[0]).sort()).toEqual([
      "comfy_ready",
      "comfy_spawned",
      "http_listening",
      "python_up",
    ]);
    expect(startup.restarts[0].comfy_spawned.at_ms).toBeGreaterThan(startup.phases.comfy_ready.at_ms);
  });

  test("a start with a failed node pack: the custom-node table is in the timeline", async () => {
    const base = await mkdtemp(join(tmpdir(), "cw-packs-"));
    temps.push(base);
    const port = await freePort();
    // a ComfyUI whose start-up prints the import table as nodes.py does, then serves (the emulator)
    const comfyCmd = await importTableComfy(base, port, [
      "   0.0 seconds: /comfyui/custom_nodes/websocket_image_save.py",
      "   0.4 seconds (IMPORT FAILED): /comfyui/custom_nodes/ComfyUI-Broken",
    ]);
    const config = loadConfig({
      env: { PORT: String(await freePort()), COMFY_CMD: comfyCmd, COMFY_PORT: String(port), LOG_LEVEL: "error" },
    });
    const log = createLogger({ level: "error", format: "json", redactor: new Redactor(), stream: process.stderr });
    const w = track(await startWorker(config, log));
    const startup = ((await (await fetch(`${w.url}/health`)).json()) as Json).startup;
    expect(startup.phases.custom_nodes).toMatchObject({ packs: 2, failed: ["ComfyUI-Broken"] });
    expect(startup.custom_nodes.map((p: Json) => [p.name, p.failed])).toEqual([
      ["websocket_image_save.py", false],
      ["ComfyUI-Broken", true],
    ]);
  });
});
