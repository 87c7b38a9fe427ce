import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { builtinKitNames, KIT_FOLDERS, listKits, loadKit, loadManifest } from "../../src/kits/manifest.ts";
import { canonicalFolder } from "../../src/weights/folders.ts";

const MANIFESTS_DIR = join(import.meta.dir, "../../manifests");
const HF_RESOLVE_RE = /^https:\/\/huggingface\.co\/([^/]+\/[^/]+)\/resolve\/[^/]+\/.+/;
const CIVITAI_RE = /^https:\/\/civitai\.com\/api\/download\/models\/\d+/;
// repos whose files need an accepted licence and a token (their model cards set extra_gated_prompt)
const GATED_REPO_RE = /^(black-forest-labs\/FLUX\.1-dev|stabilityai\/stable-diffusion-3\.5-.+)$/;

// the (folder, name) pairs each kit was built from (see the # source: comments in manifests/)
const EXPECTED: Record<string, string[]> = {
  sd15: ["checkpoints/v1-5-pruned-emaonly.safetensors"],
  sdxl: ["checkpoints/sd_xl_base_1.0.safetensors", "checkpoints/sd_xl_refiner_1.0.safetensors"],
  "flux1-schnell": [
    "diffusion_models/flux1-schnell.safetensors",
    "text_encoders/clip_l.safetensors",
    "text_encoders/t5xxl_fp16.safetensors",
    "vae/ae.safetensors",
  ],
  "flux1-dev": [
    "diffusion_models/flux1-dev.safetensors",
    "text_encoders/clip_l.safetensors",
    "text_encoders/t5xxl_fp16.safetensors",
    "vae/ae.safetensors",
  ],
  "flux1-dev-fp8": ["checkpoints/flux1-dev-fp8.safetensors"],
  "sd35-medium": [
    "checkpoints/sd3.5_medium.safetensors",
    "text_encoders/clip_l.safetensors",
    "text_encoders/clip_g.safetensors",
    "text_encoders/t5xxl_fp16.safetensors",
  ],
  "wan22-ti2v-5b": [
    "diffusion_models/wan2.2_ti2v_5B_fp16.safetensors",
    "text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors",
    "vae/wan2.2_vae.safetensors",
  ],
};

test("the embedded kits are exactly the YAML files in manifests/, and each is named after its file", () => {
  const onDisk = readdirSync(MANIFESTS_DIR)
    .filter((file) => file.endsWith(".yaml"))
    .map((file) => file.slice(0, -".yaml".length))
    .sort();
  expect(builtinKitNames()).toEqual(onDisk);
  expect(listKits().map((kit) => kit.name)).toEqual(onDisk);
});

test("the kits SPEC §7 asks for are all built in", () => {
  expect(builtinKitNames()).toEqual(expect.arrayContaining(Object.keys(EXPECTED)));
  expect(builtinKitNames().sort()).toEqual(Object.keys(EXPECTED).sort());
});

describe.each(Object.keys(EXPECTED))("kit %s", (name) => {
  const kit = loadKit(name);

  test("lists the files of its standard workflow, in ComfyUI folders, each once", () => {
    const pairs = kit.files.map((file) => `${file.folder}/${file.name}`);
    expect(pairs).toEqual(EXPECTED[name] ?? []);
    expect(new Set(kit.files.map((f) => `${canonicalFolder(f.folder)}/${f.name}`)).size).toBe(kit.files.length);
    for (const file of kit.files) expect(KIT_FOLDERS).toContain(file.folder);
  });

  test("downloads from Hugging Face resolve URLs or Civitai, marking files of gated repos as gated", () => {
    for (const file of kit.files) {
      const hf = HF_RESOLVE_RE.exec(file.url);
      expect([file.url, Boolean(hf) || CIVITAI_RE.test(file.url)]).toEqual([file.url, true]);
      const gated = hf ? GATED_REPO_RE.test(hf[1] ?? "") : false;
      expect([file.name, file.gated]).toEqual([file.name, gated]);
      expect(decodeURIComponent(file.url).endsWith(`/${file.name}`)).toBe(true);
    }
  });

  test("parses the same from disk as from the binary's embedded copy", async () => {
    expect(await loadManifest(join(MANIFESTS_DIR, `${name}.yaml`))).toEqual(kit);
  });
});

test("FLUX.1-dev and SD3.5 kits carry gated files; the others need no token", () => {
  const gated = listKits()
    .filter((kit) => kit.files.some((file) => file.gated))
    .map((kit) => kit.name);
  expect(gated).toEqual(["flux1-dev", "sd35-medium"]);
});

test("a file shared by several kits has the same size and sha256 in each", () => {
  const seen = new Map<string, { size?: number; sha256?: string; kit: string }>();
  for (const kit of listKits()) {
    for (const file of kit.files) {
      const key = `${canonicalFolder(file.folder)}/${file.name}`;
      const before = seen.get(key);
      if (before) expect([key, file.size, file.sha256]).toEqual([key, before.size, before.sha256]);
      else seen.set(key, { size: file.size, sha256: file.sha256, kit: kit.name });
    }
  }
  expect(seen.get("text_encoders/clip_l.safetensors")?.sha256).toBeDefined();
});
