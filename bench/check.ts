// Weights index and `check` on a large models tree: 50,000 files in 500 directories, a cold index
// (first walk), then checking a 40-weight workflow against the warm index (one stat per directory,
// extraction, resolution, candidates for the 3 missing files). Reference, measured in the same run: a plain
// recursive readdir of the same tree (`readdir(root, { recursive: true })`).
// Run: node_modules/.bin/bun bench/check.ts [--files 50000] [--runs 15]
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { coreObjectInfo } from "../src/comfy/object-info.ts";
import { checkLoadedWorkflow } from "../src/weights/check.ts";
import { defaultRoots } from "../src/weights/folders.ts";
import { createModelIndex } from "../src/weights/model-index.ts";
import type { ApiWorkflow } from "../src/workflow/api.ts";

const { values } = parseArgs({
  options: { files: { type: "string", default: "50000" }, runs: { type: "string", default: "15" } },
});
const FILES = Number(values.files);
const RUNS = Number(values.runs);
const FOLDERS = [
  "checkpoints",
  "loras",
  "vae",
  "controlnet",
  "upscale_models",
  "text_encoders",
  "embeddings",
  "clip_vision",
  "diffusion_models",
  "ipadapter",
];
const DIRS_PER_FOLDER = 50;

const base = mkdtempSync(join(tmpdir(), "cw-bench-check-"));
const models = join(base, "models");
const perDir = Math.ceil(FILES / (FOLDERS.length * DIRS_PER_FOLDER));
const name = (folder: string, d: number, f: number) => `${folder}_${d}_${f}.safetensors`;

function buildTree(): void {
  const past = new Date(Date.now() - 3_600_000);
  let made = 0;
  for (const folder of FOLDERS) {
    for (let d = 0; d < DIRS_PER_FOLDER && made < FILES; d++) {
      const dir = join(models, folder, `set${d}`);
      mkdirSync(dir, { recursive: true });
      for (let f = 0; f < perDir && made < FILES; f++, made++) writeFileSync(join(dir, name(folder, d, f)), "");
      // a volume that has been in place a while: its directories' mtimes are settled
      utimesSync(dir, past, past);
    }
    utimesSync(join(models, folder), past, past);
  }
}

// 1 checkpoint, 30 chained LoRAs, 4 ControlNets, 2 upscalers, 2 text encoders, 1 VAE = 40 weights; 3 missing
function workflow(): ApiWorkflow {
  const api: ApiWorkflow = {
    ckpt: { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: `set1/${name("checkpoints", 1, 3)}` } },
    vae: { class_type: "VAELoader", inputs: { vae_name: `set2/${name("vae", 2, 5)}` } },
    clip: {
      class_type: "DualCLIPLoader",
      inputs: {
        clip_name1: `set3/${name("text_encoders", 3, 1)}`,
        clip_name2: "t5xxl_missing.safetensors",
        type: "flux",
      },
    },
  };
  let model: [string, number] = ["ckpt", 0];
  for (let i = 0; i < 30; i++) {
    const lora = i === 29 ? `set${i}/LORAS_${i}_0.safetensors` : `set${i}/${name("loras", i, i)}`;
    api[`lora${i}`] = { class_type: "LoraLoaderModelOnly", inputs: { lora_name: lora, model, strength_model: 1 } };
    model = [`lora${i}`, 0];
  }
  const sinks: Record<string, unknown> = { model, vae: ["vae", 0], clip: ["clip", 0] };
  for (let i = 0; i < 4; i++) {
    api[`cn${i}`] = {
      class_type: "ControlNetLoader",
      inputs: { control_net_name: `set${i}/${name("controlnet", i, 7)}` },
    };
    sinks[`cn${i}`] = [`cn${i}`, 0];
  }
  for (let i = 0; i < 2; i++) {
    const file = i === 1 ? "4x-missing.pth" : `set${i}/${name("upscale_models", i, 2)}`;
    api[`up${i}`] = { class_type: "UpscaleModelLoader", inputs: { model_name: file } };
    sinks[`up${i}`] = [`up${i}`, 0];
  }
  api.sink = { class_type: "BenchSink", inputs: sinks };
  return api;
}

async function median(runs: number, fn: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs + 2; i++) {
    const started = performance.now();
    await fn();
    if (i >= 2) times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? 0;
}

const built = performance.now();
buildTree();
console.log(
  `built ${FILES} files in ${FOLDERS.length * DIRS_PER_FOLDER} dirs in ${((performance.now() - built) / 1000).toFixed(1)} s`,
);
const roots = defaultRoots(base);
const api = workflow();
const options = {
  objectInfo: coreObjectInfo(),
  live: false,
  level: "exists" as const,
  dirs: { input: join(base, "input"), output: join(base, "output"), temp: join(base, "temp") },
};

const walk = await median(Math.max(5, RUNS / 3), () => readdir(models, { recursive: true }));
const cold = await median(Math.max(5, RUNS / 3), () => createModelIndex(roots).snapshot());
const index = createModelIndex(roots);
await index.snapshot();
let report = await checkLoadedWorkflow({ file: "bench.json", format: "api", api }, await index.snapshot(), options);
const warm = await median(RUNS, async () => {
  report = await checkLoadedWorkflow({ file: "bench.json", format: "api", api }, await index.snapshot(), options);
});
const refresh = await median(RUNS, () => index.snapshot());

const missing = report.weights.filter((w) => w.status === "missing");
console.log(
  `workflow: ${report.weights.length} weights, ${missing.length} missing (${missing.map((w) => w.name).join(", ")})`,
);
console.log(`plain recursive readdir (reference)   median ${walk.toFixed(1)} ms`);
console.log(
  `cold index (first walk)               median ${cold.toFixed(1)} ms   ratio ${(cold / walk).toFixed(2)}x readdir`,
);
console.log(
  `warm refresh (stat per directory)     median ${refresh.toFixed(1)} ms   ratio ${(refresh / walk).toFixed(2)}x readdir`,
);
console.log(
  `check 40 weights on the warm index    median ${warm.toFixed(1)} ms   ratio ${(warm / walk).toFixed(2)}x readdir`,
);
rmSync(base, { recursive: true, force: true });
