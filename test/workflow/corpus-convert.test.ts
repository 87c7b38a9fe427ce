/**
 * The corpus UI workflows converted offline (bundled /object_info): the one graph the corpus also has as an
 * API export must match it, and every workflow of core nodes must pass the emulator's POST /prompt validation.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { coreObjectInfo } from "../../src/comfy/object-info.ts";
import { FOLDER_UNION_SEPARATOR, LOADERS } from "../../src/weights/loaders.ts";
import type { ApiWorkflow } from "../../src/workflow/api.ts";
import { type ConvertResult, convertUiToApi } from "../../src/workflow/convert.ts";
import { loadWorkflowFile } from "../../src/workflow/load.ts";
import { addModel, postPrompt, type SpawnedEmulator, spawnEmulator } from "../helpers/emulator.ts";

const CORPUS = join(import.meta.dir, "../../../shared/corpus/workflows");
const files = readdirSync(CORPUS).sort();
const converted = new Map<string, ConvertResult>();
const exports = new Map<string, ApiWorkflow>();

// what the bundled core snapshot lacks, per file; none of them carries cnr_id/aux_id
const UNKNOWN: Record<string, string[]> = {
  "ui-flux-gguf-lora.json": ["UnetLoaderGGUF"],
  "ui-flux-pose-controlnet-bypassed-lora.json": ["Get Image Size (JPS)"],
  "ui-ltx2-t2v-subgraph.json": [
    "CM_FloatToInt",
    "LTXVGemmaEnhancePrompt",
    "LTXVGemmaCLIPModelLoader",
    "LTXVSpatioTemporalTiledVAEDecode",
  ],
  "ui-sd15-ipadapter-advanced.json": ["IPAdapterAdvanced", "PrepImageForClipVision", "IPAdapterModelLoader"],
  "ui-sd15-lora-stack-embeddings-messy.json": ["Text _O", "Load Text File"],
};

beforeAll(async () => {
  const info = coreObjectInfo();
  for (const file of files.filter((f) => f.endsWith(".json"))) {
    const loaded = await loadWorkflowFile(join(CORPUS, file));
    if (loaded.ui) converted.set(file, convertUiToApi(loaded.ui, info));
    if (loaded.api) exports.set(file, loaded.api);
  }
});

test("every corpus UI workflow converts; unknown node types are reported, every link points at an emitted node", () => {
  expect(converted.size).toBe(11);
  for (const [file, { api, unknownNodes }] of converted) {
    expect([file, unknownNodes.map((n) => n.class_type)]).toEqual([file, UNKNOWN[file] ?? []]);
    for (const [id, node] of Object.entries(api)) {
      for (const [name, value] of Object.entries(node.inputs)) {
        if (Array.isArray(value)) expect([file, id, name, String(value[0]) in api]).toEqual([file, id, name, true]);
      }
    }
  }
  const zimage = converted.get("ui-zimage-turbo-subgraph.json")?.api ?? {};
  expect(Object.keys(zimage).sort()).toEqual([
    "60",
    "83:13",
    "83:27",
    "83:28",
    "83:29",
    "83:3",
    "83:30",
    "83:33",
    "83:8",
  ]);
  // inner ModelSamplingAuraFlow (83:11) is bypassed: the sampler takes the UNETLoader's model
  expect(zimage["83:3"]?.inputs.model).toEqual(["83:28", 0]);
  // ltx2: noise_seed is promoted to the instance (its widget and the inner one both hold 45); frame_rate and
  // length come through the instance's linked inputs
  const ltx2 = converted.get("ui-ltx2-t2v-subgraph.json")?.api ?? {};
  expect(ltx2["5232:5158"]?.inputs).toEqual({ noise_seed: 45 });
  expect(ltx2["5232:5170"]?.inputs).toMatchObject({ frames_number: ["5218", 0], frame_rate: ["5220", 0] });
});

/** The (ui, api) file pairs whose node ids and class types are the same graph. */
function pairs(): [string, string][] {
  const shape = (api: ApiWorkflow) =>
    JSON.stringify(
      Object.entries(api)
        .map(([id, node]) => [id, node.class_type])
        .sort(),
    );
  const out: [string, string][] = [];
  for (const [ui, result] of converted) {
    for (const [apiFile, api] of exports) if (shape(result.api) === shape(api)) out.push([ui, apiFile]);
  }
  return out;
}

test("a converted UI workflow equals the corpus API export of the same graph, differences explained", () => {
  expect(pairs()).toEqual([["ui-hunyuan-video-i2v.json", "api-hunyuan-video-i2v.json"]]);
  const ours = converted.get("ui-hunyuan-video-i2v.json")?.api ?? {};
  const theirs = exports.get("api-hunyuan-video-i2v.json") ?? {};
  const onlyOurs: string[] = [];
  const onlyTheirs: string[] = [];
  const differ: string[] = [];
  const titles: string[] = [];
  for (const [id, node] of Object.entries(theirs)) {
    const mine = ours[id];
    expect([id, mine?.class_type]).toEqual([id, node.class_type]);
    if (mine?._meta?.title !== node._meta?.title) titles.push(`${id}: ${node._meta?.title} -> ${mine?._meta?.title}`);
    for (const name of new Set([...Object.keys(node.inputs), ...Object.keys(mine?.inputs ?? {})])) {
      const [a, b] = [mine?.inputs[name], node.inputs[name]];
      if (b === undefined) onlyOurs.push(`${id}.${name}=${JSON.stringify(a)}`);
      else if (a === undefined) onlyTheirs.push(`${id}.${name}=${JSON.stringify(b)}`);
      else if (JSON.stringify(a) !== JSON.stringify(b)) differ.push(`${id}.${name}`);
    }
  }
  // untitled nodes take the display name; ComfyUI 0.28.2 gave these four one, the export's ComfyUI had none
  expect(titles).toEqual([
    "11: DualCLIPLoader -> Load CLIP (Dual)",
    "22: BasicGuider -> Basic Guider",
    "75: SaveAnimatedWEBP -> Save Animated WEBP",
    "86: ImageFromBatch -> Get Image from Batch",
  ]);
  // inputs ComfyUI added after the export (v0.14.1 requires them); the UI file has no value, so the defaults
  expect(onlyOurs).toEqual(['78.guidance_type="v1 (concat)"', "80.image_interleave=2"]);
  // the 2025 editor that exported it also sent LoadImage's upload button; ComfyUI ignores it
  expect(onlyTheirs).toEqual(['83.upload="image"']);
  // replicate/cog-comfyui edited its copy of the export: its own prompt and an input image URL
  expect(differ).toEqual(["80.prompt", "83.image"]);
  expect([ours["80"]?.inputs.prompt, theirs["80"]?.inputs.prompt]).toEqual([
    "a cute anime girl with massive fennec ears and a big fluffy tail wearing a maid outfit running",
    "a woman smiles",
  ]);
  expect(ours["83"]?.inputs.image).toBe("flux_dev_example.png");
  expect(String(theirs["83"]?.inputs.image)).toStartWith("https://tjzk.replicate.delivery/");
});

let emulator: SpawnedEmulator | undefined;
afterAll(async () => {
  await emulator?.stop();
});

test("every converted workflow of core nodes passes the emulator's POST /prompt validation", async () => {
  const core = [...converted].filter(([, result]) => result.unknownNodes.length === 0);
  expect(core.map(([file]) => file)).toEqual([
    "ui-flux-dev-unet-models.json",
    "ui-hunyuan-video-i2v.json",
    "ui-ltxv-i2v-095.json",
    "ui-wan21-i2v.json",
    "ui-wan22-t2v-lightx2v-loras.json",
    "ui-zimage-turbo-subgraph.json",
  ]);
  emulator = await spawnEmulator({ args: ["--node-ms", "1"], readyTimeoutMs: 30_000 });
  for (const [file, { api }] of core) {
    await _createReferencedFiles(emulator.base, api);
    const res = await postPrompt(emulator.url, { prompt: api });
    expect([file, res.status, res.body.node_errors]).toEqual([file, 200, {}]);
  }
}, 60_000);

// dummy weights and input images for every loader input the workflow names
async function _createReferencedFiles(base: string, api: ApiWorkflow): Promise<void> {
  for (const node of Object.values(api)) {
    for (const [input, folders] of Object.entries(LOADERS[node.class_type] ?? {})) {
      const name = node.inputs[input];
      if (typeof name !== "string") continue;
      const folder = folders.split(FOLDER_UNION_SEPARATOR)[0] ?? folders;
      if (folder === "input" || folder === "output") await Bun.write(join(base, folder, name), "dummy image");
      else await addModel(base, folder, name);
    }
  }
}
