/**
 * The loader table against the bundled /object_info (ComfyUI 0.28.2): every core file picker is mapped, to the
 * folder a marker-file run of that ComfyUI showed it lists.
 */
import { expect, test } from "bun:test";
import {
  CORE_OBJECT_INFO_VERSION,
  comboOptions,
  coreObjectInfo,
  fillFileCombos,
  type ObjectInfo,
} from "../../src/comfy/object-info.ts";
import { LOADERS, NO_FILE_VALUES } from "../../src/weights/loaders.ts";

// Read from a running ComfyUI 0.28.2 with one marker file in every folder of folder_paths (and input/, output/):
// each core combo that listed a marker, and the folder it came from.
const MARKER_RUN: Record<string, Record<string, string>> = {
  AudioEncoderLoader: { audio_encoder_name: "audio_encoders" },
  CLIPLoader: { clip_name: "text_encoders" },
  CLIPVisionLoader: { clip_name: "clip_vision" },
  CheckpointLoader: { ckpt_name: "checkpoints", config_name: "configs" },
  CheckpointLoaderSimple: { ckpt_name: "checkpoints" },
  ControlNetLoader: { control_net_name: "controlnet" },
  CreateHookLora: { lora_name: "loras" },
  CreateHookLoraModelOnly: { lora_name: "loras" },
  CreateHookModelAsLora: { ckpt_name: "checkpoints" },
  CreateHookModelAsLoraModelOnly: { ckpt_name: "checkpoints" },
  DiffControlNetLoader: { control_net_name: "controlnet" },
  DualCLIPLoader: { clip_name1: "text_encoders", clip_name2: "text_encoders" },
  FrameInterpolationModelLoader: { model_name: "frame_interpolation" },
  GLIGENLoader: { gligen_name: "gligen" },
  HypernetworkLoader: { hypernetwork_name: "hypernetworks" },
  ImageOnlyCheckpointLoader: { ckpt_name: "checkpoints" },
  LTXAVTextEncoderLoader: { ckpt_name: "checkpoints", text_encoder: "text_encoders" },
  LTXVAudioVAELoader: { ckpt_name: "checkpoints" },
  LatentUpscaleModelLoader: { model_name: "latent_upscale_models" },
  LoadAudio: { audio: "input" },
  LoadBackgroundRemovalModel: { bg_removal_name: "background_removal" },
  LoadDA3Model: { model_name: "geometry_estimation" },
  LoadImage: { image: "input" },
  LoadImageMask: { image: "input" },
  LoadLatent: { latent: "input" },
  LoadMediaPipeFaceLandmarker: { model_name: "detection" },
  LoadMoGeModel: { model_name: "geometry_estimation" },
  LoadVideo: { file: "input" },
  LoraLoader: { lora_name: "loras" },
  LoraLoaderBypass: { lora_name: "loras" },
  LoraLoaderBypassModelOnly: { lora_name: "loras" },
  LoraLoaderModelOnly: { lora_name: "loras" },
  ModelPatchLoader: { name: "model_patches" },
  OpticalFlowLoader: { model_name: "optical_flow" },
  PhotoMakerLoader: { photomaker_model_name: "photomaker" },
  QuadrupleCLIPLoader: {
    clip_name1: "text_encoders",
    clip_name2: "text_encoders",
    clip_name3: "text_encoders",
    clip_name4: "text_encoders",
  },
  StyleModelLoader: { style_model_name: "style_models" },
  TrainLoraNode: { existing_lora: "loras" },
  TripleCLIPLoader: { clip_name1: "text_encoders", clip_name2: "text_encoders", clip_name3: "text_encoders" },
  UNETLoader: { unet_name: "diffusion_models" },
  UpscaleModelLoader: { model_name: "upscale_models" },
  VAELoader: { vae_name: "vae" },
  unCLIPCheckpointLoader: { ckpt_name: "checkpoints" },
};
// file pickers no marker shows: directories with model_index.json, the output dir through a remote route, and
// input/3d (the markers were at the top of input/)
const NOT_BY_MARKER: Record<string, Record<string, string>> = {
  DiffusersLoader: { model_path: "diffusers" },
  LoadImageOutput: { image: "output" },
  Load3D: { model_file: "input" },
  Load3DAdvanced: { model_file: "input" },
};
// combos that are empty in a clean ComfyUI but list no files: CustomCombo's options come from the frontend
const NOT_FILES = new Set(["CustomCombo.choice"]);

/** "Class.input" for every combo of `info` that looks like a file picker (empty, or only "none") and is unmapped. */
function unmappedFilePickers(info: ObjectInfo): string[] {
  const out: string[] = [];
  for (const [classType, node] of Object.entries(info)) {
    for (const [input, spec] of Object.entries({ ...node.input.required, ...node.input.optional })) {
      const options = comboOptions(spec) ?? (Array.isArray(spec) && spec[0] === "COMBO" ? [] : undefined);
      if (options === undefined || options.some((o) => !NO_FILE_VALUES.includes(o))) continue;
      const key = `${classType}.${input}`;
      if (!NOT_FILES.has(key) && !Object.hasOwn(LOADERS[classType] ?? {}, input)) out.push(key);
    }
  }
  return out;
}

const info = coreObjectInfo();

test(`every core file picker of ComfyUI ${CORE_OBJECT_INFO_VERSION} is in the loader table`, () => {
  expect(CORE_OBJECT_INFO_VERSION).toBe("0.28.2");
  expect(unmappedFilePickers(info)).toEqual([]);
});

test("the check catches a new core loader that nobody mapped", () => {
  const withNew = structuredClone(info);
  withNew.LTXVAudioVAELoaderV2 = {
    ...(info.LTXVAudioVAELoader as ObjectInfo[string]),
    name: "LTXVAudioVAELoaderV2",
    input: { required: { vae_name: ["COMBO", { multiselect: false, options: [] }] } },
  };
  expect(unmappedFilePickers(withNew)).toEqual(["LTXVAudioVAELoaderV2.vae_name"]);
});

test("each core loader reads the folder the marker run showed, including the LTX audio VAE and the 0.2x loaders", () => {
  const core = Object.fromEntries(Object.entries(LOADERS).filter(([classType]) => Object.hasOwn(info, classType)));
  expect(core).toEqual({ ...MARKER_RUN, ...NOT_BY_MARKER });
});

test("a 'none' choice of a file picker survives filling it from the folders", () => {
  const filled = fillFileCombos(info, (folder) => (folder === "loras" ? ["a.safetensors"] : ["3d/m.glb"]));
  expect(comboOptions(filled.TrainLoraNode?.input.required?.existing_lora)).toEqual(["a.safetensors", "[None]"]);
  expect(comboOptions(filled.Load3DAdvanced?.input.required?.model_file)).toEqual(["none", "3d/m.glb"]);
});
