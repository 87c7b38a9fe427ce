import { describe, expect, test } from "bun:test";
import { coreObjectInfo, type ObjectInfo } from "../../src/comfy/object-info.ts";
import { embeddingNames, reachableNodeIds, requiredFiles } from "../../src/weights/required.ts";
import type { ApiWorkflow } from "../../src/workflow/api.ts";
import { parseUiWorkflow } from "../../src/workflow/ui.ts";

const info = coreObjectInfo();
const save = (images: [string, number]) => ({ class_type: "SaveImage", inputs: { images, filename_prefix: "x" } });
const keys = (api: ApiWorkflow, objectInfo: ObjectInfo = info) =>
  requiredFiles(api, { objectInfo }).weights.map((w) => `${w.folder}/${w.name}`);

describe("which nodes count", () => {
  test("only nodes an output depends on; an unknown sink node may be an output and is kept", () => {
    const api: ApiWorkflow = {
      "1": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: "used.safetensors" } },
      "2": { class_type: "VAEDecode", inputs: { samples: ["9", 0], vae: ["1", 2] } },
      "3": save(["2", 0]),
      "4": { class_type: "LoraLoader", inputs: { lora_name: "dangling.safetensors", model: ["1", 0], clip: ["1", 1] } },
      "5": { class_type: "UpscaleModelLoader", inputs: { model_name: "for-custom.pth" } },
      "6": { class_type: "MyCustomSaver", inputs: { upscale_model: ["5", 0] } },
      "9": { class_type: "EmptyLatentImage", inputs: { width: 8, height: 8, batch_size: 1 } },
    };
    expect(reachableNodeIds(api, info)).toEqual(["1", "2", "3", "5", "6", "9"]);
    expect(keys(api)).toEqual(["checkpoints/used.safetensors", "upscale_models/for-custom.pth"]);
  });
});

describe("loaders", () => {
  test("VAELoader: pixel_space needs nothing, TAESD needs both halves, video TAEs live in vae_approx", () => {
    const vae = (name: string): ApiWorkflow => ({
      "1": { class_type: "VAELoader", inputs: { vae_name: name } },
      "2": { class_type: "VAEDecode", inputs: { samples: ["3", 0], vae: ["1", 0] } },
      "3": { class_type: "EmptyLatentImage", inputs: {} },
      "4": save(["2", 0]),
    });
    expect(keys(vae("pixel_space"))).toEqual([]);
    expect(keys(vae("taesdxl"))).toEqual(["vae_approx/taesdxl_decoder.*", "vae_approx/taesdxl_encoder.*"]);
    expect(keys(vae("taehv.safetensors"))).toEqual(["vae_approx/taehv.safetensors"]);
    expect(keys(vae("sdxl_vae.safetensors"))).toEqual(["vae/sdxl_vae.safetensors"]);
  });

  test("GGUF loaders store in the source folder but look up the .gguf-only list; editor objects give their content", () => {
    const api: ApiWorkflow = {
      "1": { class_type: "UnetLoaderGGUF", inputs: { unet_name: "flux-Q4.gguf" } },
      "2": {
        class_type: "LoraLoader",
        inputs: { lora_name: { content: "x.safetensors", image: null }, model: ["1", 0] },
      },
      "3": { class_type: "Sink", inputs: { model: ["2", 0] } },
    };
    const { weights } = requiredFiles(api, { objectInfo: info });
    expect(weights.map((w) => [w.folder, w.name, w.lookup])).toEqual([
      ["diffusion_models", "flux-Q4.gguf", "unet_gguf"],
      ["loras", "x.safetensors", "loras"],
    ]);
  });

  test('custom loaders\' "None" choice needs no file', () => {
    const api: ApiWorkflow = {
      "1": { class_type: "WanVideoVAELoader", inputs: { model_name: "None" } },
      "2": { class_type: "LoadWanVideoT5TextEncoder", inputs: { model_name: "umt5-xxl-enc-bf16.safetensors" } },
      "3": { class_type: "Sink", inputs: { a: ["1", 0], b: ["2", 0] } },
    };
    expect(keys(api)).toEqual(["text_encoders/umt5-xxl-enc-bf16.safetensors"]);
  });

  test("input files: annotations pick the directory, URLs are flagged", () => {
    const api: ApiWorkflow = {
      "1": { class_type: "LoadImage", inputs: { image: "cat.png [output]" } },
      "2": { class_type: "LoadImage", inputs: { image: "https://example.com/dog.png" } },
      "3": { class_type: "LoadImageMask", inputs: { image: "sub/mask.png", channel: "alpha" } },
      "4": save(["1", 0]),
      "5": save(["2", 0]),
      "6": { class_type: "PreviewImage", inputs: { images: ["3", 0] } },
    };
    expect(requiredFiles(api, { objectInfo: info }).inputs.map((i) => [i.name, i.dir, i.file, i.url])).toEqual([
      ["cat.png [output]", "output", "cat.png", false],
      ["https://example.com/dog.png", "input", "https://example.com/dog.png", true],
      ["sub/mask.png", "input", "sub/mask.png", false],
    ]);
  });
});

describe("embeddings", () => {
  test("are read from prompt text as sd1_clip tokenizes them", () => {
    expect(embeddingNames("a embedding:SDA768.pt girl")).toEqual(["SDA768.pt"]);
    expect(embeddingNames("embedding:EasyNegative, embedding:bad-hands-5,\nnude")).toEqual([
      "EasyNegative",
      "bad-hands-5",
    ]);
    expect(embeddingNames("(embedding:style/foo:1.2), (embedding:bar) embedding:foo")).toEqual([
      "style/foo",
      "bar",
      "foo",
    ]);
    expect(embeddingNames("no embeddings here: embedding")).toEqual([]);
  });
});

describe("file COMBOs of a live /object_info", () => {
  const live: ObjectInfo = {
    ...info,
    CustomLoader: {
      ...(info.CheckpointLoaderSimple as ObjectInfo[string]),
      name: "CustomLoader",
      input: {
        required: {
          model: [["None", "a.safetensors", "b.safetensors"], {}],
          photo: [["x.png"], { image_upload: true }],
          mode: [["fast", "slow"], {}],
        },
      },
    },
  };
  const api: ApiWorkflow = {
    "1": { class_type: "CustomLoader", inputs: { model: "c.safetensors", photo: "me.png", mode: "fast" } },
    "2": save(["1", 0]),
  };

  test("map to the folder whose listing they contain; upload combos are input files", () => {
    const asked: string[][] = [];
    const result = requiredFiles(api, {
      objectInfo: live,
      comboFolder: (options) => {
        asked.push([...options]);
        return options.includes("a.safetensors") ? "loras" : undefined;
      },
    });
    expect(result.weights.map((w) => `${w.folder}/${w.name}`)).toEqual(["loras/c.safetensors"]);
    expect(result.inputs.map((i) => i.name)).toEqual(["me.png"]);
    expect(asked).toEqual([
      ["None", "a.safetensors", "b.safetensors"],
      ["fast", "slow"],
    ]);
  });
});

describe("declared weights", () => {
  const ui = parseUiWorkflow({
    nodes: [
      {
        id: 1,
        type: "CheckpointLoaderSimple",
        mode: 0,
        widgets_values: ["m.safetensors"],
        properties: {
          models: [
            {
              name: "m.safetensors",
              directory: "checkpoints",
              url: "https://h/m",
              hash: "A".repeat(64),
              hash_type: "SHA256",
            },
          ],
        },
      },
      {
        id: 2,
        type: "LoraLoader",
        mode: 4,
        widgets_values: ["bypassed.safetensors", 1, 1],
        properties: { models: [{ name: "bypassed.safetensors", directory: "loras", url: "https://h/b" }] },
      },
    ],
    links: [],
    models: [
      { name: "custom.bin", directory: "my_models", url: "https://h/c" },
      { name: "stale.safetensors", directory: "loras", url: "https://h/s" },
      { name: "broken" },
    ],
  });
  const api: ApiWorkflow = {
    "1": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: "m.safetensors" } },
    "3": {
      class_type: "MyCustomLoader",
      inputs: { file: "custom.bin", model: ["1", 0] },
      _meta: {
        title: "x",
        required_weights: [
          "unet/extra.safetensors",
          { directory: "vae", name: "v.pt", url: "https://h/v", size: 9 },
          7,
          { folder: "../../..", name: "escape.safetensors", url: "https://h/e" },
          "../escape.safetensors",
        ],
      },
    },
  };

  test("models metadata adds sources, and folders for files only metadata places; stale or bypassed entries are ignored", () => {
    const result = requiredFiles(api, { objectInfo: info, ui });
    expect(result.weights.map((w) => [w.folder, w.name, w.source?.url, w.source?.sha256, w.size])).toEqual([
      ["checkpoints", "m.safetensors", "https://h/m", "a".repeat(64), undefined],
      ["diffusion_models", "extra.safetensors", undefined, undefined, undefined],
      ["my_models", "custom.bin", "https://h/c", undefined, undefined],
      ["vae", "v.pt", "https://h/v", undefined, 9],
    ]);
    expect(result.warnings).toEqual([
      // in our words, not zod's ("Invalid input: expected string, received undefined")
      "node 3 _meta.required_weights[2] has none of the accepted shapes (got 7); ignored",
      "node 3 _meta.required_weights[3].folder: must name a model folder such as loras (one name, no '/' or '..'); ignored",
      "node 3 _meta.required_weights[4]: must name a model folder such as loras (one name, no '/' or '..'); ignored",
      "workflow models[2].directory is missing (expected text); ignored",
    ]);
  });
});

test("a declared size of 0 is no size: the weight counts as declaring none", async () => {
  const { apiRequiredWeights } = await import("../../src/weights/metadata.ts");
  const warnings: string[] = [];
  const node = {
    class_type: "CheckpointLoaderSimple",
    inputs: { ckpt_name: "m.safetensors" },
    _meta: { required_weights: [{ folder: "checkpoints", name: "m.safetensors", size: 0 }] },
  };
  expect(apiRequiredWeights("1", node, warnings)).toEqual([{ folder: "checkpoints", name: "m.safetensors" }]);
  expect(warnings).toEqual([]);
});
