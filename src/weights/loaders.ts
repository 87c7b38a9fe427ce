/**
 * Which model folder each loader node's file-picker input lists from.
 *
 * Core rows were derived from a running ComfyUI v0.28.2 (306af3a8) by filling every folder with a marker file and
 * reading back /object_info (test/weights/loaders-coverage.test.ts checks every empty file-picker combo of the
 * bundled snapshot is mapped); custom-node rows come from each pack's source (commit noted per section).
 * A value "a|b" means the combo lists the sorted union of folders a and b, and a file may live in either.
 */

/** Separator for folder unions in LOADERS values. */
export const FOLDER_UNION_SEPARATOR = "|";

/** Legacy keys that ComfyUI's `map_legacy` rewrites before every folder lookup. */
export const FOLDER_ALIASES: Readonly<Record<string, string>> = { unet: "diffusion_models", clip: "text_encoders" };

/** ComfyUI-GGUF folders: they share the source folder's roots but keep only `.gguf` files. */
export const GGUF_FOLDERS: Readonly<
  Record<string, { readonly source: string; readonly extensions: readonly string[] }>
> = {
  unet_gguf: { source: "diffusion_models", extensions: [".gguf"] },
  clip_gguf: { source: "text_encoders", extensions: [".gguf"] },
};

/** VAELoader.vae_name values that are not plain files in the vae folder (nodes.py `VAELoader.vae_list`). */
export const VAE_SPECIAL = {
  /** Always offered; needs no file. */
  noFile: ["pixel_space"],
  /** Offered only when both `<name>_encoder.*` and `<name>_decoder.*` are in vae_approx. */
  approxPairs: ["taesd", "taesdxl", "taesd3", "taef1"],
  /** vae_approx files with these prefixes are offered (and loaded) under their own file name. */
  videoTaePrefixes: ["taehv", "lighttaew2_2", "lighttaew2_1", "lighttaehy1_5", "taeltx_2"],
  approxFolder: "vae_approx",
} as const;

const GGUF_CLIP = "text_encoders|clip_gguf";
const MOTION = "animatediff_models";

/** Picker values that mean "no file" in custom loaders (core loaders never offer them). */
export const NO_FILE_VALUES: readonly string[] = ["", "None", "none", "[none]", "[None]"];

/** class_type → { input name → folder key } for every known loader; "input"/"output" are ComfyUI's dirs. */
export const LOADERS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  // core: nodes.py
  CheckpointLoaderSimple: { ckpt_name: "checkpoints" },
  CheckpointLoader: { config_name: "configs", ckpt_name: "checkpoints" },
  unCLIPCheckpointLoader: { ckpt_name: "checkpoints" },
  DiffusersLoader: { model_path: "diffusers" },
  LoraLoader: { lora_name: "loras" },
  LoraLoaderModelOnly: { lora_name: "loras" },
  VAELoader: { vae_name: "vae" },
  UNETLoader: { unet_name: "diffusion_models" },
  CLIPLoader: { clip_name: "text_encoders" },
  DualCLIPLoader: { clip_name1: "text_encoders", clip_name2: "text_encoders" },
  CLIPVisionLoader: { clip_name: "clip_vision" },
  ControlNetLoader: { control_net_name: "controlnet" },
  DiffControlNetLoader: { control_net_name: "controlnet" },
  StyleModelLoader: { style_model_name: "style_models" },
  GLIGENLoader: { gligen_name: "gligen" },
  LoadImage: { image: "input" },
  LoadImageMask: { image: "input" },
  LoadImageOutput: { image: "output" },
  LoadLatent: { latent: "input" },
  // core: comfy_extras
  ImageOnlyCheckpointLoader: { ckpt_name: "checkpoints" },
  TripleCLIPLoader: { clip_name1: "text_encoders", clip_name2: "text_encoders", clip_name3: "text_encoders" },
  QuadrupleCLIPLoader: {
    clip_name1: "text_encoders",
    clip_name2: "text_encoders",
    clip_name3: "text_encoders",
    clip_name4: "text_encoders",
  },
  UpscaleModelLoader: { model_name: "upscale_models" },
  HypernetworkLoader: { hypernetwork_name: "hypernetworks" },
  PhotoMakerLoader: { photomaker_model_name: "photomaker" },
  ModelPatchLoader: { name: "model_patches" },
  AudioEncoderLoader: { audio_encoder_name: "audio_encoders" },
  LatentUpscaleModelLoader: { model_name: "latent_upscale_models" },
  // v0.28.2 still lists checkpoints only for the LTX audio VAE
  LTXVAudioVAELoader: { ckpt_name: "checkpoints" },
  LTXAVTextEncoderLoader: { text_encoder: "text_encoders", ckpt_name: "checkpoints" },
  LoraLoaderBypass: { lora_name: "loras" },
  LoraLoaderBypassModelOnly: { lora_name: "loras" },
  CreateHookLora: { lora_name: "loras" },
  CreateHookLoraModelOnly: { lora_name: "loras" },
  CreateHookModelAsLora: { ckpt_name: "checkpoints" },
  CreateHookModelAsLoraModelOnly: { ckpt_name: "checkpoints" },
  LoadBackgroundRemovalModel: { bg_removal_name: "background_removal" },
  FrameInterpolationModelLoader: { model_name: "frame_interpolation" },
  OpticalFlowLoader: { model_name: "optical_flow" },
  LoadMoGeModel: { model_name: "geometry_estimation" },
  LoadDA3Model: { model_name: "geometry_estimation" },
  LoadMediaPipeFaceLandmarker: { model_name: "detection" },
  // a LoRA to continue training from, or "[None]"
  TrainLoraNode: { existing_lora: "loras" },
  LoadAudio: { audio: "input" },
  LoadVideo: { file: "input" },
  // values are "3d/<file>" paths relative to the input dir
  Load3D: { model_file: "input" },
  Load3DAdvanced: { model_file: "input" },

  // city96/ComfyUI-GGUF @795e451; the CLIP loaders list text_encoders plus the .gguf files
  UnetLoaderGGUF: { unet_name: "unet_gguf" },
  UnetLoaderGGUFAdvanced: { unet_name: "unet_gguf" },
  CLIPLoaderGGUF: { clip_name: GGUF_CLIP },
  DualCLIPLoaderGGUF: { clip_name1: GGUF_CLIP, clip_name2: GGUF_CLIP },
  TripleCLIPLoaderGGUF: { clip_name1: GGUF_CLIP, clip_name2: GGUF_CLIP, clip_name3: GGUF_CLIP },
  QuadrupleCLIPLoaderGGUF: {
    clip_name1: GGUF_CLIP,
    clip_name2: GGUF_CLIP,
    clip_name3: GGUF_CLIP,
    clip_name4: GGUF_CLIP,
  },
  // cubiq/ComfyUI_IPAdapter_plus @9d076a3 (IPAdapterUnifiedLoader takes a preset, not a file)
  IPAdapterModelLoader: { ipadapter_file: "ipadapter" },
  // Slickytail/ComfyUI-InstantX-IPAdapter-SD3 @9f9a9a8
  IPAdapterSD3Loader: { ipadapter: "ipadapter" },
  // cubiq/ComfyUI_InstantID @1ef34ef
  InstantIDModelLoader: { instantid_file: "instantid" },
  // cubiq/PuLID_ComfyUI @4e1fd40, balazik/ComfyUI-PuLID-Flux @a80912f
  PulidModelLoader: { pulid_file: "pulid" },
  PulidFluxModelLoader: { pulid_file: "pulid" },
  // Kosinkadink/ComfyUI-AnimateDiff-Evolved @d8d163c
  ADE_LoadAnimateDiffModel: { model_name: MOTION },
  ADE_AnimateDiffLoaderGen1: { model_name: MOTION },
  AnimateDiffLoaderV1: { model_name: MOTION },
  ADE_AnimateDiffLoaderV1Advanced: { model_name: MOTION },
  ADE_AnimateDiffLoaderWithContext: { model_name: MOTION },
  ADE_LoadAnimateLCMI2VModel: { model_name: MOTION },
  ADE_InjectI2VIntoAnimateDiffModel: { model_name: MOTION },
  ADE_InjectPIAIntoAnimateDiffModel: { model_name: MOTION },
  ADE_LoadAnimateDiffModelWithCameraCtrl: { model_name: MOTION, camera_ctrl: MOTION },
  ADE_AnimateDiffLoRALoader: { name: "animatediff_motion_lora" },
  CheckpointLoaderSimpleWithNoiseSelect: { ckpt_name: "checkpoints" },
  ADE_RegisterLoraHook: { lora_name: "loras" },
  ADE_RegisterLoraHookModelOnly: { lora_name: "loras" },
  ADE_RegisterModelAsLoraHook: { ckpt_name: "checkpoints" },
  ADE_RegisterModelAsLoraHookModelOnly: { ckpt_name: "checkpoints" },
  // Lightricks/ComfyUI-LTXVideo @aceeae9 (gemma_path is one shard inside a HF-layout folder)
  LTXVGemmaCLIPModelLoader: { gemma_path: "text_encoders", ltxv_path: "checkpoints" },
  LowVRAMCheckpointLoader: { ckpt_name: "checkpoints" },
  LowVRAMAudioVAELoader: { ckpt_name: "checkpoints" },
  LowVRAMLatentUpscaleModelLoader: { model_name: "latent_upscale_models" },
  LTXICLoRALoaderModelOnly: { lora_name: "loras" },
  LTXVQ8LoraModelLoader: { lora_name: "loras" },
  LTXVLoadConditioning: { file_name: "embeddings" },
  GemmaAPITextEncode: { ckpt_name: "checkpoints" },
  // TheMistoAI/MistoControlNet-Flux-dev @1293188
  LoadTheMistoFluxControlNet: { model_name: "TheMisto_model" },
  // kijai/ComfyUI-WanVideoWrapper (nodes_model_loading.py)
  WanVideoVAELoader: { model_name: "vae" },
  LoadWanVideoT5TextEncoder: { model_name: "text_encoders" },
  // ltdrdata/ComfyUI-Impact-Pack @727295b, ComfyUI-Impact-Subpack @5b4e550 (values are "bbox/x.pt" or "segm/x.pt")
  SAMLoader: { model_name: "sams" },
  UltralyticsDetectorProvider: { model_name: "ultralytics" },
};

/** The folder a loader input lists from, or undefined when the class/input is not a known file picker. */
export function loaderFolder(classType: string, input: string): string | undefined {
  // own-property checks so names like "constructor" never resolve through the prototype
  const inputs = Object.hasOwn(LOADERS, classType) ? LOADERS[classType] : undefined;
  return inputs && Object.hasOwn(inputs, input) ? inputs[input] : undefined;
}

/** The folders the known loaders among `classTypes` list from (unions as they are), each once. */
export function loaderFolders(classTypes: readonly string[]): string[] {
  const folders = classTypes.flatMap((type) =>
    Object.hasOwn(LOADERS, type) ? Object.values(LOADERS[type] ?? {}) : [],
  );
  return [...new Set(folders)];
}
