import { afterAll, beforeAll, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { runCliCaptured } from "../helpers/cli.ts";
import { type FakeHosts, startFakeHosts } from "../helpers/fake-hosts.ts";
import { civitaiLookup } from "./_civitai.ts";
import { bytes, fixEnv, folderWith, PRESENT_CKPT, sdWorkflow, sha256 } from "./_workflows.ts";

const CORPUS = join(import.meta.dir, "../../../shared/corpus/workflows");
const IMPACT_SHA = "0123456789abcdef0123456789abcdef01234567";
const RGTHREE_SHA = "89abcdef0123456789abcdef0123456789abcdef";
const T5 = bytes("t5 fp8 weights for the corpus");
let hosts: FakeHosts;

beforeAll(async () => {
  hosts = await startFakeHosts({
    hf: [{ id: "mirrors/t5xxl-encoders", files: { "t5xxl_fp8_e4m3fn.safetensors": T5 } }],
    civitai: [{ id: 1, name: "By Hash", versionId: 11, files: { "hashed.safetensors": bytes("hashed weights") } }],
    registry: { "comfyui-impact-pack": "https://github.com/ltdrdata/ComfyUI-Impact-Pack" },
    commits: { "ltdrdata/ComfyUI-Impact-Pack": IMPACT_SHA, "rgthree/rgthree-comfy": RGTHREE_SHA },
  });
});
afterAll(() => hosts.stop());

test("missing node types become pinned custom-nodes.txt lines: by cnr_id (Comfy Registry), by name and by pattern (Manager's map)", async () => {
  const ui = {
    version: 0.4,
    last_node_id: 1,
    last_link_id: 0,
    links: [],
    nodes: [
      {
        id: 1,
        type: "ImpactWildcardProcessor",
        mode: 0,
        pos: [0, 0],
        size: [100, 100],
        inputs: [],
        outputs: [],
        properties: { cnr_id: "comfyui-impact-pack", ver: "8.0.0" },
        widgets_values: [],
      },
    ],
  };
  const api = {
    ...sdWorkflow({ ckpt: PRESENT_CKPT }),
    "30": { class_type: "FaceDetailer", inputs: {} },
    "31": { class_type: "Power Lora Loader (rgthree)", inputs: {} },
  };
  const dir = await folderWith({ "ui.json": ui, "api.json": api });
  const result = await runCliCaptured(["fix", dir, "--dry-run", "--json"], fixEnv(hosts));
  const nodes = JSON.parse(result.stdout).nodes;
  const byRepo = Object.fromEntries(
    nodes.map((n: { repo: string; node_types: string[]; line: string }) => [n.repo, [n.node_types.sort(), n.line]]),
  );
  expect(byRepo["https://github.com/ltdrdata/ComfyUI-Impact-Pack"]).toEqual([
    ["FaceDetailer", "ImpactWildcardProcessor"],
    `https://github.com/ltdrdata/ComfyUI-Impact-Pack.git ${IMPACT_SHA}`,
  ]);
  expect(byRepo["https://github.com/rgthree/rgthree-comfy"]).toEqual([
    ["Power Lora Loader (rgthree)"],
    `https://github.com/rgthree/rgthree-comfy.git ${RGTHREE_SHA}`,
  ]);
  const text = await runCliCaptured(["fix", dir, "--dry-run"], fixEnv(hosts));
  expect(text.stdout).toContain("Add to docker/custom-nodes.txt:");
  expect(text.stdout).toContain(`https://github.com/ltdrdata/ComfyUI-Impact-Pack.git ${IMPACT_SHA}`);
  expect(text.stdout).toContain("comfy node install comfyui-impact-pack");
});

test("Civitai is asked by hash when the sha256 is known", async () => {
  const found = await civitaiLookup(hosts, {
    folder: "loras",
    name: "renamed-locally.safetensors",
    sha256: sha256(bytes("hashed weights")),
  });
  expect(found.candidates).toEqual([
    expect.objectContaining({ source: "civitai", confidence: "exact+verified", name: "hashed.safetensors" }),
  ]);
  expect(hosts.requests.some((r) => r.startsWith("/api/v1/model-versions/by-hash/"))).toBe(true);
});

test("every corpus workflow goes through fix --dry-run against the fakes, with a report a user can read", async () => {
  const files = readdirSync(CORPUS).filter((f) => /\.(json|png|webp)$/i.test(f));
  const env = fixEnv(hosts);
  const reportFile = join(env.XDG_CACHE_HOME, "report.json");
  const result = await runCliCaptured(["fix", CORPUS, "--dry-run", "--report", reportFile], env, {
    captureStderr: true,
  });
  expect(result.code).toBe(3);
  const report = await Bun.file(reportFile).json();
  expect(report.workflows.length + report.skipped_files.length).toBe(files.length);
  expect(report.dry_run).toBe(true);
  for (const weight of report.weights) {
    expect(["would_download", "needs_confirmation", "needs_token", "not_found"]).toContain(weight.status);
    if (weight.status === "would_download")
      expect(weight.chosen).toEqual(
        expect.objectContaining({
          source: expect.any(String),
          confidence: expect.any(String),
          url: expect.any(String),
        }),
      );
  }
  const t5 = report.weights.find((w: { name: string }) => w.name === "t5xxl_fp8_e4m3fn.safetensors");
  expect(t5).toMatchObject({ status: "would_download", chosen: { source: "huggingface", sha256: sha256(T5) } });
  expect(report.summary.missing).toBe(report.weights.length);
  expect(result.stdout).toMatch(/\d+ workflow\(s\) scanned/);
  expect(result.stdout).toMatch(/\d+ missing: \d+ found, 0 downloaded, \d+ not found, 0 failed/);
  expect(result.stdout).toContain("(dry run: nothing downloaded)");
}, 60_000);
