import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodePng, gradientImage } from "../../src/emulator/png.ts";
import { runCliCaptured } from "../helpers/cli.ts";
import { freePort } from "../helpers/emulator.ts";

const dir = mkdtempSync(join(tmpdir(), "cw-run-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const EXAMPLE = join(import.meta.dir, "../../examples/sd15-txt2img.json");
const DEMO_CONFIG = join(import.meta.dir, "../../examples/demo.yaml");

async function run(args: string[], env: Record<string, string> = {}) {
  return runCliCaptured(args, { COMFY_PORT: String(await freePort()), ...env });
}

test("uploads --image files and --set @file values, and saves outputs under --out", async () => {
  const image = join(dir, "photo.png");
  await Bun.write(image, encodePng(gradientImage(32, 16, 3)));
  const workflow = join(dir, "img2img.json");
  await Bun.write(
    workflow,
    JSON.stringify({
      "1": { class_type: "LoadImage", inputs: { image: "placeholder.png" } },
      "2": { class_type: "LoadImage", inputs: { image: "masks/m.png" } },
      "3": { class_type: "SaveImage", inputs: { filename_prefix: "copy", images: ["1", 0] } },
      "4": { class_type: "PreviewImage", inputs: { images: ["2", 0] } },
    }),
  );
  const out = join(dir, "out1");
  const result = await run([
    "run",
    workflow,
    "--emulate",
    "--out",
    out,
    "--set",
    `1.image=@${image}`,
    "--image",
    `masks/m.png=${image}`,
    "--json",
  ]);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  const summary = JSON.parse(result.stdout) as { saved: string[] };
  expect(summary.saved).toEqual([join(out, "copy_00001_.png")]);
  expect(readdirSync(out)).toEqual(["copy_00001_.png"]);
});

test("--timeout interrupts the workflow and exits 5", async () => {
  const result = await run(
    ["run", EXAMPLE, "--emulate", "--config", DEMO_CONFIG, "--out", join(dir, "out2"), "--timeout", "0.3"],
    {
      COMFY_ARGS: "--node-ms 2000",
    },
  );
  expect(result.code).toBe(5);
  expect(result.stderr).toContain("--timeout 0.3 s");
});

test("bad flags are usage errors (exit 2)", async () => {
  expect((await run(["run", EXAMPLE, "--emulate", "--comfy-url", "http://127.0.0.1:1"])).code).toBe(2);
  expect((await run(["run", EXAMPLE, "--emulate", "--timeout", "soon"])).stderr).toContain("--timeout must be");
  expect((await run(["run", join(dir, "missing.json"), "--emulate"])).stderr).toContain("missing.json: no such file");
  expect((await run(["run", EXAMPLE, "--emulate", "--set", "novalue"])).stderr).toContain("NODE.INPUT=VALUE");
});
