import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { listDir, recordedBytes, tempDir } from "../helpers/download.ts";
import { finished, spawnPull, writeManifest } from "../helpers/pull.ts";
import { contentSha256, startWeightHost, type WeightHost } from "../helpers/weight-host.ts";

// real `bun src/main.ts pull` processes against a weight host in this process
const MB = 1_048_576;
let host: WeightHost;
beforeAll(() => {
  host = startWeightHost();
});
afterAll(() => host.stop());

test(
  "a pull killed with SIGKILL mid-file is resumed by the next run, which fetches only the rest and verifies",
  async () => {
    using tmp = tempDir("cw-pull-kill-");
    const size = 32 * MB;
    const sha256 = contentSha256(41, size);
    // throttled so the first run takes seconds: the kill lands mid-file
    host.serve("/big.safetensors", { size, seed: 41, throttleBytesPerSec: 2 * MB });
    const file = await writeManifest(join(tmp.dir, "kit.yaml"), [
      { folder: "checkpoints", name: "big.safetensors", url: host.url("/big.safetensors"), sha256, size },
    ]);
    const env = { COMFY_DIR: join(tmp.dir, "comfy"), DOWNLOAD_CONNECTIONS: "4" };
    const args = ["--manifest", file, "--models-dir", join(tmp.dir, "models"), "--json"];
    const dest = join(tmp.dir, "models/checkpoints/big.safetensors");
    const first = spawnPull(args, env);
    const recorded = await recordedBytes(dest, 4 * MB);
    first.kill("SIGKILL");
    await first.exited;
    expect(first.signalCode).toBe("SIGKILL");
    expect(existsSync(dest)).toBe(false);

    const before = host.bytesSent("/big.safetensors");
    host.serve("/big.safetensors", { size, seed: 41 }); // same bytes, no throttle for the rerun
    const rerun = await finished(spawnPull(args, env));
    expect([rerun.code, rerun.stderr]).toEqual([0, expect.any(String)]);
    const summary = JSON.parse(rerun.stdout);
    expect(summary).toMatchObject({ ok: true, downloaded: 1 });
    const fetched = host.bytesSent("/big.safetensors") - before;
    // what the state recorded at the kill is kept: only the rest (and the 1-byte probe) crosses the wire
    expect(fetched).toBeLessThanOrEqual(size - recorded + 1);
    expect(summary.bytes).toBeLessThan(size);
    expect(listDir(join(tmp.dir, "models/checkpoints"))).toEqual(["big.safetensors", "big.safetensors.sha256.json"]);
    const record = await Bun.file(`${dest}.sha256.json`).json();
    expect(record.sha256).toBe(sha256);
  },
  { timeout: 60_000 },
);

test(
  "two pull processes on the same manifest download each file once; both exit 0",
  async () => {
    using tmp = tempDir("cw-pull-twice-");
    const size = 8 * MB;
    host.serve("/one.bin", { size, seed: 42, throttleBytesPerSec: 8 * MB });
    host.serve("/two.bin", { size, seed: 43, throttleBytesPerSec: 8 * MB });
    const file = await writeManifest(join(tmp.dir, "kit.yaml"), [
      { folder: "loras", name: "one.bin", url: host.url("/one.bin"), size },
      { folder: "loras", name: "two.bin", url: host.url("/two.bin"), size },
    ]);
    const env = { COMFY_DIR: join(tmp.dir, "comfy"), DOWNLOAD_CONNECTIONS: "2" };
    const args = ["--manifest", file, "--models-dir", join(tmp.dir, "models"), "--json"];
    const [a, b] = await Promise.all([finished(spawnPull(args, env)), finished(spawnPull(args, env))]);
    expect([a.code, b.code]).toEqual([0, 0]);
    const [sa, sb] = [JSON.parse(a.stdout), JSON.parse(b.stdout)];
    // every file was downloaded by exactly one of them; the other waited on its lock and found it present
    expect(sa.downloaded + sb.downloaded).toBe(2);
    expect(sa.present + sb.present).toBe(2);
    expect(host.bytesSent("/one.bin")).toBe(size + 1);
    expect(host.bytesSent("/two.bin")).toBe(size + 1);
    expect(listDir(join(tmp.dir, "models/loras"))).toEqual([
      "one.bin",
      "one.bin.sha256.json",
      "two.bin",
      "two.bin.sha256.json",
    ]);
  },
  { timeout: 60_000 },
);
