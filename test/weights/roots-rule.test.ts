import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config.ts";
import { configuredModelRoots } from "../../src/weights/roots.ts";
import { runCliCaptured } from "../helpers/cli.ts";
import { freePort } from "../helpers/emulator.ts";

const dir = mkdtempSync(join(tmpdir(), "cw-roots-rule-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const EXAMPLE = join(import.meta.dir, "../../examples/sd15-txt2img.json");
const CKPT = "v1-5-pruned-emaonly.safetensors";

function modelsDirWithCheckpoint(name: string): string {
  const models = join(dir, name);
  mkdirSync(join(models, "checkpoints"), { recursive: true });
  writeFileSync(join(models, "checkpoints", CKPT), "weights");
  return models;
}

test("MODELS_DIR that makes check pass makes run --emulate pass too", async () => {
  const env = { MODELS_DIR: modelsDirWithCheckpoint("shared"), COMFY_DIR: join(dir, "no-comfy") };
  const check = await runCliCaptured(["check", EXAMPLE], env);
  expect(check.code).toBe(0);
  const out = join(dir, "out");
  const run = await runCliCaptured(["run", EXAMPLE, "--emulate", "--out", out], {
    ...env,
    COMFY_PORT: String(await freePort()),
  });
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
});

test("a missing weight under run --emulate points where check points, never into the emulator's temp folder", async () => {
  // a ComfyUI checkout the emulator stands in for (it has main.py)
  const comfyDir = join(dir, "comfy-home");
  mkdirSync(comfyDir, { recursive: true });
  writeFileSync(join(comfyDir, "main.py"), "# ComfyUI\n");
  const run = await runCliCaptured(["run", EXAMPLE, "--emulate", "--out", join(dir, "out2")], {
    COMFY_DIR: comfyDir,
    COMFY_PORT: String(await freePort()),
  });
  expect(run.code).toBe(3);
  expect(run.stderr).toContain(`put it in ${join(comfyDir, "models", "checkpoints")}`);
  expect(run.stderr).not.toContain("comfy-worker-emulator-");
  const check = await runCliCaptured(["check", EXAMPLE, "--json"], { COMFY_DIR: comfyDir });
  expect(JSON.parse(check.stdout).workflows[0].weights[0].searched[0]).toBe(join(comfyDir, "models", "checkpoints"));
});

test("a missing EXTRA_MODEL_PATHS file is a configuration error (exit 2, naming it) in every command", async () => {
  const missing = join(dir, "nope", "extra_model_paths.yaml");
  const env = { EXTRA_MODEL_PATHS: missing, COMFY_PORT: String(await freePort()), PORT: String(await freePort()) };
  for (const args of [
    ["check", EXAMPLE],
    ["pull", "--workflow", EXAMPLE, "--dry-run"],
    ["run", EXAMPLE, "--emulate", "--out", join(dir, "out3")],
    ["serve", "--emulate"],
  ]) {
    const result = await runCliCaptured(args, env);
    expect([args[0], result.code]).toEqual([args[0], 2]);
    expect(result.stderr).toContain(
      `EXTRA_MODEL_PATHS (or --extra-model-paths) names a file that does not exist: ${missing}`,
    );
    expect(result.stderr).not.toContain("exited before it was ready");
  }
});

test("relative paths in a --config file resolve against that file's folder, not the working directory", () => {
  const confDir = join(dir, "conf");
  mkdirSync(confDir, { recursive: true });
  const file = join(confDir, "worker.yaml");
  writeFileSync(
    file,
    [
      "COMFY_DIR: ../comfy",
      "MODELS_DIR: models",
      "EXTRA_MODEL_PATHS: a.yaml, /abs/b.yaml",
      "PRELOAD_KIT: sd15, kits/mine.yaml",
      "PRELOAD_WORKFLOW: https://example.com/wf.json, wf/local.json",
      "COMFY_PYTHON: python3",
    ].join("\n"),
  );
  const config = loadConfig({ env: {}, file });
  expect(config.COMFY_DIR).toBe(join(dir, "comfy"));
  expect(config.MODELS_DIR).toBe(join(confDir, "models"));
  expect(config.EXTRA_MODEL_PATHS).toEqual([join(confDir, "a.yaml"), "/abs/b.yaml"]);
  expect(config.PRELOAD_KIT).toEqual(["sd15", join(confDir, "kits/mine.yaml")]);
  expect(config.PRELOAD_WORKFLOW).toEqual(["https://example.com/wf.json", join(confDir, "wf/local.json")]);
  expect(config.COMFY_PYTHON).toBe("python3");
  // the environment and flags keep meaning the working directory
  expect(loadConfig({ env: { MODELS_DIR: "models" }, file }).MODELS_DIR).toBe("models");
});

test("one rule: COMFY_DIR/models, its own YAML, EXTRA_MODEL_PATHS, then MODELS_DIR", async () => {
  const comfy = join(dir, "rule-comfy");
  mkdirSync(comfy, { recursive: true });
  writeFileSync(join(comfy, "extra_model_paths.yaml"), "own:\n  checkpoints: /own/ckpt\n");
  const extra = join(dir, "extra.yaml");
  writeFileSync(extra, "x:\n  checkpoints: /extra/ckpt\n");
  const roots = await configuredModelRoots({
    COMFY_DIR: comfy,
    EXTRA_MODEL_PATHS: [extra],
    MODELS_DIR: join(dir, "md"),
    env: {},
  });
  expect(roots.get("checkpoints")?.paths).toEqual([
    join(comfy, "models", "checkpoints"),
    "/own/ckpt",
    "/extra/ckpt",
    join(dir, "md", "checkpoints"),
    // main.py: where CheckpointSave writes, after everything else
    join(comfy, "output", "checkpoints"),
  ]);
});

test("with MODELS_DIR set, run --emulate says to put a missing file there", async () => {
  const models = join(dir, "empty-models");
  mkdirSync(models, { recursive: true });
  const run = await runCliCaptured(["run", EXAMPLE, "--emulate", "--out", join(dir, "out4")], {
    MODELS_DIR: models,
    COMFY_DIR: join(dir, "no-comfy"),
    COMFY_PORT: String(await freePort()),
  });
  expect(run.code).toBe(3);
  expect(run.stderr).toContain(`put it in ${join(models, "checkpoints")}`);
});

test("a checkpoint ComfyUI saved itself (<comfy>/output/checkpoints, CheckpointSave) counts as present, as it does for ComfyUI", async () => {
  const comfy = join(dir, "saved-comfy");
  mkdirSync(join(comfy, "output", "checkpoints"), { recursive: true });
  writeFileSync(join(comfy, "output", "checkpoints", CKPT), "weights");
  const check = await runCliCaptured(["check", EXAMPLE, "--json"], { COMFY_DIR: comfy });
  expect(check.code).toBe(0);
  expect(JSON.parse(check.stdout).workflows[0].weights[0]).toMatchObject({ status: "present" });
});
