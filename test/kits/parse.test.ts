import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isWorkerError, type WorkerError } from "../../src/errors.ts";
import { loadManifest, parseManifest } from "../../src/kits/manifest.ts";

const dir = mkdtempSync(join(tmpdir(), "cw-kits-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SHA = "a".repeat(64);
const URL_OK = "https://huggingface.co/org/repo/resolve/main/model.safetensors";

/** A valid manifest whose first file has `file` merged in (null values delete keys). */
function manifest(file: Record<string, unknown> = {}, top: Record<string, unknown> = {}): string {
  const entry: Record<string, unknown> = { folder: "checkpoints", name: "model.safetensors", url: URL_OK, ...file };
  const files = [Object.fromEntries(Object.entries(entry).filter(([, v]) => v !== null))];
  return Bun.YAML.stringify({ name: "my-kit", description: "a test kit", files, ...top }, null, 2);
}

function parseError(text: string, source = "my-kit.yaml"): WorkerError {
  try {
    parseManifest(text, source);
  } catch (error) {
    if (isWorkerError(error)) return error;
    throw error;
  }
  throw new Error("expected parseManifest to throw");
}

test("accepts optional sha256, size, gated, subfolder names and the legacy unet/clip folders", () => {
  const kit = parseManifest(
    manifest({ folder: "unet", name: "flux/model.safetensors", sha256: SHA, size: 12, gated: true }),
    "k.yaml",
  );
  expect(kit.files[0]).toEqual({
    folder: "unet",
    name: "flux/model.safetensors",
    url: URL_OK,
    sha256: SHA,
    size: 12,
    gated: true,
  });
  expect(parseManifest(manifest({ folder: "clip" }), "k.yaml").files[0]?.gated).toBe(false);
});

describe("rejects a bad field, naming the file, the line and the key", () => {
  test.each([
    ["an upper-case sha256", { sha256: SHA.toUpperCase() }, "files[0].sha256", "64 lower-case hex digits"],
    ["a short sha256", { sha256: "abc" }, "files[0].sha256", "64 lower-case hex digits"],
    ["an unknown folder", { folder: "models" }, "files[0].folder", "not a ComfyUI model folder"],
    ["a name escaping the folder", { name: "../evil.safetensors" }, "files[0].name", "relative path"],
    ["a name with a '..' segment", { name: "a/../../b.safetensors" }, "files[0].name", "relative path"],
    ["an absolute name", { name: "/etc/passwd" }, "files[0].name", "relative path"],
    ["a plain-http url", { url: "http://example.com/x.safetensors" }, "files[0].url", "https://"],
    ["a negative size", { size: -1 }, "files[0].size", "positive"],
    ["a fractional size", { size: 1.5 }, "files[0].size", "whole number"],
    ["a size written as text", { size: "4 GB" }, "files[0].size", "whole number"],
    ["a non-boolean gated", { gated: "yes" }, "files[0].gated", "true or false"],
    ["a missing url", { url: null }, "files[0].url", "is missing (expected text)"],
    ["a misspelt key", { sha: SHA }, "files[0].sha", "unknown key sha"],
  ])("%s", (_label, file, key, phrase) => {
    const error = parseError(manifest(file));
    expect(error.code).toBe("E_INPUT");
    expect(error.message).toMatch(new RegExp(`my-kit\\.yaml:\\d+: ${key.replace(/[[\].]/g, "\\$&")}: `));
    expect(error.message).toContain(phrase);
  });

  test("the line is the offending key's line", () => {
    const text = [
      "name: my-kit",
      "description: a test kit",
      "files:",
      "  - folder: checkpoints",
      "    name: model.safetensors",
      `    url: ${URL_OK}`,
      "    sha256: NOT-A-HASH",
      "",
    ].join("\n");
    expect(parseError(text).message).toContain("my-kit.yaml:7: files[0].sha256: ");
  });

  test("a missing top-level key points at the document and names the key", () => {
    const error = parseError("name: my-kit\nfiles: []\n");
    expect(error.message).toContain("my-kit.yaml:1: description: is missing (expected text)");
    expect(error.message).toContain("my-kit.yaml:2: files: a kit needs at least one file");
  });

  test("the same file twice (unet and diffusion_models are one folder)", () => {
    const text = manifest({ folder: "unet", name: "m.safetensors" }).replace(
      "files:\n",
      `files:\n  - folder: diffusion_models\n    name: m.safetensors\n    url: ${URL_OK}\n`,
    );
    expect(parseError(text).message).toContain("files[1].name: diffusion_models/m.safetensors twice");
  });

  test("a bad kit name", () => {
    expect(parseError(manifest({}, { name: "My Kit" })).message).toContain("my-kit.yaml:1: name: ");
  });
});

test("invalid YAML names the file and the line", () => {
  const error = parseError("name: my-kit\ndescription: [unclosed\nfiles: x\n");
  expect(error.code).toBe("E_INPUT");
  expect(error.message).toMatch(/^my-kit\.yaml:\d+: invalid YAML \(/);
});

test("a document that is not a mapping is rejected at the top level", () => {
  // in our words, not zod's "Invalid input: expected object, received array"
  expect(parseError("- just\n- a list\n").message).toContain(
    "my-kit.yaml:1: (top level): must be an object, not a list",
  );
});

test("loadManifest reads a file and names it in errors, including when it cannot be read", async () => {
  const good = join(dir, "good.yaml");
  writeFileSync(good, manifest({ sha256: SHA }));
  expect((await loadManifest(good)).files[0]?.sha256).toBe(SHA);

  const bad = join(dir, "bad.yaml");
  writeFileSync(bad, manifest({ size: 0 }));
  await expect(loadManifest(bad)).rejects.toThrow(`${bad}:`);

  const missing = join(dir, "missing.yaml");
  const error = await loadManifest(missing).catch((e: unknown) => e);
  expect(isWorkerError(error) && error.code).toBe("E_INPUT");
  expect((error as Error).message).toContain(`manifest ${missing}: cannot be read (ENOENT)`);
});
