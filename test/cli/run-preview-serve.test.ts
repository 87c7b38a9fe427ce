import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decode as decodeJpeg } from "jpeg-js";
import { decodePng } from "../../src/previews/png-decode.ts";
import { runCliCaptured } from "../helpers/cli.ts";
import { type ServeProcess, startServeProcess } from "../helpers/serve-process.ts";

// `run --endpoint --preview` against our own `serve --mode api --emulate` in its own process: previews come
// back in /stream chunks and end up in the live preview file
const ROOT = join(import.meta.dir, "../..");
const EXAMPLE = join(ROOT, "examples/sd15-txt2img.json");
const dir = mkdtempSync(join(tmpdir(), "cw-run-preview-serve-"));
let serve: ServeProcess | undefined;
let endpoint: string;

beforeAll(async () => {
  serve = await startServeProcess(dir, {
    EXTRA_MODEL_PATHS: join(ROOT, "examples/extra_model_paths.yaml"),
    // the emulator's sampler spreads this over its steps, one preview per step when the prompt asks
    COMFY_ARGS: "--node-ms 500",
  });
  endpoint = serve.endpoint;
});
afterAll(async () => {
  await serve?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function events(stderr: string): Array<Record<string, unknown>> {
  return stderr
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line));
}

test("run --endpoint --preview: the stream's previews are saved as the live preview file, within --preview-px", async () => {
  const out = join(dir, "out");
  const args = ["run", EXAMPLE, "--endpoint", endpoint, "--out", out, "--set", "3.steps=8", "--json"];
  const result = await runCliCaptured(
    [...args, "--preview", "--preview-px", "40"],
    { RUNS_LEDGER: join(dir, "r.jsonl") },
    {
      captureStderr: true,
    },
  );
  expect(result.code).toBe(0);
  const summary = JSON.parse(result.stdout);
  const path = summary.preview as string;
  expect(path).toMatch(/sd15-txt2img\.preview\.(jpg|png)$/);
  expect(path.startsWith(out)).toBe(true);
  const all = events(result.stderr);
  expect(all).toContainEqual({ event: "preview", path, node: "3" });
  // the preview data never reaches the progress lines, and a preview chunk is no fake progress line
  for (const event of all.filter((e) => e.event === "progress")) {
    expect(event.preview).toBeUndefined();
    expect(event.class_type).toBeDefined();
  }
  const bytes = readFileSync(path);
  const size = path.endsWith(".png") ? decodePng(bytes) : decodeJpeg(bytes, { useTArray: true });
  expect(Math.max(size?.width ?? 0, size?.height ?? 0)).toBeGreaterThan(0);
  expect(Math.max(size?.width ?? 99, size?.height ?? 99)).toBeLessThanOrEqual(40);
  expect(readdirSync(out).sort()).toEqual(["demo", path.slice(out.length + 1)].sort());
  expect(summary.saved).toEqual([join(out, "demo", "lighthouse_00001_.png")]);
}, 60_000);

test("run --endpoint without --preview asks for none: no preview events, no file", async () => {
  const out = join(dir, "plain");
  const result = await runCliCaptured(
    // another seed: the same prompt again would come from ComfyUI's cache without sampling at all
    ["run", EXAMPLE, "--endpoint", endpoint, "--out", out, "--set", "3.steps=8", "--set", "3.seed=7", "--json"],
    { RUNS_LEDGER: join(dir, "r2.jsonl") },
    { captureStderr: true },
  );
  expect(result.code).toBe(0);
  const all = events(result.stderr);
  expect(all).toContainEqual(expect.objectContaining({ event: "progress", node: "3", value: 8, max: 8 }));
  expect(all.filter((e) => e.event === "preview")).toEqual([]);
  expect(existsSync(join(out, "sd15-txt2img.preview.jpg"))).toBe(false);
  expect(existsSync(join(out, "sd15-txt2img.preview.png"))).toBe(false);
}, 60_000);
