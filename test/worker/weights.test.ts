import { expect, test } from "bun:test";
import { dirname, join } from "node:path";
import { sd15Workflow } from "../helpers/emulator.ts";
import { addWorkerModel, type Json, jsonPost, MODELS_DIR, startTestWorker, stopAfterEach } from "../helpers/worker.ts";

type Worker = Awaited<ReturnType<typeof startTestWorker>>;
const track = stopAfterEach();

async function worker(env: Record<string, string> = {}): Promise<Worker> {
  return track(await startTestWorker(env));
}

async function runsync(w: Worker, workflow: Json): Promise<Json> {
  return (await (await w.api("/v2/test/runsync?wait=20000", jsonPost({ input: { workflow } }))).json()) as Json;
}

function needing(ckpt: string): Json {
  const workflow = sd15Workflow();
  workflow["4"].inputs.ckpt_name = ckpt;
  return workflow;
}

async function comfyGet(w: Worker, path: string): Promise<Json> {
  return (await (await fetch(`${w.comfy.url}${path}`, { signal: AbortSignal.timeout(10_000) })).json()) as Json;
}

test("a job whose weights are missing fails before anything is queued, with the fix and the details", async () => {
  const w = await worker();
  const name = `absent-${crypto.randomUUID()}.safetensors`;
  const result = await runsync(w, needing(name));
  expect(result.status).toBe("FAILED");
  expect(result.error).not.toContain("\n");
  expect(result.error).toStartWith(`missing weights: checkpoints/${name}; put it in `);
  expect(result.error).toEndWith("and retry");
  const details = result.output.details;
  expect(details.code).toBe("E_WEIGHTS_MISSING");
  expect(details.missing_weights).toHaveLength(1);
  expect(details.missing_weights[0]).toMatchObject({ folder: "checkpoints", name, status: "missing" });
  // the emulator's own <base>/models first (COMFY_DIR here is no ComfyUI checkout), the shared
  // extra_model_paths.yaml root, then COMFY_DIR/models as `check` reads it: what the emulator searches too; last
  // <base>/output/checkpoints, which main.py adds for what CheckpointSave writes
  const searched: string[] = details.missing_weights[0].searched;
  expect(searched).toHaveLength(4);
  expect(searched[0]).toContain("comfy-worker-emulator-");
  expect(searched[1]).toBe(join(MODELS_DIR, "checkpoints"));
  expect(searched[2]).toBe("/comfyui/models/checkpoints");
  expect(searched[3]).toBe(join(dirname(dirname(searched[0] as string)), "output", "checkpoints"));
  // nothing reached ComfyUI
  expect(await comfyGet(w, "/history")).toEqual({});
  expect(await comfyGet(w, "/queue")).toEqual({ queue_running: [], queue_pending: [] });
});

test("close matches appear in the message and the details", async () => {
  const w = await worker();
  const result = await runsync(w, needing("Dreamshaper_8.safetensors"));
  expect(result.error).toContain("did you mean checkpoints/dreamshaper_8.safetensors?");
  expect(result.output.details.missing_weights[0].candidates[0]).toMatchObject({
    folder: "checkpoints",
    name: "dreamshaper_8.safetensors",
    reason: "other_case",
    path: join(MODELS_DIR, "checkpoints", "dreamshaper_8.safetensors"),
  });
});

test("/health lists what jobs found missing until a later job finds it present", async () => {
  const w = await worker();
  const health = async () => ((await (await w.api("/health")).json()) as Json).weights;
  expect(await health()).toEqual({ state: "unchecked", pending: 0, missing: [], files: [] });
  const name = `later-${crypto.randomUUID()}.safetensors`;
  expect((await runsync(w, needing(name))).status).toBe("FAILED");
  expect(await health()).toEqual({
    state: "failed",
    pending: 0,
    missing: [`checkpoints/${name}`],
    files: [{ folder: "checkpoints", name, state: "missing" }],
  });
  await addWorkerModel("checkpoints", name);
  expect((await runsync(w, needing(name))).status).toBe("COMPLETED");
  expect(await health()).toEqual({
    state: "ready",
    pending: 0,
    missing: [],
    files: [{ folder: "checkpoints", name, state: "ready", path: expect.stringContaining(name) }],
  });
});

test("weights in the emulator's own base directory count, as they do for the emulator", async () => {
  const w = await worker();
  const name = `in-base-${crypto.randomUUID()}.safetensors`;
  const failed = await runsync(w, needing(name));
  const baseCheckpoints: string = failed.output.details.missing_weights[0].searched[0];
  await Bun.write(join(baseCheckpoints, name), "weights");
  expect((await runsync(w, needing(name))).status).toBe("COMPLETED");
});

test("WEIGHTS_MODE=skip sends the job on; ComfyUI then rejects the missing file itself", async () => {
  const w = await worker({ WEIGHTS_MODE: "skip" });
  const result = await runsync(w, needing("nope.safetensors"));
  expect(result).toMatchObject({ status: "FAILED", output: { details: { code: "E_WORKFLOW_REJECTED" } } });
  expect(JSON.stringify(result.output.details.node_errors)).toContain("value_not_in_list");
  expect(result.output.details.missing_weights).toBeUndefined();
  expect(((await (await w.api("/health")).json()) as Json).weights.state).toBe("unchecked");
});
