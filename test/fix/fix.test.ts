import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { runCliCaptured } from "../helpers/cli.ts";
import { type FakeHosts, startFakeHosts } from "../helpers/fake-hosts.ts";
import { bytes, fixEnv, folderWith, PRESENT_CKPT, sdWorkflow, sha256 } from "./_workflows.ts";

const DETAIL = bytes("hf detail tweaker weights 0123456789");
const SLIDER = bytes("civitai slider weights 0123456789ab");
const ULTRA = bytes("upscaler weights from the manager list");
const META = bytes("weights the workflow itself points at");
let hosts: FakeHosts;

beforeAll(async () => {
  hosts = await startFakeHosts({
    hf: [
      { id: "acme/detail-tweaker", files: { "detail-tweaker.safetensors": DETAIL }, downloads: 500 },
      { id: "one/shared-name", files: { "shared-name.safetensors": bytes("one") }, downloads: 10 },
      { id: "two/shared-name", files: { "shared-name.safetensors": bytes("two") }, downloads: 5 },
      { id: "gatedco/gated-model", files: { "gated-model.safetensors": bytes("gated") }, gated: true },
    ],
    civitai: [{ id: 58390, name: "Detail Slider", versionId: 62833, files: { "slider-detail.safetensors": SLIDER } }],
    modelList: [{ name: "4x-UltraSharp", type: "upscale", filename: "4x-UltraSharp.pth", bytes: ULTRA }],
  });
});
afterAll(() => hosts.stop());

const fix = async (args: string[], env: Record<string, string>) => {
  const result = await runCliCaptured(["fix", ...args, "--json"], env, { captureStderr: true });
  return { ...result, report: result.stdout ? JSON.parse(result.stdout) : undefined };
};
// biome-ignore lint/suspicious/noExplicitAny: report rows are inspected freely
type Row = Record<string, any>;
const weight = (report: { weights: Row[] }, name: string) => report.weights.find((w) => w.name === name) as Row;

describe("fix resolves each missing weight from the first source that knows it, and downloads it", () => {
  test("workflow metadata, a user manifest, ComfyUI-Manager's list, Hugging Face and Civitai, in that order", async () => {
    const workflow = sdWorkflow(
      {
        ckpt: "from-meta.safetensors",
        loras: ["from-manifest.safetensors", "detail-tweaker.safetensors", "slider-detail.safetensors"],
        upscaler: "4x-UltraSharp.pth",
      },
      [{ folder: "checkpoints", name: "from-meta.safetensors", url: `${hosts.url}/files/meta`, sha256: sha256(META) }],
    );
    const dir = await folderWith({
      "wf.json": workflow,
      "my.yaml": `name: mine\ndescription: my own sources\nfiles:\n  - folder: loras\n    name: from-manifest.safetensors\n    url: ${hosts.url}/acme/detail-tweaker/resolve/main/detail-tweaker.safetensors\n    sha256: ${sha256(DETAIL)}\n`,
    });
    const env = fixEnv(hosts, { CIVITAI_TOKEN: "civitai_test_token_123" });
    const { code, report, stderr } = await fix(
      [join(dir, "wf.json"), "--manifest", join(dir, "my.yaml"), "--yes"],
      env,
    );
    if (!report) throw new Error(stderr);
    const sources = Object.fromEntries(
      report.weights.map((w: Row) => [w.name, [w.chosen?.source, w.chosen?.confidence]]),
    );
    expect(sources).toEqual({
      "from-meta.safetensors": ["workflow", "exact+verified"],
      "from-manifest.safetensors": ["manifest", "exact+verified"],
      "4x-UltraSharp.pth": ["comfyui-manager", "exact"],
      "detail-tweaker.safetensors": ["huggingface", "exact"],
      "slider-detail.safetensors": ["civitai", "exact"],
    });
    for (const name of [
      "from-manifest.safetensors",
      "4x-UltraSharp.pth",
      "detail-tweaker.safetensors",
      "slider-detail.safetensors",
    ])
      expect([name, weight(report, name).status]).toEqual([name, "downloaded"]);
    expect(await Bun.file(join(env.MODELS_DIR, "loras/detail-tweaker.safetensors")).bytes()).toEqual(DETAIL);
    expect(await Bun.file(join(env.MODELS_DIR, "loras/slider-detail.safetensors")).bytes()).toEqual(SLIDER);
    expect(await Bun.file(join(env.MODELS_DIR, "upscale_models/4x-UltraSharp.pth")).bytes()).toEqual(ULTRA);
    expect(weight(report, "detail-tweaker.safetensors").chosen.sha256).toBe(sha256(DETAIL));
    expect(hosts.authorized.some((r) => r.startsWith("/api/v1/models?query=slider-detail"))).toBe(true);
    // declared sources are never looked up publicly
    expect(hosts.requests.some((r) => r.includes("search=from-meta") || r.includes("search=from-manifest"))).toBe(
      false,
    );
    // the metadata file is not served: that download fails and is reported, with exit 4
    expect(weight(report, "from-meta.safetensors").status).toBe("failed");
    expect(code).toBe(4);
  });

  test("a built-in kit is asked before any public list", async () => {
    const dir = await folderWith({
      "wf.json": sdWorkflow({ ckpt: "v1-5-pruned-emaonly.safetensors" }),
    });
    const { report } = await fix([dir, "--dry-run"], fixEnv(hosts));
    expect(weight(report, "v1-5-pruned-emaonly.safetensors")).toMatchObject({
      status: "would_download",
      chosen: { source: "kit", ref: "kit sd15" },
    });
  });

  test("an ambiguous name (different files in two repos) and close names are shown, never downloaded", async () => {
    const dir = await folderWith({
      "wf.json": sdWorkflow({
        ckpt: PRESENT_CKPT,
        loras: ["shared-name.safetensors", "detail-tweaker-v2.safetensors"],
      }),
    });
    const env = fixEnv(hosts);
    const { code, report } = await fix([dir, "--yes"], env);
    const shared = weight(report, "shared-name.safetensors");
    expect(shared).toMatchObject({ resolution: "ambiguous", status: "needs_confirmation" });
    expect(shared.candidates.map((c: { ref: string }) => c.ref)).toEqual(["one/shared-name", "two/shared-name"]);
    const close = weight(report, "detail-tweaker-v2.safetensors");
    expect(close).toMatchObject({ resolution: "close_only", status: "needs_confirmation" });
    expect(close.candidates[0]).toMatchObject({ confidence: "close", name: "detail-tweaker.safetensors" });
    expect(await Bun.file(join(env.MODELS_DIR, "loras/shared-name.safetensors")).exists()).toBe(false);
    expect(code).toBe(3);
  });

  test("a gated Hugging Face file is not fetched without HF_TOKEN, and is with one", async () => {
    const dir = await folderWith({
      "wf.json": sdWorkflow({ ckpt: PRESENT_CKPT, loras: ["gated-model.safetensors"] }),
    });
    const without = await fix([dir, "--yes"], fixEnv(hosts));
    expect(weight(without.report, "gated-model.safetensors")).toMatchObject({
      status: "needs_token",
      chosen: { gated: true },
    });
    expect(weight(without.report, "gated-model.safetensors").reason).toContain("HF_TOKEN");
    // with a token the gate is lifted (the transfer itself, token and all, is the download engine's and tested there)
    const env = fixEnv(hosts, { HF_TOKEN: "hf_fake_token_value_123456" });
    const withToken = await fix([dir, "--dry-run"], env);
    expect(weight(withToken.report, "gated-model.safetensors").status).toBe("would_download");
    // the token went with the Hugging Face lookups
    expect(hosts.authorized.some((r) => r.startsWith("/api/models?search=gated-model"))).toBe(true);
    expect(hosts.authorized.some((r) => r.startsWith("/api/models/gatedco/gated-model"))).toBe(true);
    expect(withToken.stdout).not.toContain("hf_fake_token_value_123456");
    // and the download itself carries it to HF_ENDPOINT (a mirror), as it would to the public host
    const fetched = await fix([dir, "--yes"], env);
    expect(weight(fetched.report, "gated-model.safetensors").status).toBe("downloaded");
    expect(await Bun.file(join(env.MODELS_DIR, "loras/gated-model.safetensors")).text()).toBe("gated");
    expect(hosts.authorized.some((r) => r.includes("gated-model.safetensors") && !r.startsWith("/api/"))).toBe(true);
    expect(fetched.stdout + fetched.stderr).not.toContain("hf_fake_token_value_123456");
  });
});

test("a size the workflow's metadata declares holds its download: another size fails and is not kept", async () => {
  const url = `${hosts.url}/files/4x-UltraSharp.pth`;
  const dir = await folderWith({
    "wf.json": sdWorkflow({ ckpt: "sized.safetensors" }, [
      { folder: "checkpoints", name: "sized.safetensors", url, size: 5 },
    ]),
  });
  const env = fixEnv(hosts);
  const { code, report } = await fix([dir, "--yes"], env);
  expect(weight(report, "sized.safetensors")).toMatchObject({
    status: "failed",
    chosen: { source: "workflow", size: 5 },
  });
  expect(weight(report, "sized.safetensors").reason).toContain(`${ULTRA.length} bytes but 5 are expected`);
  expect(await Bun.file(join(env.MODELS_DIR, "checkpoints/sized.safetensors")).exists()).toBe(false);
  expect(code).toBe(4);
});

test("without --yes and without a terminal to ask on, nothing is downloaded and the report says how to proceed", async () => {
  const dir = await folderWith({
    "wf.json": sdWorkflow({ ckpt: PRESENT_CKPT, loras: ["detail-tweaker.safetensors"] }),
  });
  const env = fixEnv(hosts);
  const { code, report } = await fix([dir], env);
  expect(weight(report, "detail-tweaker.safetensors")).toMatchObject({
    status: "not_downloaded",
    reason: "run with --yes to download",
  });
  expect(await Bun.file(join(env.MODELS_DIR, "loras/detail-tweaker.safetensors")).exists()).toBe(false);
  expect(code).toBe(3);
});

test("with --yes a file is downloaded as soon as it is resolved, while other lookups still run", async () => {
  const slow = await startFakeHosts({
    hf: [{ id: "acme/detail-tweaker", files: { "detail-tweaker.safetensors": DETAIL } }],
    hang: /\/api\/v1\/models\?query=slow-one-fp16/,
  });
  try {
    const dir = await folderWith({
      "wf.json": sdWorkflow({ ckpt: PRESENT_CKPT, loras: ["slow-one-fp16.safetensors", "detail-tweaker.safetensors"] }),
    });
    const env = fixEnv(slow, { LOOKUP_TIMEOUT_S: "1" });
    const { report } = await fix([dir, "--yes"], env);
    expect(weight(report, "detail-tweaker.safetensors").status).toBe("downloaded");
    expect(weight(report, "slow-one-fp16.safetensors").status).toBe("not_found");
    const download = slow.requests.findIndex((r) => r.includes("/resolve/main/detail-tweaker.safetensors"));
    const lastSlowLookup = slow.requests.findLastIndex((r) => r.includes("slow-one"));
    // the download went out while the other weight's first Civitai search hung, before its next search
    expect(download).toBeGreaterThan(-1);
    expect(download).toBeLessThan(lastSlowLookup);
  } finally {
    slow.stop();
  }
});

describe("lookups are polite and bounded", () => {
  test("a 429 with Retry-After is waited out and the lookup succeeds", async () => {
    const limited = await startFakeHosts({
      hf: [{ id: "acme/detail-tweaker", files: { "detail-tweaker.safetensors": DETAIL } }],
      rateLimitOnce: /search=detail-tweaker/,
    });
    try {
      const dir = await folderWith({
        "wf.json": sdWorkflow({ ckpt: PRESENT_CKPT, loras: ["detail-tweaker.safetensors"] }),
      });
      const { report } = await fix([dir, "--dry-run"], fixEnv(limited));
      expect(weight(report, "detail-tweaker.safetensors")).toMatchObject({
        status: "would_download",
        chosen: { source: "huggingface" },
      });
      expect(limited.requests.filter((r) => r.includes("search=detail-tweaker"))).toHaveLength(2);
    } finally {
      limited.stop();
    }
  });

  test("a lookup that hangs past LOOKUP_TIMEOUT_S fails with its reason; nothing failed is cached", async () => {
    const hanging = await startFakeHosts({ hang: /\/api\/v1\/models/ });
    try {
      const dir = await folderWith({
        "wf.json": sdWorkflow({ ckpt: PRESENT_CKPT, loras: ["nowhere-model.safetensors"] }),
      });
      const env = fixEnv(hanging, { LOOKUP_TIMEOUT_S: "0.3" });
      const first = await fix([dir, "--dry-run"], env);
      expect(weight(first.report, "nowhere-model.safetensors")).toMatchObject({ status: "not_found" });
      expect(weight(first.report, "nowhere-model.safetensors").reason).toContain("no answer within 0.3 s");
      const searches = () => hanging.requests.filter((r) => r.startsWith("/api/models?search=nowhere-model")).length;
      const lists = () => hanging.requests.filter((r) => r === "/model-list.json").length;
      const before = [searches(), lists()];
      await fix([dir, "--dry-run"], env);
      // the failed lookups are asked again; the list fetched fine is reused from the cache
      expect(searches()).toBeGreaterThan(before[0] as number);
      expect(lists()).toBe(before[1] as number);
    } finally {
      hanging.stop();
    }
  });
});

test("a --report the disk refuses is an error naming it, after the report was printed", async () => {
  const dir = await folderWith({
    "wf.json": sdWorkflow({ ckpt: PRESENT_CKPT, loras: ["detail-tweaker.safetensors"] }),
  });
  const env = fixEnv(hosts);
  const blocked = join(dir, "wf.json", "report.json");
  const result = await runCliCaptured(["fix", dir, "--dry-run", "--json", "--report", blocked], env, {
    captureStderr: true,
  });
  expect(result.code).toBe(2);
  // the outcome of the run is on stdout all the same
  expect(weight(JSON.parse(result.stdout), "detail-tweaker.safetensors").status).toBe("would_download");
  expect(result.stderr).toContain(`cannot write ${blocked}: a part of that path is a file, not a folder`);
  expect(result.stderr).toContain("choose another --report (the report is printed above)");
  expect(result.stderr).not.toContain("    at ");
});
