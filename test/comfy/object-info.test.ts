import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  comboOptions,
  coreObjectInfo,
  fileComboFolders,
  fillFileCombos,
  type NodeInfo,
} from "../../src/comfy/object-info.ts";
import { LOADERS } from "../../src/weights/loaders.ts";

const CORPUS = join(import.meta.dir, "../../../shared/corpus/workflows");
const UI_ONLY = new Set(["Note", "MarkdownNote", "Reroute", "PrimitiveNode"]);
// custom-pack nodes seen in the corpus (checked against each pack's source)
const CORPUS_CUSTOM = new Set([
  "AnyLineArtPreprocessor_aux",
  "ApplyIPAdapterSD3",
  "ApplyTheMistoFluxControlNet",
  "CM_FloatToInt",
  "Get Image Size (JPS)",
  "IPAdapterAdvanced",
  "IPAdapterModelLoader",
  "IPAdapterSD3Loader",
  "KSamplerTheMisto",
  "LTXVGemmaCLIPModelLoader",
  "LTXVGemmaEnhancePrompt",
  "LTXVSpatioTemporalTiledVAEDecode",
  "Load Text File",
  "LoadTheMistoFluxControlNet",
  "PrepImageForClipVision",
  "Text _O",
  "UnetLoaderGGUF",
]);

type UiNode = { type: string; properties?: { cnr_id?: string } };
type UiWorkflow = { nodes?: UiNode[]; definitions?: { subgraphs?: { id: string; nodes?: UiNode[] }[] } };

/** class_types of the corpus: every node of API files, core-or-unmarked nodes of UI files (subgraphs included). */
function corpusTypes(): { all: Set<string>; markedCore: Set<string> } {
  const all = new Set<string>();
  const markedCore = new Set<string>();
  for (const file of readdirSync(CORPUS).filter((f) => f.endsWith(".json"))) {
    const doc = JSON.parse(readFileSync(join(CORPUS, file), "utf8"));
    if (!file.startsWith("ui-")) {
      for (const node of Object.values(doc as Record<string, { class_type: string }>)) all.add(node.class_type);
      continue;
    }
    const ui = doc as UiWorkflow;
    const subgraphs = ui.definitions?.subgraphs ?? [];
    const ids = new Set(subgraphs.map((s) => s.id));
    for (const node of [...(ui.nodes ?? []), ...subgraphs.flatMap((s) => s.nodes ?? [])]) {
      const cnr = node.properties?.cnr_id;
      if (ids.has(node.type) || UI_ONLY.has(node.type) || (cnr && cnr !== "comfy-core")) continue;
      all.add(node.type);
      if (cnr === "comfy-core") markedCore.add(node.type);
    }
  }
  return { all, markedCore };
}

const info = coreObjectInfo();
const nodes = Object.entries(info);
const sections = (node: NodeInfo) => Object.keys(node.input).sort();

describe("snapshot coverage", () => {
  test("holds every built-in node the corpus uses and none of its custom ones", () => {
    const { all, markedCore } = corpusTypes();
    expect(markedCore.size).toBeGreaterThan(35);
    expect([...markedCore].filter((t) => !(t in info))).toEqual([]);
    expect([...all].filter((t) => !CORPUS_CUSTOM.has(t) && !(t in info))).toEqual([]);
    expect([...CORPUS_CUSTOM].filter((t) => t in info)).toEqual([]);
  });

  test("holds the standard node set", () => {
    const standard =
      `KSampler KSamplerAdvanced SamplerCustom SamplerCustomAdvanced KSamplerSelect BasicScheduler BasicGuider
      CFGGuider RandomNoise CheckpointLoaderSimple CheckpointLoader unCLIPCheckpointLoader ImageOnlyCheckpointLoader
      DiffusersLoader LoraLoader LoraLoaderModelOnly VAELoader UNETLoader CLIPLoader DualCLIPLoader TripleCLIPLoader
      QuadrupleCLIPLoader CLIPVisionLoader CLIPVisionEncode ControlNetLoader DiffControlNetLoader ControlNetApply
      ControlNetApplyAdvanced StyleModelLoader StyleModelApply GLIGENLoader UpscaleModelLoader ImageUpscaleWithModel
      HypernetworkLoader PhotoMakerLoader ModelPatchLoader AudioEncoderLoader LatentUpscaleModelLoader CLIPTextEncode
      CLIPSetLastLayer ConditioningCombine ConditioningSetArea ConditioningZeroOut FluxGuidance ModelSamplingFlux
      ModelSamplingSD3 ModelSamplingAuraFlow EmptyLatentImage EmptySD3LatentImage EmptyHunyuanLatentVideo
      EmptyLTXVLatentVideo LatentUpscale LatentUpscaleBy VAEDecode VAEEncode VAEDecodeTiled VAEEncodeForInpaint ImageScale
      ImageScaleBy ImageInvert LoadImage LoadImageMask LoadImageOutput LoadLatent SaveLatent SaveImage PreviewImage
      SaveAnimatedWEBP SaveAnimatedPNG SaveWEBM SaveVideo CreateVideo LoadVideo LoadAudio SaveAudio PreviewAudio
      SVD_img2vid_Conditioning VideoLinearCFGGuidance WanImageToVideo PrimitiveString PrimitiveInt PrimitiveFloat
      PrimitiveBoolean PreviewAny`.split(/\s+/);
    expect(standard.filter((t) => !(t in info))).toEqual([]);
    // ComfyUI 0.28.2's core set (object-info.meta.json)
    expect(nodes.length).toBe(575);
  });
});

describe("snapshot shape", () => {
  test("every node's input_order matches its input keys and its output arrays line up", () => {
    for (const [name, node] of nodes) {
      expect([name, Object.keys(node.input_order).sort()]).toEqual([name, sections(node)]);
      for (const [section, specs] of Object.entries(node.input)) {
        expect([name, node.input_order[section as "required"]]).toEqual([name, Object.keys(specs ?? {})]);
      }
      expect([name, node.name, node.output_name.length, node.output_is_list.length]).toEqual([
        name,
        name,
        node.output.length,
        node.output.length,
      ]);
      expect(typeof node.output_node).toBe("boolean");
    }
  });

  test("every sampling seed input is a 64-bit INT with control_after_generate", () => {
    // 0.28.2's training, dataset and splat nodes take a plain seed; SeedNode's control defaults to "fixed"
    const plain = new Set(["TrainLoraNode", "RandomCropImages", "ShuffleDataset", "ShuffleImageTextDataset"]);
    plain.add("VAEDecodeTripoSplat").add("SeedNode");
    let seeds = 0;
    for (const [name, node] of nodes) {
      for (const [input, spec] of Object.entries({ ...node.input.required, ...node.input.optional })) {
        if (!/^(noise_)?seed$/.test(input) || plain.has(name)) continue;
        seeds++;
        expect([name, input, spec]).toMatchObject([name, input, ["INT", { control_after_generate: true }]]);
      }
    }
    expect(seeds).toBe(6);
    // upstream's 0xffffffffffffffff; JSON.parse rounds it to 2**64
    expect(info.KSampler?.input.required?.seed).toEqual([
      "INT",
      expect.objectContaining({ default: 0, min: 0, max: 2 ** 64, control_after_generate: true }),
    ]);
  });

  test("keeps upstream's per-node details", () => {
    expect(info.LoadImage?.input.required?.image).toEqual([[], { image_upload: true }]);
    expect(info.UpscaleModelLoader?.input.required?.model_name).toEqual(["COMBO", { multiselect: false, options: [] }]);
    expect(info.SaveImage?.input.hidden).toEqual({ prompt: "PROMPT", extra_pnginfo: "EXTRA_PNGINFO" });
    expect(info.SaveImage?.input_order.hidden).toEqual(["prompt", "extra_pnginfo"]);
    expect(info.SaveVideo?.input.hidden).toEqual({ prompt: ["PROMPT"], extra_pnginfo: ["EXTRA_PNGINFO"] });
    expect(info.VAELoader?.input.required?.vae_name).toEqual([[]]);
    expect(info.CheckpointLoader?.input.required?.config_name).toEqual([[]]);
    // 0.28.2 moved the samplers under "model/sampling"
    expect(info.KSampler).toMatchObject({ python_module: "nodes", category: "model/sampling", output: ["LATENT"] });
    expect(info.UpscaleModelLoader).toMatchObject({ python_module: "comfy_extras.nodes_upscale_model" });
    // 0.28.2's PreviewAny also passes its text on
    expect(info.PreviewAny).toMatchObject({
      output_node: true,
      output: ["STRING"],
      python_module: "comfy_extras.nodes_preview_any",
    });
    expect(info.RandomNoise?.display_name).toBeNull();
  });

  test("the only empty combos are the loader inputs (and the frontend-filled CustomCombo)", () => {
    const empty: string[] = [];
    for (const [name, node] of nodes) {
      for (const [input, spec] of Object.entries({ ...node.input.required, ...node.input.optional })) {
        if (comboOptions(spec)?.length === 0) empty.push(`${name}.${input}`);
      }
    }
    const loaders = Object.entries(LOADERS).flatMap(([cls, inputs]) => Object.keys(inputs).map((i) => `${cls}.${i}`));
    expect(empty.filter((key) => !loaders.includes(key))).toEqual(["CustomCombo.choice"]);
    expect(empty).toContain("LoadImage.image");
    expect(empty).toContain("QuadrupleCLIPLoader.clip_name4");
  });
});

describe("coreObjectInfo / fillFileCombos / comboOptions", () => {
  const folders: Record<string, string[]> = {
    checkpoints: ["sd15.safetensors", "sub/xl.safetensors"],
    upscale_models: ["4x.pth"],
    input: ["cat.png"],
    output: ["ComfyUI_00001_.png"],
    vae: ["ae.safetensors"],
    vae_approx: ["taesd_decoder.pth", "taesd_encoder.pth", "taesdxl_decoder.pth", "taehv.pth", "x/taef1_encoder.pth"],
  };
  const list = (folder: string) => folders[folder] ?? [];

  test("returns a fresh deep copy each time", () => {
    const a = coreObjectInfo();
    (a.KSampler as NodeInfo).category = "changed";
    expect(coreObjectInfo().KSampler?.category).toBe("model/sampling");
  });

  test("fills both combo shapes, the options-less COMBO and the VAE specials without touching the input", () => {
    const filled = fillFileCombos(info, list);
    expect(filled.CheckpointLoaderSimple?.input.required?.ckpt_name).toEqual([
      ["sd15.safetensors", "sub/xl.safetensors"],
      { tooltip: "The name of the checkpoint (model) to load." },
    ]);
    expect(filled.UpscaleModelLoader?.input.required?.model_name).toEqual([
      "COMBO",
      { multiselect: false, options: ["4x.pth"] },
    ]);
    expect(filled.LoadImage?.input.required?.image).toEqual([["cat.png"], { image_upload: true }]);
    expect(comboOptions(filled.LoadImageOutput?.input.required?.image)).toEqual(["ComfyUI_00001_.png"]);
    expect(filled.LoadImageOutput?.input.required?.image).toMatchObject(["COMBO", { image_folder: "output" }]);
    expect(comboOptions(filled.VAELoader?.input.required?.vae_name)).toEqual([
      "ae.safetensors",
      "taehv.pth",
      "taesd",
      "pixel_space",
    ]);
    expect(comboOptions(filled.UNETLoader?.input.required?.unet_name)).toEqual([]);
    expect(comboOptions(info.CheckpointLoaderSimple?.input.required?.ckpt_name)).toEqual([]);
  });

  test("passes folder names through, including custom loaders present in a live object_info", () => {
    const asked: string[] = [];
    const live = { UnetLoaderGGUF: { ...(info.UNETLoader as NodeInfo), name: "UnetLoaderGGUF" } };
    fillFileCombos(live, (folder) => {
      asked.push(folder);
      return [];
    });
    expect(asked).toEqual(["unet_gguf"]);
  });

  test("names every folder the fill will ask for", () => {
    expect(fileComboFolders(info)).toEqual([
      "audio_encoders",
      "background_removal",
      "checkpoints",
      "clip_vision",
      "configs",
      "controlnet",
      "detection",
      "diffusers",
      "diffusion_models",
      "frame_interpolation",
      "geometry_estimation",
      "gligen",
      "hypernetworks",
      "input",
      "latent_upscale_models",
      "loras",
      "model_patches",
      "optical_flow",
      "output",
      "photomaker",
      "style_models",
      "text_encoders",
      "upscale_models",
      "vae",
      "vae_approx",
    ]);
  });

  test("reads options from either shape and nothing else", () => {
    expect(comboOptions([["a", "b"], { default: "a" }])).toEqual(["a", "b"]);
    expect(comboOptions(["COMBO", { options: ["x"] }])).toEqual(["x"]);
    expect(comboOptions(["COMBO", { image_folder: "output" }])).toBeUndefined();
    expect(comboOptions(["INT", { default: 1 }])).toBeUndefined();
    expect(comboOptions("PROMPT")).toBeUndefined();
  });
});
