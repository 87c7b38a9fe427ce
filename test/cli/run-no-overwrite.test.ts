import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCliCaptured } from "../helpers/cli.ts";
import { freePort } from "../helpers/emulator.ts";

const dir = mkdtempSync(join(tmpdir(), "cw-run-noow-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ROOT = join(import.meta.dir, "../..");

test("local run twice into one --out: the emulator's counter restarts, the second file gets the next free name", async () => {
  const out = join(dir, "out");
  const args = ["run", join(ROOT, "examples/sd15-txt2img.json"), "--emulate", "--out", out, "--set", "3.steps=2"];
  const env = async () => ({
    COMFY_PORT: String(await freePort()),
    EXTRA_MODEL_PATHS: join(ROOT, "examples/extra_model_paths.yaml"),
  });
  const first = await runCliCaptured(args, await env(), { captureStderr: true });
  expect(first.code).toBe(0);
  const second = await runCliCaptured(args, await env(), { captureStderr: true });
  expect(second.code).toBe(0);
  expect(second.stdout).toContain(
    `saved ${join(out, "demo", "lighthouse_00002_.png")} (${join(out, "demo", "lighthouse_00001_.png")} exists; saved under the next free name)`,
  );
  expect(readdirSync(join(out, "demo")).sort()).toEqual(["lighthouse_00001_.png", "lighthouse_00002_.png"]);
}, 60_000);
