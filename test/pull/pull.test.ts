import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { listDir, tempDir } from "../helpers/download.ts";
import { sd15Workflow } from "../helpers/emulator.ts";
import { events, runPullCli, writeManifest } from "../helpers/pull.ts";
import { contentSha256, startWeightHost, type WeightHost } from "../helpers/weight-host.ts";

// `pull` and `check --download` in-process against a local weight host; COMFY_DIR is an empty temp dir,
// so every weight is missing until pulled into --models-dir
const MB = 1_048_576;
let host: WeightHost;
const work = tempDir("cw-pull-");
const comfy = join(work.dir, "comfy");
beforeAll(() => {
  host = startWeightHost();
  host.serve("/a.safetensors", { size: MB, seed: 31 });
  host.serve("/b.bin", { size: MB / 2, seed: 32 });
  host.serve("/c.safetensors", { size: MB / 4, seed: 33 });
});
afterAll(() => {
  host.stop();
  work[Symbol.dispose]();
});

const env = () => ({ COMFY_DIR: comfy, DOWNLOAD_CONNECTIONS: "2" });
const requests = (...paths: string[]) => paths.reduce((n, path) => n + host.requests(path).length, 0);

async function manifest(name: string, files: Parameters<typeof writeManifest>[1]): Promise<string> {
  return writeManifest(join(work.dir, `${name}.yaml`), files);
}

/** An API workflow whose checkpoint is `ckpt`, with `_meta.required_weights` naming `url` when given. */
async function workflowFile(name: string, ckpt: string, url?: string, sha256?: string): Promise<string> {
  const workflow = sd15Workflow();
  workflow["4"].inputs.ckpt_name = ckpt;
  if (url) workflow["4"]._meta = { required_weights: [{ folder: "checkpoints", name: ckpt, url, sha256 }] };
  const path = join(work.dir, `${name}.json`);
  await Bun.write(path, JSON.stringify(workflow));
  return path;
}

test("pull fetches a manifest's files into --models-dir, verified; a second run fetches nothing", async () => {
  const models = join(work.dir, "models-a");
  const file = await manifest("ab", [
    {
      folder: "checkpoints",
      name: "a.safetensors",
      url: host.url("/a.safetensors"),
      sha256: contentSha256(31, MB),
      size: MB,
    },
    { folder: "unet", name: "sub/b.bin", url: host.url("/b.bin") },
  ]);
  const first = await runPullCli(["pull", "--manifest", file, "--models-dir", models, "--json"], env());
  expect(first.code).toBe(0);
  const summary = JSON.parse(first.stdout);
  expect(summary).toMatchObject({ ok: true, present: 0, downloaded: 2, failed: 0, no_source: 0, bytes: MB + MB / 2 });
  expect(summary.files).toContainEqual(
    expect.objectContaining({ folder: "diffusion_models", name: "sub/b.bin", outcome: "downloaded" }),
  );
  // a legacy `unet` key lands in the canonical folder, subfolders kept
  expect(existsSync(join(models, "diffusion_models/sub/b.bin"))).toBe(true);
  expect(listDir(join(models, "checkpoints"))).toEqual(["a.safetensors", "a.safetensors.sha256.json"]);
  // not a TTY: JSON-line progress and a done event per file on stderr
  const done = events(first.stderr).filter((e) => e.event === "done");
  expect(done.map((e) => e.outcome)).toEqual(["downloaded", "downloaded"]);

  const before = requests("/a.safetensors", "/b.bin");
  const again = await runPullCli(["pull", "--manifest", file, "--models-dir", models, "--json"], env());
  expect(again.code).toBe(0);
  expect(JSON.parse(again.stdout)).toMatchObject({ ok: true, present: 2, downloaded: 0, bytes: 0 });
  expect(requests("/a.safetensors", "/b.bin")).toBe(before);
});

test("--dry-run lists what would be fetched, with sizes and destinations, and fetches nothing", async () => {
  const models = join(work.dir, "models-dry");
  const file = await manifest("dry", [
    { folder: "loras", name: "c.safetensors", url: host.url("/c.safetensors"), size: MB / 4 },
  ]);
  const before = requests("/c.safetensors");
  const { code, stdout } = await runPullCli(["pull", "--manifest", file, "--models-dir", models, "--dry-run"], env());
  expect(code).toBe(0);
  expect(stdout).toContain("0 present, 1 to download, 0 failed, 0 without a source");
  expect(stdout).toContain(
    `would download ${host.url("/c.safetensors")} (256.0 KiB) to ${join(models, "loras/c.safetensors")}`,
  );
  expect(requests("/c.safetensors")).toBe(before);
  expect(existsSync(models)).toBe(false);
});

test("a workflow by URL: weights with a source are pulled, one without makes the exit status 3", async () => {
  const models = join(work.dir, "models-wf");
  const sourced = await workflowFile("sourced", "c.safetensors", host.url("/c.safetensors"), contentSha256(33, MB / 4));
  host.serve("/wf.json", { size: 0, body: await Bun.file(sourced).text(), contentType: "application/json" });
  const unsourced = await workflowFile("unsourced", "nowhere.safetensors");
  const args = ["pull", "--workflow", host.url("/wf.json"), "--workflow", unsourced, "--models-dir", models];
  const { code, stdout } = await runPullCli(args, env());
  expect(code).toBe(3);
  expect(stdout).toContain("1 downloaded, 0 failed, 1 without a source");
  expect(stdout).toContain("no known source for checkpoints/nowhere.safetensors");
  expect(existsSync(join(models, "checkpoints/c.safetensors"))).toBe(true);
});

test("a download that fails for good exits 4 with the host's answer; the other files are still pulled", async () => {
  const models = join(work.dir, "models-404");
  const file = await manifest("broken", [
    { folder: "vae", name: "gone.safetensors", url: host.url("/gone.safetensors") },
    { folder: "vae", name: "c.safetensors", url: host.url("/c.safetensors") },
  ]);
  const { code, stdout } = await runPullCli(["pull", "--manifest", file, "--models-dir", models, "--json"], env());
  expect(code).toBe(4);
  const summary = JSON.parse(stdout);
  expect(summary).toMatchObject({ ok: false, downloaded: 1, failed: 1 });
  const failed = summary.files.find((f: { outcome: string }) => f.outcome === "failed");
  expect(failed).toMatchObject({ name: "gone.safetensors", code: "E_DOWNLOAD" });
  expect(failed.reason).toContain("does not exist (HTTP 404)");
  expect(listDir(join(models, "vae"))).toEqual(["c.safetensors", "c.safetensors.sha256.json"]);
});

test("a sha256 mismatch exits 4 and leaves no file, no .part and no lock behind", async () => {
  const models = join(work.dir, "models-sha");
  const wrong = "0".repeat(64);
  const file = await manifest("sha", [
    { folder: "checkpoints", name: "a.safetensors", url: host.url("/a.safetensors"), sha256: wrong },
  ]);
  const { code, stdout } = await runPullCli(["pull", "--manifest", file, "--models-dir", models, "--json"], env());
  expect(code).toBe(4);
  expect(JSON.parse(stdout).files[0].reason).toContain(
    `sha256 mismatch for ${join(models, "checkpoints/a.safetensors")}`,
  );
  expect(readdirSync(join(models, "checkpoints"))).toEqual([]);
});

test("a truncated file at the destination is fetched again; a bad one elsewhere is reported (exit 3)", async () => {
  const models = join(work.dir, "models-bad");
  await Bun.write(join(models, "checkpoints/a.safetensors"), "truncated");
  await Bun.write(join(comfy, "models/vae/bad.safetensors"), "short");
  const file = await manifest("bad", [
    { folder: "checkpoints", name: "a.safetensors", url: host.url("/a.safetensors"), size: MB },
    { folder: "vae", name: "bad.safetensors", url: host.url("/c.safetensors"), size: MB / 4 },
  ]);
  const { code, stdout } = await runPullCli(["pull", "--manifest", file, "--models-dir", models, "--json"], env());
  expect(code).toBe(3);
  const summary = JSON.parse(stdout);
  expect(summary).toMatchObject({ downloaded: 1, invalid: 1 });
  expect(summary.files[1]).toMatchObject({
    outcome: "invalid",
    path: join(comfy, "models/vae/bad.safetensors"),
    reason: `5 bytes, expected ${MB / 4}; delete ${join(comfy, "models/vae/bad.safetensors")} and run again`,
  });
  expect(Bun.file(join(models, "checkpoints/a.safetensors")).size).toBe(MB);
});

test("nothing to pull, or a bad --verify, is a usage error", async () => {
  expect((await runPullCli(["pull"], env())).code).toBe(2);
  expect((await runPullCli(["pull", "--kit", "sd15", "--verify", "twice"], env())).code).toBe(2);
  const unknown = await runPullCli(["pull", "--kit", "no-such-kit"], env());
  expect([unknown.code, unknown.stderr]).toEqual([2, expect.stringContaining('unknown kit "no-such-kit"')]);
});

test("check --download fetches what has a source, checks again, and exits 0; 4 when a download fails", async () => {
  const models = join(work.dir, "models-check");
  const good = await workflowFile("check-good", "a.safetensors", host.url("/a.safetensors"), contentSha256(31, MB));
  const { code, stdout } = await runPullCli(["check", good, "--models-dir", models, "--download", "--json"], env());
  expect(code).toBe(0);
  const report = JSON.parse(stdout);
  expect(report.ok).toBe(true);
  expect(report.downloads).toEqual([
    expect.objectContaining({ folder: "checkpoints", name: "a.safetensors", outcome: "downloaded", bytes: MB }),
  ]);
  expect(report.workflows[0].weights[0]).toMatchObject({
    status: "present",
    path: join(models, "checkpoints/a.safetensors"),
  });

  const bad = await workflowFile("check-bad", "gone.safetensors", host.url("/gone.safetensors"));
  const failed = await runPullCli(["check", bad, "--models-dir", models, "--download"], env());
  expect(failed.code).toBe(4);
  expect(failed.stdout).toContain("MISSING");
});
