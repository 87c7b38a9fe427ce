import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { runCliCaptured } from "../helpers/cli.ts";
import { buildSafetensors } from "../weights/_safetensors.ts";

const CORPUS = join(import.meta.dir, "../../../shared/corpus/workflows");
const dir = mkdtempSync(join(tmpdir(), "cw-check-cli-"));
const comfy = join(dir, "comfy");
const volume = join(dir, "volume");
const GOOD = buildSafetensors({ w: { dtype: "F16", shape: [4], bytes: 8 } });
const SHA = "ab".repeat(32);

const put = (path: string, data: string | Uint8Array = "x") => {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
};

// a UI workflow: a custom GGUF loader from a named pack, a LoRA with models metadata, a LoadImage
const UI_WORKFLOW = {
  version: 0.4,
  nodes: [
    {
      id: 1,
      type: "UnetLoaderGGUF",
      mode: 0,
      inputs: [],
      outputs: [{ name: "MODEL", type: "MODEL", links: [1] }],
      properties: { cnr_id: "ComfyUI-GGUF", aux_id: "city96/ComfyUI-GGUF" },
      widgets_values: ["flux1-dev-Q4_0.gguf"],
    },
    {
      id: 2,
      type: "LoraLoaderModelOnly",
      mode: 0,
      inputs: [{ name: "model", type: "MODEL", link: 1 }],
      outputs: [{ name: "MODEL", type: "MODEL", links: [2] }],
      properties: {
        models: [
          {
            name: "Detail.safetensors",
            directory: "loras",
            url: "https://huggingface.co/x/resolve/main/Detail.safetensors",
            hash: SHA,
            hash_type: "SHA256",
          },
        ],
      },
      widgets_values: ["Detail.safetensors", 1],
    },
    {
      id: 3,
      type: "ModelSink",
      mode: 0,
      inputs: [{ name: "model", type: "MODEL", link: 2 }],
      outputs: [],
      properties: { aux_id: "someone/model-sink" },
      widgets_values: [],
    },
    {
      id: 4,
      type: "LoadImage",
      mode: 0,
      inputs: [],
      outputs: [{ name: "IMAGE", type: "IMAGE", links: [3] }],
      properties: {},
      widgets_values: ["photo.png", "image"],
    },
    {
      id: 5,
      type: "PreviewImage",
      mode: 0,
      inputs: [{ name: "images", type: "IMAGE", link: 3 }],
      outputs: [],
      properties: {},
    },
  ],
  links: [
    [1, 1, 0, 2, 0, "MODEL"],
    [2, 2, 0, 3, 0, "MODEL"],
    [3, 4, 0, 5, 0, "IMAGE"],
  ],
};

beforeAll(() => {
  put(join(comfy, "models/checkpoints/dreamshaper_8.safetensors"), GOOD);
  put(join(volume, "diffusion_models/flux1-dev-Q4_0.gguf"), "GGUF\x03\x00\x00\x00");
  put(join(volume, "loras/detail.safetensors"), GOOD);
  // not a built-in kit's file name: `--verify` would hold it to that kit's size (a later test)
  put(join(dir, "elsewhere/vae/my_vae.safetensors"), GOOD.subarray(0, 20));
  put(join(dir, "one.yaml"), "one:\n  base_path: elsewhere\n  vae: vae\n");
  put(join(dir, "two.yaml"), "two:\n  loras: /nonexistent/loras\n");
  put(join(dir, "ui.json"), JSON.stringify(UI_WORKFLOW));
  put(join(dir, "vae.json"), JSON.stringify(_vaeWorkflow("my_vae.safetensors")));
  put(join(dir, "broken.json"), "{ not json");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function _vaeWorkflow(name: string) {
  return {
    "1": { class_type: "VAELoader", inputs: { vae_name: name } },
    "2": { class_type: "VAEDecode", inputs: { samples: ["3", 0], vae: ["1", 0] } },
    "3": { class_type: "EmptyLatentImage", inputs: { width: 8, height: 8, batch_size: 1 } },
    "4": { class_type: "SaveImage", inputs: { images: ["2", 0], filename_prefix: "x" } },
  };
}

function check(args: string[]) {
  return runCliCaptured(["check", ...args], { COMFY_DIR: comfy });
}

test("exit 0 and a table when every weight is present", async () => {
  const { code, stdout } = await check([join(CORPUS, "api-sd15-txt2img.json")]);
  expect(stdout).toContain(`${join(CORPUS, "api-sd15-txt2img.json")} (api format)`);
  expect(stdout).toMatch(/ok\s+checkpoints\s+dreamshaper_8\.safetensors\s+\d+ B\s+\S+dreamshaper_8\.safetensors/);
  expect(stdout).toContain("All weights present.");
  expect(code).toBe(0);
});

test("--json: the SPEC report with statuses, candidates, sources and unknown node packs; exit 3", async () => {
  const { code, stdout } = await check([join(dir, "ui.json"), "--models-dir", volume, "--json"]);
  expect(code).toBe(3);
  const report = JSON.parse(stdout);
  expect(report.ok).toBe(false);
  expect(report.workflows).toHaveLength(1);
  const [workflow] = report.workflows;
  expect(workflow).toMatchObject({ file: join(dir, "ui.json"), format: "ui" });
  expect(workflow.weights).toEqual([
    {
      folder: "diffusion_models",
      name: "flux1-dev-Q4_0.gguf",
      status: "present",
      path: join(volume, "diffusion_models/flux1-dev-Q4_0.gguf"),
      size: 8,
      nodes: ["1"],
    },
    {
      folder: "loras",
      name: "Detail.safetensors",
      status: "missing",
      source: { url: "https://huggingface.co/x/resolve/main/Detail.safetensors", sha256: SHA },
      searched: [join(comfy, "models/loras"), join(volume, "loras"), join(comfy, "output/loras")],
      candidates: [
        {
          folder: "loras",
          name: "detail.safetensors",
          path: join(volume, "loras/detail.safetensors"),
          reason: "other_case",
        },
      ],
      nodes: ["2"],
    },
  ]);
  expect(workflow.inputs).toEqual([
    { name: "photo.png", status: "missing", path: join(comfy, "input/photo.png"), nodes: ["4"] },
  ]);
  expect(workflow.unknown_nodes).toEqual([
    { class_type: "ModelSink", pack: "someone/model-sink" },
    { class_type: "UnetLoaderGGUF", pack: "ComfyUI-GGUF" },
  ]);
});

test("the table says where it looked, what it may have meant, where to get it, and which pack to install", async () => {
  const { code, stdout } = await check([join(dir, "ui.json"), "--models-dir", volume]);
  expect(code).toBe(3);
  expect(stdout).toContain("MISSING  loras");
  expect(stdout).toContain(`searched: ${join(comfy, "models/loras")}, ${join(volume, "loras")}`);
  expect(stdout).toContain(
    `did you mean loras/detail.safetensors? (other case: ${join(volume, "loras/detail.safetensors")})`,
  );
  expect(stdout).toContain(`source: https://huggingface.co/x/resolve/main/Detail.safetensors (sha256 ${SHA})`);
  expect(stdout).toContain("unknown node type UnetLoaderGGUF (install node pack ComfyUI-GGUF)");
  expect(stdout).toContain(`input missing  photo.png  ${join(comfy, "input/photo.png")}`);
  expect(stdout).toContain("1 weight(s) missing or invalid; exit status 3.");
});

test("--extra-model-paths (repeated) adds roots; --verify header catches a truncated file", async () => {
  const args = [
    join(dir, "vae.json"),
    "--extra-model-paths",
    join(dir, "two.yaml"),
    "--extra-model-paths",
    join(dir, "one.yaml"),
  ];
  const exists = await check([...args, "--json"]);
  expect(exists.code).toBe(0);
  expect(JSON.parse(exists.stdout).workflows[0].weights[0]).toMatchObject({
    status: "present",
    path: join(dir, "elsewhere/vae/my_vae.safetensors"),
  });
  const header = await check([...args, "--verify", "header"]);
  expect(header.code).toBe(3);
  expect(header.stdout).toContain("CORRUPT  vae  my_vae.safetensors");
  expect(header.stdout).toContain("truncated");
});

test("several workflows in one report; the exit status covers all of them", async () => {
  const { code, stdout } = await check([join(CORPUS, "api-sd15-txt2img.json"), join(dir, "vae.json"), "--json"]);
  const report = JSON.parse(stdout);
  expect(report.workflows.map((w: { weights: { status: string }[] }) => w.weights.map((x) => x.status))).toEqual([
    ["present"],
    ["missing"],
  ]);
  expect(code).toBe(3);
});

test("unreadable workflows and a bad --verify are usage errors (exit 2)", async () => {
  const broken = await check([join(dir, "broken.json")]);
  expect(broken.code).toBe(2);
  expect(broken.stderr).toContain("broken.json");
  expect((await check([join(dir, "absent.json")])).code).toBe(2);
  expect((await check([join(dir, "vae.json"), "--verify", "everything"])).code).toBe(2);
});

test("--verify size and sha256 hold a present file to its built-in kit's size and hash", async () => {
  const models = join(dir, "kit-models");
  put(join(models, "checkpoints/sd_xl_base_1.0.safetensors"), GOOD);
  const workflow = join(dir, "sdxl.json");
  put(
    workflow,
    JSON.stringify({
      "1": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: "sd_xl_base_1.0.safetensors" } },
      "2": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "x" } },
    }),
  );
  const exists = await check([workflow, "--models-dir", models, "--json"]);
  expect(JSON.parse(exists.stdout).workflows[0].weights[0].status).toBe("present");
  expect(exists.code).toBe(0);
  for (const level of ["size", "sha256"]) {
    const { code, stdout } = await check([workflow, "--models-dir", models, "--verify", level, "--json"]);
    expect(JSON.parse(stdout).workflows[0].weights[0]).toMatchObject({
      status: "size_mismatch",
      reason: `${GOOD.length} bytes, expected 6938078334`,
    });
    expect(code).toBe(3);
  }
});
