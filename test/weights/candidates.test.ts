import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createCandidateFinder, editDistance, looseName } from "../../src/weights/candidates.ts";
import { defaultRoots } from "../../src/weights/folders.ts";
import { createModelIndex, type ModelSnapshot } from "../../src/weights/model-index.ts";

let base = "";
let snapshot: ModelSnapshot;

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), "cw-cand-"));
  for (const path of [
    "checkpoints/DreamShaper_8.safetensors",
    "checkpoints/sd15/realisticVisionV51_v51VAE.safetensors",
    "loras/dreamshaper_8.safetensors",
    "loras/_style__/kpgBeautifulFaceAnd_v10.safetensors",
    "vae/ae.safetensors",
    "diffusion_models/flux1-dev.safetensors",
    "diffusion_models/flux1-schnell.safetensors",
    "text_encoders/t5xxl_fp16.safetensors",
  ]) {
    mkdirSync(dirname(join(base, "models", path)), { recursive: true });
    writeFileSync(join(base, "models", path), "x");
  }
  snapshot = await createModelIndex(defaultRoots(base)).snapshot();
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

const find = (folder: string, name: string) =>
  createCandidateFinder(snapshot)(folder, name).map((c) => `${c.reason} ${c.folder}/${c.name}`);

test("other case in the same folder comes first, then the same file in another folder", () => {
  expect(find("checkpoints", "dreamshaper_8.safetensors")).toEqual([
    "other_case checkpoints/DreamShaper_8.safetensors",
    "other_folder loras/dreamshaper_8.safetensors",
  ]);
});

test("another subfolder, and a Windows path written with backslashes", () => {
  expect(find("checkpoints", "realisticVisionV51_v51VAE.safetensors")).toEqual([
    "other_subfolder checkpoints/sd15/realisticVisionV51_v51VAE.safetensors",
  ]);
  expect(find("loras", "_style__\\kpgBeautifulFaceAnd_v10.safetensors")).toEqual([
    "other_subfolder loras/_style__/kpgBeautifulFaceAnd_v10.safetensors",
  ]);
});

test("near-identical names: another extension, a small edit, but not a different model", () => {
  expect(find("vae", "ae.sft")).toEqual(["similar_name vae/ae.safetensors"]);
  expect(find("diffusion_models", "flux1-dev.sft")).toEqual(["similar_name diffusion_models/flux1-dev.safetensors"]);
  expect(find("text_encoders", "t5xxl_fp8.safetensors")).toEqual(["similar_name text_encoders/t5xxl_fp16.safetensors"]);
  expect(find("text_encoders", "clip_l.safetensors")).toEqual([]);
});

test("each candidate carries the path it was found at", () => {
  const [first] = createCandidateFinder(snapshot)("checkpoints", "dreamshaper_8.safetensors");
  expect(first?.path).toBe(join(base, "models/checkpoints/DreamShaper_8.safetensors"));
});

test("helpers: loose names and bounded edit distance", () => {
  expect(looseName("Sub\\Flux1-Dev.SFT")).toBe("flux1dev");
  expect(editDistance("kitten", "sitting", 3)).toBe(3);
  expect(editDistance("kitten", "sitting", 2)).toBe(3);
  expect(editDistance("abc", "abcdefgh", 2)).toBe(3);
});
