import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import {
  canonicalFolder,
  DEFAULT_FOLDERS,
  defaultRoots,
  type FolderRoots,
  listFolder,
  PT_EXTENSIONS,
} from "../../src/weights/folders.ts";

describe("default folder table", () => {
  test("matches ComfyUI's folder_paths defaults", () => {
    expect(PT_EXTENSIONS).toEqual([".ckpt", ".pt", ".pt2", ".bin", ".pth", ".safetensors", ".pkl", ".sft"]);
    expect(DEFAULT_FOLDERS.text_encoders).toEqual({ dirs: ["text_encoders", "clip"], extensions: PT_EXTENSIONS });
    expect(DEFAULT_FOLDERS.diffusion_models?.dirs).toEqual(["unet", "diffusion_models"]);
    expect(DEFAULT_FOLDERS.controlnet?.dirs).toEqual(["controlnet", "t2i_adapter"]);
    expect(DEFAULT_FOLDERS.configs?.extensions).toEqual([".yaml"]);
    expect(DEFAULT_FOLDERS.diffusers?.extensions).toEqual(["folder"]);
    expect(DEFAULT_FOLDERS.classifiers?.extensions).toEqual([""]);
    expect(DEFAULT_FOLDERS.LLM?.extensions).toEqual([]);
    expect(DEFAULT_FOLDERS.unet).toBeUndefined();
  });

  test("builds absolute roots in search order, with canonical keys only", () => {
    const roots = defaultRoots("/opt/ComfyUI");
    expect(roots.get("diffusion_models")?.paths).toEqual([
      "/opt/ComfyUI/models/unet",
      "/opt/ComfyUI/models/diffusion_models",
    ]);
    expect(roots.get("text_encoders")?.paths).toEqual([
      "/opt/ComfyUI/models/text_encoders",
      "/opt/ComfyUI/models/clip",
    ]);
    expect(roots.get("custom_nodes")).toEqual({ paths: ["/opt/ComfyUI/custom_nodes"], extensions: [] });
    expect(roots.get("ultralytics_bbox")?.paths).toEqual(["/opt/ComfyUI/models/ultralytics/bbox"]);
    expect(roots.has("unet") || roots.has("clip") || roots.has("unet_gguf")).toBe(false);
    expect(defaultRoots("/opt/ComfyUI", "/models").get("loras")?.paths).toEqual(["/models/loras"]);
  });

  test("maps legacy names to canonical ones", () => {
    expect(canonicalFolder("unet")).toBe("diffusion_models");
    expect(canonicalFolder("clip")).toBe("text_encoders");
    expect(canonicalFolder("loras")).toBe("loras");
    expect(canonicalFolder("toString")).toBe("toString");
  });
});

describe("listFolder", () => {
  let base = "";
  let roots: FolderRoots = new Map();
  const touch = (...paths: string[]) => {
    for (const path of paths) {
      mkdirSync(dirname(join(base, path)), { recursive: true });
      writeFileSync(join(base, path), "");
    }
  };

  beforeAll(() => {
    base = mkdtempSync(join(tmpdir(), "folders-test-"));
    touch(
      "models/checkpoints/a.safetensors",
      "models/checkpoints/B.safetensors",
      "models/checkpoints/sub/b.CKPT",
      "models/checkpoints/sub/deep/c.pt",
      "models/checkpoints/notes.txt",
      "models/checkpoints/noext",
      "models/checkpoints/.hidden.safetensors",
      "models/checkpoints/.safetensors",
      "models/checkpoints/.git/objects/x.safetensors",
      "models/checkpoints/sub/.git/y.safetensors",
      "outside/e.safetensors",
      "outside/f.txt",
      "models/unet/u1.safetensors",
      "models/unet/dup.safetensors",
      "models/unet/q4.gguf",
      "models/diffusion_models/dup.safetensors",
      "models/diffusion_models/sub/u2.sft",
      "models/diffusion_models/sub/q8.GGUF",
      "models/clip/t5.safetensors",
      "models/text_encoders/clip_l.safetensors",
      "models/text_encoders/enc.gguf",
      "models/classifiers/model",
      "models/classifiers/x.pt",
      "models/diffusers/sd15/model_index.json",
      "models/diffusers/sd15/unet/model.safetensors",
      "models/diffusers/nested/xl/model_index.json",
    );
    const ckpt = join(base, "models/checkpoints");
    symlinkSync(join(base, "outside"), join(ckpt, "linked"));
    symlinkSync(join(ckpt, "a.safetensors"), join(ckpt, "alias.safetensors"));
    symlinkSync(join(base, "missing.safetensors"), join(ckpt, "dangling.safetensors"));
    symlinkSync(ckpt, join(ckpt, "sub/loop"));
    roots = defaultRoots(base);
  });

  afterAll(() => rmSync(base, { recursive: true, force: true }));

  test("walks recursively, follows symlinks, filters extensions case-insensitively and skips .git dirs", async () => {
    expect(await listFolder(roots, "checkpoints")).toEqual([
      ".hidden.safetensors",
      "B.safetensors",
      "a.safetensors",
      "alias.safetensors",
      // os.walk lists a dangling link as a file, so ComfyUI offers it too
      "dangling.safetensors",
      "linked/e.safetensors",
      "sub/b.CKPT",
      "sub/deep/c.pt",
    ]);
  });

  test("merges every root of a folder, de-duplicated, and honours the legacy name", async () => {
    const expected = ["dup.safetensors", "sub/u2.sft", "u1.safetensors"];
    expect(await listFolder(roots, "diffusion_models")).toEqual(expected);
    expect(await listFolder(roots, "unet")).toEqual(expected);
    expect(await listFolder(roots, "clip")).toEqual(["clip_l.safetensors", "t5.safetensors"]);
  });

  test("lists the GGUF virtual folders and folder unions", async () => {
    expect(await listFolder(roots, "unet_gguf")).toEqual(["q4.gguf", "sub/q8.GGUF"]);
    expect(await listFolder(roots, "clip_gguf")).toEqual(["enc.gguf"]);
    expect(await listFolder(roots, "text_encoders|clip_gguf")).toEqual([
      "clip_l.safetensors",
      "enc.gguf",
      "t5.safetensors",
    ]);
  });

  test("handles the special extension sets", async () => {
    expect(await listFolder(roots, "classifiers")).toEqual(["model"]);
    expect(await listFolder(roots, "diffusers")).toEqual(["nested/xl", "sd15"]);
    expect(await listFolder(roots, "LLM")).toEqual([]);
  });

  test("treats missing roots and unknown keys as empty", async () => {
    expect(await listFolder(roots, "loras")).toEqual([]);
    expect(await listFolder(roots, "no_such_folder")).toEqual([]);
    const extra: FolderRoots = new Map([
      ["any", { paths: [join(base, "outside"), join(base, "nope")], extensions: [] }],
    ]);
    expect(await listFolder(extra, "any")).toEqual(["e.safetensors", "f.txt"]);
  });
});
