import { expect, test } from "bun:test";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { knownNodePack } from "../../src/workflow/node-packs.ts";
import { runCliCaptured } from "../helpers/cli.ts";
import { freePort } from "../helpers/emulator.ts";

const EXAMPLE = join(import.meta.dir, "../../examples/sd15-txt2img.json");
const CORPUS = join(import.meta.dir, "../../../shared/corpus/workflows");

test("check shows a built-in kit's source for a missing file the workflow names no source for", async () => {
  const { code, stdout } = await runCliCaptured(["check", EXAMPLE, "--json"], { COMFY_DIR: "/nonexistent" });
  expect(code).toBe(3);
  const weight = JSON.parse(stdout).workflows[0].weights[0];
  expect(weight).toMatchObject({ folder: "checkpoints", name: "v1-5-pruned-emaonly.safetensors", status: "missing" });
  expect(weight.source.url).toBe(
    "https://huggingface.co/stable-diffusion-v1-5/stable-diffusion-v1-5/resolve/main/v1-5-pruned-emaonly.safetensors",
  );
  expect(weight.source.sha256).toMatch(/^[0-9a-f]{64}$/);
  const table = await runCliCaptured(["check", EXAMPLE], { COMFY_DIR: "/nonexistent" });
  expect(table.stdout).toContain("source: https://huggingface.co/stable-diffusion-v1-5/");
});

test("an unknown node without cnr_id still names the pack known to provide it", async () => {
  const file = join(CORPUS, "api-sd35-large-ipadapter.json");
  const { stdout } = await runCliCaptured(["check", file, "--json"], { COMFY_DIR: "/nonexistent" });
  expect(JSON.parse(stdout).workflows[0].unknown_nodes).toEqual([
    { class_type: "ApplyIPAdapterSD3", pack: "Slickytail/ComfyUI-InstantX-IPAdapter-SD3" },
    { class_type: "IPAdapterSD3Loader", pack: "Slickytail/ComfyUI-InstantX-IPAdapter-SD3" },
  ]);
});

test("the messy corpus workflow's custom nodes are named with their packs (WAS, Omar92's QoL suite)", async () => {
  const file = join(CORPUS, "ui-sd15-lora-stack-embeddings-messy.json");
  const { stdout } = await runCliCaptured(["check", file, "--json"], { COMFY_DIR: "/nonexistent" });
  expect(JSON.parse(stdout).workflows[0].unknown_nodes).toEqual([
    { class_type: "Load Text File", pack: "WASasquatch/was-node-suite-comfyui" },
    { class_type: "Text _O", pack: "omar92/ComfyUI-QualityOfLifeSuit_Omar92" },
  ]);
});

test("the built-in node map: exact types, rgthree's name pattern, nothing for core or unknown types", () => {
  expect(knownNodePack("VHS_VideoCombine")).toBe("Kosinkadink/ComfyUI-VideoHelperSuite");
  expect(knownNodePack("Power Lora Loader (rgthree)")).toBe("rgthree/rgthree-comfy");
  expect(knownNodePack("KSampler")).toBeUndefined();
  expect(knownNodePack("NoSuchNodeAnywhere")).toBeUndefined();
});

test("a job with an unknown node type names the pack known to provide it", async () => {
  const file = join(import.meta.dir, "../../examples/sd15-txt2img.json");
  const workflow = JSON.parse(await Bun.file(file).text());
  workflow["99"] = { class_type: "VHS_VideoCombine", inputs: { images: ["8", 0] } };
  const path = join(tmpdir(), `cw-vhs-${crypto.randomUUID()}.json`);
  await Bun.write(path, JSON.stringify(workflow));
  const { code, stderr } = await runCliCaptured(["run", path, "--emulate", "--out", join(tmpdir(), "cw-vhs-out")], {
    COMFY_PORT: String(await freePort()),
  });
  expect(code).toBe(5);
  expect(stderr).toContain("VHS_VideoCombine (from Kosinkadink/ComfyUI-VideoHelperSuite)");
});
