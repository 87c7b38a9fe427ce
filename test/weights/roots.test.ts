import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isWorkerError } from "../../src/errors.ts";
import { defaultRoots } from "../../src/weights/folders.ts";
import { addModelFolderPath, applyExtraModelPaths, expandPath, loadModelRoots } from "../../src/weights/roots.ts";
import { configError } from "../helpers/errors.ts";

const dir = mkdtempSync(join(tmpdir(), "cw-roots-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Roots after applying `yaml` (as if saved at /etc/cw/extra.yaml) to ComfyUI's defaults under /opt/ComfyUI. */
function apply(yaml: string, env: Record<string, string> = {}) {
  const roots = defaultRoots("/opt/ComfyUI");
  const lines: string[] = [];
  applyExtraModelPaths(roots, "/etc/cw/extra.yaml", yaml, { HOME: "/home/u", ...env }, (line) => lines.push(line));
  return { roots, lines, paths: (key: string) => roots.get(key)?.paths };
}

describe("extra_model_paths.yaml", () => {
  test("base_path is joined in front of each path, which is appended after the defaults", () => {
    const { paths, lines } = apply("shared:\n  base_path: /mnt/models\n  checkpoints: checkpoints/\n");
    expect(paths("checkpoints")).toEqual(["/opt/ComfyUI/models/checkpoints", "/mnt/models/checkpoints"]);
    expect(lines).toEqual(["Adding extra search path checkpoints /mnt/models/checkpoints"]);
  });

  test("is_default inserts at index 0, and moves an already listed path to the front", () => {
    const { paths } = apply(
      "a:\n  loras: /x/loras\nb:\n  is_default: true\n  loras: |\n    /y/loras\n    /x/loras\n  vae: /opt/ComfyUI/models/vae\n",
    );
    // each is_default path goes to the front in file order, so the last one listed ends up first
    expect(paths("loras")).toEqual(["/x/loras", "/y/loras", "/opt/ComfyUI/models/loras"]);
    expect(paths("vae")).toEqual(["/opt/ComfyUI/models/vae"]);
  });

  test("a path already listed is not added twice without is_default", () => {
    const { paths } = apply("a:\n  vae: /opt/ComfyUI/models/vae\n");
    expect(paths("vae")).toEqual(["/opt/ComfyUI/models/vae"]);
  });

  test("multi-line values give several dirs, empty lines ignored", () => {
    const { paths } = apply("s:\n  base_path: /m\n  upscale_models: |\n    models/ESRGAN\n\n    models/SwinIR\n");
    expect(paths("upscale_models")?.slice(1)).toEqual(["/m/models/ESRGAN", "/m/models/SwinIR"]);
  });

  test("relative paths follow the YAML's directory without base_path, and a relative base_path too", () => {
    expect(apply("s:\n  loras: ../shared/loras\n").paths("loras")?.[1]).toBe("/etc/shared/loras");
    expect(apply("s:\n  base_path: store\n  loras: loras\n").paths("loras")?.[1]).toBe("/etc/cw/store/loras");
    // os.path.join keeps an absolute line as-is even with a base_path
    expect(apply("s:\n  base_path: /m\n  loras: /abs/loras\n").paths("loras")?.[1]).toBe("/abs/loras");
  });

  test("~ and $VARS are expanded in base_path only; unknown variables stay as written", () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: ${VAR} is YAML text here, not a template
    const { paths } = apply("s:\n  base_path: ~/ai/$SUB/${ROOT2}/$NOPE\n  loras: l\n", { SUB: "a", ROOT2: "b" });
    expect(paths("loras")?.[1]).toBe("/home/u/ai/a/b/$NOPE/l");
    expect(apply("s:\n  loras: $SUB/l\n", { SUB: "a" }).paths("loras")?.[1]).toBe("/etc/cw/$SUB/l");
    expect(expandPath("~", { HOME: "/h" })).toBe("/h");
    expect(expandPath("~other/x", { HOME: "/h" })).toBe("~other/x");
  });

  test("legacy unet/clip keys are mapped, unknown keys become folders listing every extension", () => {
    const { roots, paths } = apply("s:\n  unet: /u\n  clip: /c\n  my_pack: /p\n");
    expect(paths("diffusion_models")).toEqual([
      "/opt/ComfyUI/models/unet",
      "/opt/ComfyUI/models/diffusion_models",
      "/u",
    ]);
    expect(paths("text_encoders")?.at(-1)).toBe("/c");
    expect(roots.has("unet") || roots.has("clip")).toBe(false);
    expect(roots.get("my_pack")).toEqual({ paths: ["/p"], extensions: [] });
  });

  test("a null section and an empty file are skipped", () => {
    expect(apply("empty:\nother:\n  vae: /v\n").paths("vae")?.[1]).toBe("/v");
    expect(apply("").roots).toEqual(defaultRoots("/opt/ComfyUI"));
  });

  test("malformed files fail with the file and the key", () => {
    expect(configError(() => apply("s:\n  loras: 5\n"))).toContain(
      "/etc/cw/extra.yaml: s.loras: expected a path or one path per line, found number 5",
    );
    // an alias back to its own section is a cycle: named like any other wrong value, in our words
    const cycle = configError(() => apply("s: &s\n  base_path: /m\n  loras: *s\n"));
    expect(cycle).toContain("s.loras: expected a path or one path per line, found a mapping");
    expect(cycle).not.toContain("Invalid input");
    expect(configError(() => apply("s:\n  loras:\n"))).toContain("s.loras");
    expect(configError(() => apply("s:\n  is_default: maybe\n"))).toContain("s.is_default: expected true or false");
    expect(configError(() => apply("s:\n  base_path: [a]\n"))).toContain("s.base_path");
    expect(configError(() => apply("- a\n- b\n"))).toContain("(top level)");
    expect(configError(() => apply("s: [\n"))).toContain("invalid YAML");
  });
});

describe("loadModelRoots", () => {
  test("reads <comfy>/extra_model_paths.yaml first, then each extra file in order, then --models-dir", async () => {
    const comfy = join(dir, "comfy");
    await Bun.write(join(comfy, "extra_model_paths.yaml"), "own:\n  loras: own-loras\n");
    await Bun.write(join(dir, "one.yaml"), "one:\n  loras: /one\n");
    await Bun.write(join(dir, "two.yaml"), "two:\n  is_default: true\n  loras: /two\n");
    const roots = await loadModelRoots({
      baseDir: comfy,
      comfyDir: comfy,
      extraConfigs: [join(dir, "one.yaml"), join(dir, "two.yaml")],
      modelsDirs: [join(dir, "volume")],
    });
    expect(roots.get("loras")?.paths).toEqual([
      "/two",
      join(comfy, "models/loras"),
      join(comfy, "own-loras"),
      "/one",
      join(dir, "volume/loras"),
      join(comfy, "output/loras"),
    ]);
    expect(roots.get("custom_nodes")?.paths).toEqual([join(comfy, "custom_nodes")]);
  });

  test("an unreadable extra file is a configuration error naming it", async () => {
    const error = await loadModelRoots({ baseDir: dir, extraConfigs: [join(dir, "nope.yaml")] }).catch((e) => e);
    expect(isWorkerError(error) && error.code).toBe("E_CONFIG");
    expect(String(error.message)).toContain("nope.yaml (ENOENT)");
  });

  test("addModelFolderPath keeps the first occurrence and honours is_default", () => {
    const roots = defaultRoots("/b");
    addModelFolderPath(roots, "vae", "/v2");
    addModelFolderPath(roots, "vae", "/v2", true);
    expect(roots.get("vae")?.paths).toEqual(["/v2", "/b/models/vae"]);
  });
});
