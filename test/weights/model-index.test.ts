import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { defaultRoots, type FolderRoots, listFolder } from "../../src/weights/folders.ts";
import { createModelIndex, fileExtension } from "../../src/weights/model-index.ts";
import { addModelFolderPath } from "../../src/weights/roots.ts";

let base = "";
let roots: FolderRoots = new Map();
const touch = (...paths: string[]) => {
  for (const path of paths) {
    mkdirSync(dirname(join(base, path)), { recursive: true });
    writeFileSync(join(base, path), "x");
  }
};
const HOUR_AGO = new Date(Date.now() - 3_600_000);
const age = (path: string) => utimesSync(join(base, path), HOUR_AGO, HOUR_AGO);

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), "cw-index-"));
  touch(
    "models/checkpoints/a.safetensors",
    "models/checkpoints/sub/deep/b.ckpt",
    "models/checkpoints/notes.txt",
    "models/checkpoints/.git/c.safetensors",
    "models/unet/flux.gguf",
    "models/diffusion_models/wan.safetensors",
    "models/text_encoders/t5.safetensors",
    "models/clip/clip_l.safetensors",
    "models/clip/t5-q8.gguf",
    "models/diffusers/sd15/model_index.json",
    "models/diffusers/sd15/unet/x.bin",
    "shared/checkpoints/a.safetensors",
    "shared/checkpoints/z.pt",
    "linked/l.safetensors",
    "anything/readme.md",
  );
  symlinkSync(join(base, "linked"), join(base, "models/checkpoints/link"));
  // a loop back to an ancestor must end the walk
  symlinkSync(join(base, "models/checkpoints"), join(base, "models/checkpoints/sub/loop"));
  roots = defaultRoots(base);
  addModelFolderPath(roots, "checkpoints", join(base, "shared/checkpoints"));
  addModelFolderPath(roots, "my_pack", join(base, "anything"));
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe("snapshot listings", () => {
  test("list() equals ComfyUI's get_filename_list (listFolder) for every kind of folder", async () => {
    const snapshot = await createModelIndex(roots).snapshot();
    for (const folder of [
      "checkpoints",
      "diffusion_models",
      "unet_gguf",
      "text_encoders|clip_gguf",
      "diffusers",
      "my_pack",
      "loras",
    ]) {
      expect([folder, snapshot.list(folder)]).toEqual([folder, await listFolder(roots, folder)]);
    }
    expect(snapshot.list("checkpoints")).toEqual(["a.safetensors", "link/l.safetensors", "sub/deep/b.ckpt", "z.pt"]);
  });

  test("find() returns the first root's file, only for listed names", async () => {
    const snapshot = await createModelIndex(roots).snapshot();
    expect(snapshot.find("checkpoints", "a.safetensors")).toBe(join(base, "models/checkpoints/a.safetensors"));
    expect(snapshot.find("checkpoints", "z.pt")).toBe(join(base, "shared/checkpoints/z.pt"));
    expect(snapshot.find("checkpoints", "notes.txt")).toBeUndefined();
    expect(snapshot.find("diffusion_models", "flux.gguf")).toBeUndefined();
    expect(snapshot.find("unet_gguf", "flux.gguf")).toBe(join(base, "models/unet/flux.gguf"));
    expect(snapshot.find("unet", "wan.safetensors")).toBe(join(base, "models/diffusion_models/wan.safetensors"));
    expect(snapshot.find("diffusers", "sd15")).toBe(join(base, "models/diffusers/sd15"));
    expect(snapshot.files("checkpoints").get("notes.txt")).toBe(join(base, "models/checkpoints/notes.txt"));
    expect(snapshot.searched("text_encoders|clip_gguf")).toEqual([
      join(base, "models/text_encoders"),
      join(base, "models/clip"),
    ]);
  });

  test("fileExtension follows os.path.splitext", () => {
    expect(fileExtension("a/B.SafeTensors")).toBe(".safetensors");
    expect(fileExtension(".hidden")).toBe("");
    expect(fileExtension("dir.v2/noext")).toBe("");
  });
});

describe("refresh by directory mtime", () => {
  test("sees files added or removed anywhere, including in new and nested subfolders", async () => {
    const index = createModelIndex(roots);
    expect((await index.snapshot()).list("loras")).toEqual([]);
    touch("models/loras/new.safetensors", "models/checkpoints/sub/deep/c.safetensors");
    let snapshot = await index.snapshot();
    expect(snapshot.list("loras")).toEqual(["new.safetensors"]);
    expect(snapshot.list("checkpoints")).toContain("sub/deep/c.safetensors");
    touch("models/loras/style/anime/x.safetensors");
    unlinkSync(join(base, "models/loras/new.safetensors"));
    snapshot = await index.snapshot();
    expect(snapshot.list("loras")).toEqual(["style/anime/x.safetensors"]);
    expect(snapshot.find("loras", "new.safetensors")).toBeUndefined();
  });

  test("a settled directory whose mtime did not move is not read again", async () => {
    touch("models/vae/one.safetensors");
    age("models/vae");
    const index = createModelIndex(roots);
    expect((await index.snapshot()).list("vae")).toEqual(["one.safetensors"]);
    // add a file behind the cache's back: same mtime as before, so the cached listing stands
    touch("models/vae/two.safetensors");
    age("models/vae");
    expect((await index.snapshot()).list("vae")).toEqual(["one.safetensors"]);
    utimesSync(join(base, "models/vae"), new Date(), new Date());
    expect((await index.snapshot()).list("vae")).toEqual(["one.safetensors", "two.safetensors"]);
  });

  test("a directory changed within the last moments is re-read even if its mtime looks the same", async () => {
    touch("models/gligen/one.safetensors");
    const index = createModelIndex(roots);
    const before = statSync(join(base, "models/gligen")).mtime;
    expect((await index.snapshot()).list("gligen")).toEqual(["one.safetensors"]);
    // a filesystem with coarse timestamps would show the same mtime after this change
    touch("models/gligen/two.safetensors");
    utimesSync(join(base, "models/gligen"), before, before);
    expect((await index.snapshot()).list("gligen")).toEqual(["one.safetensors", "two.safetensors"]);
  });

  test("a root that disappears lists nothing; one that appears is picked up", async () => {
    const index = createModelIndex(roots);
    touch("models/photomaker/p.bin");
    expect((await index.snapshot()).list("photomaker")).toEqual(["p.bin"]);
    rmSync(join(base, "models/photomaker"), { recursive: true });
    expect((await index.snapshot()).list("photomaker")).toEqual([]);
    touch("models/photomaker/q.bin");
    expect((await index.snapshot()).list("photomaker")).toEqual(["q.bin"]);
  });
});
