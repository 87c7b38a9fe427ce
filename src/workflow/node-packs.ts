/**
 * A small map of common custom node types to the GitHub repository of the pack that provides them, for the
 * "unknown node" hint when a workflow carries no `cnr_id`/`aux_id`. Taken from ComfyUI-Manager's
 * extension-node-map.json (Comfy-Org/ComfyUI-Manager at f39cbd56), keeping the pack each type is best
 * known from where several packs register the same name. Deliberately short: `fix` resolves the rest.
 */
const PACKS: Record<string, readonly string[]> = {
  "ltdrdata/ComfyUI-Impact-Pack": [
    "FaceDetailer",
    "SAMLoader",
    "ImpactWildcardProcessor",
    "ImpactSwitch",
    "SEGSPaste",
    "BboxDetectorSEGS",
  ],
  "ltdrdata/ComfyUI-Impact-Subpack": ["UltralyticsDetectorProvider"],
  "Fannovel16/comfyui_controlnet_aux": [
    "AIO_Preprocessor",
    "DWPreprocessor",
    "OpenposePreprocessor",
    "CannyEdgePreprocessor",
    "DepthAnythingPreprocessor",
    "AnyLineArtPreprocessor_aux",
  ],
  "cubiq/ComfyUI_IPAdapter_plus": ["IPAdapterUnifiedLoader", "IPAdapterAdvanced", "IPAdapterModelLoader"],
  "cubiq/ComfyUI_essentials": ["ImageResize+", "GetImageSize+"],
  "cubiq/ComfyUI_InstantID": ["InstantIDModelLoader", "ApplyInstantID"],
  "cubiq/PuLID_ComfyUI": ["PulidModelLoader", "ApplyPulid"],
  "Kosinkadink/ComfyUI-VideoHelperSuite": ["VHS_VideoCombine", "VHS_LoadVideo"],
  "Kosinkadink/ComfyUI-Advanced-ControlNet": ["ACN_AdvancedControlNetApply"],
  "Kosinkadink/ComfyUI-AnimateDiff-Evolved": ["ADE_AnimateDiffLoaderWithContext", "ADE_UseEvolvedSampling"],
  "kijai/ComfyUI-KJNodes": ["GetImageSizeAndCount", "ImageResizeKJ", "ConditioningSetMaskAndCombine"],
  "kijai/ComfyUI-WanVideoWrapper": ["WanVideoModelLoader", "WanVideoSampler"],
  "kijai/ComfyUI-Florence2": ["Florence2Run", "DownloadAndLoadFlorence2Model"],
  "pythongosssss/ComfyUI-Custom-Scripts": ["ShowText|pysssss", "LoraLoader|pysssss"],
  "city96/ComfyUI-GGUF": ["UnetLoaderGGUF", "DualCLIPLoaderGGUF", "CLIPLoaderGGUF"],
  "jags111/efficiency-nodes-comfyui": ["Efficient Loader", "KSampler (Efficient)"],
  "Fannovel16/ComfyUI-Frame-Interpolation": ["RIFE VFI", "FILM VFI"],
  "Gourieff/ComfyUI-ReActor": ["ReActorFaceSwap"],
  "ssitu/ComfyUI_UltimateSDUpscale": ["UltimateSDUpscale"],
  "WASasquatch/was-node-suite-comfyui": ["Load Text File", "Text Multiline", "Text Concatenate", "Image Resize"],
  "omar92/ComfyUI-QualityOfLifeSuit_Omar92": ["Text _O", "Note _O", "seed _O"],
  "Slickytail/ComfyUI-InstantX-IPAdapter-SD3": ["IPAdapterSD3Loader", "ApplyIPAdapterSD3"],
  "ltdrdata/was-node-suite-comfyui": ["Text Multiline", "Image Resize", "Image Save"],
  "yolain/ComfyUI-Easy-Use": ["easy fullLoader", "easy seed"],
  "Suzie1/ComfyUI_Comfyroll_CustomNodes": ["CR Apply LoRA Stack", "CR LoRA Stack"],
  "chrisgoringe/cg-use-everywhere": ["Anything Everywhere"],
  "TinyTerra/ComfyUI_tinyterraNodes": ["ttN text"],
  "BlenderNeko/ComfyUI_ADV_CLIP_emb": ["BNK_CLIPTextEncodeAdvanced"],
};

// packs whose display-style type names follow a pattern (extension-node-map's `nodename_pattern`)
const PATTERNS: readonly [RegExp, string][] = [[/ \(rgthree\)$/, "rgthree/rgthree-comfy"]];

const BY_TYPE = new Map(Object.entries(PACKS).flatMap(([pack, types]) => types.map((type) => [type, pack] as const)));

/** The GitHub `owner/repo` of the pack known to provide `classType`, or undefined. */
export function knownNodePack(classType: string): string | undefined {
  return BY_TYPE.get(classType) ?? PATTERNS.find(([pattern]) => pattern.test(classType))?.[1];
}
