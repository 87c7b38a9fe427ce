import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * An SD1.5 API workflow whose every loader feeds the saved image (ComfyUI runs, and `check` counts, only nodes
 * an output depends on): a checkpoint, a chain of model-only LoRAs, an optional upscaler, metadata on node 1.
 */
export function sdWorkflow(spec: { ckpt: string; loras?: string[]; upscaler?: string }, meta?: unknown[]) {
  const wf: Record<string, { class_type: string; inputs: Record<string, unknown>; _meta?: unknown }> = {
    "1": {
      class_type: "CheckpointLoaderSimple",
      inputs: { ckpt_name: spec.ckpt },
      ...(meta ? { _meta: { required_weights: meta } } : {}),
    },
    "2": { class_type: "EmptyLatentImage", inputs: { width: 512, height: 512, batch_size: 1 } },
    "3": { class_type: "CLIPTextEncode", inputs: { text: "a cat", clip: ["1", 1] } },
    "4": { class_type: "CLIPTextEncode", inputs: { text: "", clip: ["1", 1] } },
  };
  let model: [string, number] = ["1", 0];
  (spec.loras ?? []).forEach((lora, i) => {
    wf[String(10 + i)] = { class_type: "LoraLoaderModelOnly", inputs: { lora_name: lora, strength_model: 1, model } };
    model = [String(10 + i), 0];
  });
  wf["5"] = {
    class_type: "KSampler",
    inputs: {
      seed: 1,
      steps: 20,
      cfg: 7,
      sampler_name: "euler",
      scheduler: "normal",
      denoise: 1,
      model,
      positive: ["3", 0],
      negative: ["4", 0],
      latent_image: ["2", 0],
    },
  };
  wf["6"] = { class_type: "VAEDecode", inputs: { samples: ["5", 0], vae: ["1", 2] } };
  wf["7"] = { class_type: "SaveImage", inputs: { filename_prefix: "x", images: ["6", 0] } };
  if (spec.upscaler) {
    wf["8"] = { class_type: "UpscaleModelLoader", inputs: { model_name: spec.upscaler } };
    wf["9"] = { class_type: "ImageUpscaleWithModel", inputs: { upscale_model: ["8", 0], image: ["6", 0] } };
    wf["20"] = { class_type: "SaveImage", inputs: { filename_prefix: "up", images: ["9", 0] } };
  }
  return wf;
}

/** Writes files into a fresh folder and returns it. */
export async function folderWith(files: Record<string, unknown>): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "cw-fix-"));
  for (const [name, content] of Object.entries(files))
    await Bun.write(join(dir, name), typeof content === "string" ? content : JSON.stringify(content));
  return dir;
}

/** A checkpoint every fixEnv models folder already holds (so no test reaches a real host for it). */
export const PRESENT_CKPT = "present.safetensors";

/** Settings for a fix run: models go to a fresh folder (holding PRESENT_CKPT), lists are cached in a fresh cache. */
export function fixEnv(hosts: { env: Record<string, string> }, extra: Record<string, string> = {}) {
  const models = mkdtempSync(join(tmpdir(), "cw-fix-models-"));
  mkdirSync(join(models, "checkpoints"));
  writeFileSync(join(models, "checkpoints", PRESENT_CKPT), "present");
  return {
    ...hosts.env,
    MODELS_DIR: models,
    XDG_CACHE_HOME: mkdtempSync(join(tmpdir(), "cw-fix-cache-")),
    COMFY_DIR: mkdtempSync(join(tmpdir(), "cw-fix-comfy-")),
    ...extra,
  };
}

export const bytes = (text: string) => new TextEncoder().encode(text);
export const sha256 = (data: Uint8Array) => new Bun.CryptoHasher("sha256").update(data).digest("hex");
