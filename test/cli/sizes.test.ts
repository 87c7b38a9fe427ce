import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPullProgress } from "../../src/cli/_pull-output.ts";
import { ensureFreeSpace } from "../../src/download/disk.ts";
import { formatBytes } from "../../src/lib/bytes.ts";
import type { Logger } from "../../src/log.ts";
import { createWeightTracker } from "../../src/preload/tracker.ts";
import type { WeightsState } from "../../src/weights/weight-state.ts";
import { runCliCaptured } from "../helpers/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "cw-sizes-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("sizes are binary and labelled so (flux1-dev is 23.8 GB on Hugging Face, 22.2 GiB here)", () => {
  expect(formatBytes(23_802_932_552)).toBe("22.2 GiB");
  expect(formatBytes(335_304_388)).toBe("319.8 MiB");
  expect(formatBytes(1536)).toBe("1.5 KiB");
  expect(formatBytes(512)).toBe("512 B");
});

test("the free-space error names the margin it keeps", async () => {
  const error = await ensureFreeSpace(dir, 5 * 1024 * 1024, async () => 8 * 1024 * 1024).catch((e: Error) => e);
  expect(String(error)).toContain(
    "needs 5.0 MiB plus 64.0 MiB kept free for everything else, but only 8.0 MiB is free",
  );
});

test("pull --dry-run lists each file once with the total, and warns about a gated kit without a token", async () => {
  const env = { MODELS_DIR: join(dir, "models"), COMFY_DIR: join(dir, "comfy"), LOG_FORMAT: "json", LOG_LEVEL: "warn" };
  const args = ["pull", "--kit", "flux1-dev", "--kit", "flux1-schnell", "--dry-run"];
  const { code, stdout, stderr } = await runCliCaptured(args, env, { captureStderr: true });
  expect(code).toBe(0);
  // the two kits share the text encoders and the VAE: five files, each listed once
  expect(stdout.match(/would download /g)).toHaveLength(5);
  expect(stdout.match(/ae\.safetensors \(/g)).toHaveLength(1);
  expect(stdout).toContain("5 to download, 0 failed, 0 without a source; 54.0 GiB to download, nothing fetched");
  expect(stderr).toContain("diffusion_models/flux1-dev.safetensors is gated and HF_TOKEN is not set");
  expect(stderr).not.toContain("flux1-schnell.safetensors is gated");
  const withToken = await runCliCaptured(args, { ...env, HF_TOKEN: "hf_test_token_value" }, { captureStderr: true });
  expect(withToken.stderr).not.toContain("is gated");
});

test("on a terminal a dry run does not print each file above the summary that lists them", () => {
  const written: string[] = [];
  const stream = { write: (text: string) => written.push(text) > 0 } as unknown as NodeJS.WriteStream;
  const progress = createPullProgress(stream, true, true);
  progress.onResult({ folder: "vae", name: "ae.safetensors", outcome: "to_download", url: "https://x/ae", size: 1 });
  progress.onResult({ folder: "vae", name: "old.safetensors", outcome: "present", size: 1 });
  progress.done();
  expect(written.join("")).not.toContain("ae.safetensors");
  expect(written.join("")).toContain("old.safetensors");
});

test("serve's download progress lines use the same units", () => {
  const lines: string[] = [];
  const log = { info: (line: string) => lines.push(line) } as unknown as Logger;
  const health: WeightsState = { state: "unchecked", pending: 0, missing: [] };
  const track = createWeightTracker(health, log, () => 0);
  const state = { folder: "vae", name: "ae.safetensors", state: "downloading" as const, total: 335_304_388 };
  track({ ...state, bytes: 0 });
  const later = createWeightTracker(health, log, () => 60_000);
  later({ ...state, bytes: 104_857_600, rate: 52_428_800 });
  expect(lines.at(-1)).toBe("downloading vae/ae.safetensors: 100.0 MiB of 319.8 MiB (31%), 50.0 MiB/s");
});
