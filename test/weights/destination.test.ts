import { expect, test } from "bun:test";
import { isWorkerError } from "../../src/errors.ts";
import { downloadPath, downloadRoot } from "../../src/weights/destination.ts";
import { defaultRoots } from "../../src/weights/folders.ts";
import { addModelsDir, applyExtraModelPaths } from "../../src/weights/roots.ts";

function roots(yaml = "") {
  const built = defaultRoots("/opt/ComfyUI");
  if (yaml) applyExtraModelPaths(built, "/etc/cw/extra.yaml", yaml, {});
  return built;
}

function errorOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (error) {
    if (isWorkerError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error("expected a WorkerError");
}

test("without MODELS_DIR or is_default, files go to ComfyUI's own models dir, canonical names first", () => {
  const r = roots();
  expect(downloadRoot(r, "checkpoints")).toBe("/opt/ComfyUI/models/checkpoints");
  // ComfyUI lists models/unet before models/diffusion_models; new files go to the canonical one
  expect(downloadRoot(r, "diffusion_models")).toBe("/opt/ComfyUI/models/diffusion_models");
  expect(downloadRoot(r, "unet")).toBe("/opt/ComfyUI/models/diffusion_models");
  expect(downloadRoot(r, "clip")).toBe("/opt/ComfyUI/models/text_encoders");
  expect(downloadRoot(r, "ultralytics_bbox")).toBe("/opt/ComfyUI/models/ultralytics/bbox");
});

test("MODELS_DIR wins over the first root, and its sub-dir is the canonical folder name", () => {
  const r = roots("extra:\n  base_path: /mnt\n  checkpoints: ckpts\n");
  addModelsDir(r, "/data/models");
  expect(downloadRoot(r, "checkpoints", "/data/models")).toBe("/data/models/checkpoints");
  expect(downloadRoot(r, "diffusion_models", "/data/models")).toBe("/data/models/diffusion_models");
  expect(downloadRoot(r, "my_custom_key", "/data/models")).toBe("/data/models/my_custom_key");
});

test("a folder whose first root comes from an is_default section downloads there, even with MODELS_DIR", () => {
  const r = roots(
    "vol:\n  base_path: /runpod-volume/models\n  is_default: true\n  text_encoders: |\n    clip\n    text_encoders\n  loras: loras\n",
  );
  expect(downloadRoot(r, "text_encoders", "/data/models")).toBe("/runpod-volume/models/text_encoders");
  expect(downloadRoot(r, "loras", "/data/models")).toBe("/runpod-volume/models/loras");
  // vae has no is_default root: MODELS_DIR, or ComfyUI's own dir without it
  expect(downloadRoot(r, "vae", "/data/models")).toBe("/data/models/vae");
  expect(downloadRoot(r, "vae")).toBe("/opt/ComfyUI/models/vae");
});

test("names keep their subfolders and never leave the chosen root", () => {
  const r = roots();
  expect(downloadPath(r, "loras", "flux/detail.safetensors")).toBe("/opt/ComfyUI/models/loras/flux/detail.safetensors");
  for (const name of ["../x.safetensors", "a/../../x", "/etc/passwd", "a\\b", "", "a//b", "./a"]) {
    expect(errorOf(() => downloadPath(r, "loras", name))).toMatchObject({ code: "E_INPUT" });
  }
  expect(errorOf(() => downloadPath(new Map(), "loras", "x")).message).toContain("set MODELS_DIR");
});

test("a folder key that is no single folder name is refused, so a workflow's metadata cannot lead out of MODELS_DIR", () => {
  const r = roots();
  for (const folder of ["..", "../../..", ".", "a/b", "a\\b", "", "x\0y"]) {
    expect(errorOf(() => downloadRoot(r, folder, "/data/models"))).toMatchObject({ code: "E_INPUT" });
    expect(errorOf(() => downloadPath(r, folder, "x.safetensors", "/data/models"))).toMatchObject({ code: "E_INPUT" });
  }
  expect(downloadRoot(r, "my..key", "/data/models")).toBe("/data/models/my..key");
});
