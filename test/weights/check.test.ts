import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { coreObjectInfo } from "../../src/comfy/object-info.ts";
import { checkLoadedWorkflow, checkWorkflowFiles, comboFolderFor } from "../../src/weights/check.ts";
import { defaultRoots } from "../../src/weights/folders.ts";
import { resolveWeight } from "../../src/weights/locate.ts";
import { createModelIndex, type ModelSnapshot } from "../../src/weights/model-index.ts";
import type { RequiredWeight } from "../../src/weights/required.ts";
import type { ApiWorkflow } from "../../src/workflow/api.ts";
import { buildSafetensors } from "./_safetensors.ts";

let base = "";
let snapshot: ModelSnapshot;
const put = (path: string, data: string | Uint8Array = "x") => {
  mkdirSync(dirname(join(base, path)), { recursive: true });
  writeFileSync(join(base, path), data);
};
const weight = (lookup: string, name: string, match: RequiredWeight["match"]): RequiredWeight => ({
  folder: lookup,
  name,
  lookup,
  match,
  nodes: [],
});
const GOOD = buildSafetensors({ w: { dtype: "F32", shape: [2], bytes: 8 } });

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), "cw-check-"));
  put("models/embeddings/EasyNegative.safetensors", GOOD);
  put("models/embeddings/negatives/bad-hands-5.pt");
  put("models/embeddings/SDA768.pt");
  put("models/vae_approx/taesd_encoder.pth");
  put("models/vae_approx/taesd_decoder.safetensors");
  put("models/vae_approx/taesdxl_decoder.pth");
  put("models/checkpoints/good.safetensors", GOOD);
  put("models/checkpoints/cut.safetensors", GOOD.subarray(0, GOOD.length - 2));
  put("models/loras/one.safetensors");
  put("models/loras/two.safetensors");
  put("input/photo.png");
  snapshot = await createModelIndex(defaultRoots(base)).snapshot();
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe("resolving a requirement", () => {
  test("embeddings as load_embed finds them: with or without extension, in any subfolder", () => {
    const find = (name: string) => resolveWeight(snapshot, weight("embeddings", name, "embedding"));
    expect(find("EasyNegative")).toBe(join(base, "models/embeddings/EasyNegative.safetensors"));
    expect(find("SDA768.pt")).toBe(join(base, "models/embeddings/SDA768.pt"));
    expect(find("bad-hands-5")).toBe(join(base, "models/embeddings/negatives/bad-hands-5.pt"));
    expect(find("nope")).toBeUndefined();
  });

  test("TAESD halves by prefix", () => {
    const find = (name: string) => resolveWeight(snapshot, weight("vae_approx", name, "prefix"));
    expect(find("taesd_encoder.*")).toBe(join(base, "models/vae_approx/taesd_encoder.pth"));
    expect(find("taesdxl_encoder.*")).toBeUndefined();
  });

  test("a file COMBO maps to the folder whose whole listing it offers", () => {
    const folderOf = comboFolderFor(snapshot);
    expect(folderOf(["None", "one.safetensors", "two.safetensors"])).toBe("loras");
    expect(folderOf(["one.safetensors"])).toBeUndefined();
    expect(folderOf(["euler", "ddim"])).toBeUndefined();
  });
});

describe("a workflow's report", () => {
  const api: ApiWorkflow = {
    "1": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: "cut.safetensors" } },
    "2": { class_type: "CLIPTextEncode", inputs: { clip: ["1", 1], text: "embedding:EasyNegative embedding:gone" } },
    "3": { class_type: "LoadImage", inputs: { image: "photo.png" } },
    "4": { class_type: "LoadImage", inputs: { image: "absent.png" } },
    "5": { class_type: "Sink", inputs: { a: ["2", 0], b: ["3", 0], c: ["4", 0] } },
  };
  // a function: `base` is set in beforeAll, after this describe body runs
  const options = () => ({
    objectInfo: coreObjectInfo(),
    live: false,
    dirs: { input: join(base, "input"), output: join(base, "output"), temp: join(base, "temp") },
  });

  test("statuses per weight and input, with where it looked for missing ones", async () => {
    const report = await checkLoadedWorkflow({ file: "w.json", format: "api", api }, snapshot, {
      ...options(),
      level: "header",
    });
    expect(report.weights.map((w) => [w.folder, w.name, w.status])).toEqual([
      ["checkpoints", "cut.safetensors", "corrupt"],
      ["embeddings", "EasyNegative", "present"],
      ["embeddings", "gone", "missing"],
    ]);
    expect(report.weights[0]?.reason).toContain("truncated");
    expect(report.weights[2]?.searched).toEqual([join(base, "models/embeddings")]);
    expect(report.inputs.map((i) => [i.name, i.status, i.path])).toEqual([
      ["absent.png", "missing", join(base, "input/absent.png")],
      ["photo.png", "present", join(base, "input/photo.png")],
    ]);
    expect(report.unknown_nodes).toEqual([{ class_type: "Sink" }]);
  });

  test("exists level takes the same file as present, with its size", async () => {
    const report = await checkLoadedWorkflow({ file: "w.json", format: "api", api }, snapshot, {
      ...options(),
      level: "exists",
    });
    expect(report.weights[0]).toMatchObject({ status: "present", size: GOOD.length - 2 });
  });

  test("ok is false when a weight is missing; missing input files alone don't fail a check", async () => {
    const file = join(base, "w.json");
    const sink = { class_type: "Sink", inputs: { a: ["1", 0], c: ["4", 0] } };
    await Bun.write(file, JSON.stringify({ "1": api["1"], "4": api["4"], "5": sink }));
    const index = createModelIndex(defaultRoots(base));
    expect((await checkWorkflowFiles([file], { ...options(), index, level: "exists" })).ok).toBe(true);
    expect((await checkWorkflowFiles([file], { ...options(), index, level: "header" })).ok).toBe(false);
  });
});
