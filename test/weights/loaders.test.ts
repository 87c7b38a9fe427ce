import { expect, test } from "bun:test";
import { comboOptions, coreObjectInfo } from "../../src/comfy/object-info.ts";
import { DEFAULT_FOLDERS } from "../../src/weights/folders.ts";
import {
  FOLDER_ALIASES,
  FOLDER_UNION_SEPARATOR,
  GGUF_FOLDERS,
  LOADERS,
  loaderFolder,
  VAE_SPECIAL,
} from "../../src/weights/loaders.ts";

const info = coreObjectInfo();

test("maps loader inputs to folders, and nothing else", () => {
  expect(loaderFolder("CheckpointLoaderSimple", "ckpt_name")).toBe("checkpoints");
  expect(loaderFolder("CheckpointLoader", "config_name")).toBe("configs");
  expect(loaderFolder("UNETLoader", "unet_name")).toBe("diffusion_models");
  expect(loaderFolder("DualCLIPLoader", "clip_name2")).toBe("text_encoders");
  expect(loaderFolder("ControlNetLoader", "control_net_name")).toBe("controlnet");
  expect(loaderFolder("LoadImage", "image")).toBe("input");
  expect(loaderFolder("LoadImageOutput", "image")).toBe("output");
  expect(loaderFolder("UnetLoaderGGUF", "unet_name")).toBe("unet_gguf");
  expect(loaderFolder("CLIPLoaderGGUF", "clip_name")).toBe("text_encoders|clip_gguf");
  expect(loaderFolder("LTXVGemmaCLIPModelLoader", "gemma_path")).toBe("text_encoders");
  expect(loaderFolder("LoadTheMistoFluxControlNet", "model_name")).toBe("TheMisto_model");
  expect(loaderFolder("KSampler", "seed")).toBeUndefined();
  expect(loaderFolder("CheckpointLoaderSimple", "seed")).toBeUndefined();
});

test("never resolves names through the object prototype", () => {
  expect(loaderFolder("constructor", "name")).toBeUndefined();
  expect(loaderFolder("toString", "length")).toBeUndefined();
  expect(loaderFolder("LoadImage", "constructor")).toBeUndefined();
  expect(loaderFolder("__proto__", "toString")).toBeUndefined();
});

test("every loader names an input that exists in the snapshot and is a combo there", () => {
  let checked = 0;
  for (const [classType, inputs] of Object.entries(LOADERS)) {
    const node = info[classType];
    if (!node) continue;
    for (const input of Object.keys(inputs)) {
      const spec = node.input.required?.[input] ?? node.input.optional?.[input];
      const isCombo = comboOptions(spec) !== undefined || (Array.isArray(spec) && spec[0] === "COMBO");
      expect([classType, input, isCombo]).toEqual([classType, input, true]);
      checked++;
    }
  }
  expect(checked).toBe(55);
});

test("every folder a loader names is a known folder, a GGUF folder or an I/O dir", () => {
  const known = new Set([...Object.keys(DEFAULT_FOLDERS), ...Object.keys(GGUF_FOLDERS), "input", "output"]);
  const folders = Object.values(LOADERS).flatMap((inputs) => Object.values(inputs));
  expect(folders.flatMap((f) => f.split(FOLDER_UNION_SEPARATOR)).filter((f) => !known.has(f))).toEqual([]);
});

test("describes the aliases, GGUF folders and VAE special names", () => {
  expect(FOLDER_ALIASES).toEqual({ unet: "diffusion_models", clip: "text_encoders" });
  expect(GGUF_FOLDERS).toEqual({
    unet_gguf: { source: "diffusion_models", extensions: [".gguf"] },
    clip_gguf: { source: "text_encoders", extensions: [".gguf"] },
  });
  expect(VAE_SPECIAL.noFile).toEqual(["pixel_space"]);
  expect(VAE_SPECIAL.approxPairs).toEqual(["taesd", "taesdxl", "taesd3", "taef1"]);
  expect(VAE_SPECIAL.approxFolder).toBe("vae_approx");
});
