import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { listDir, recordedBytes, tempDir } from "../helpers/download.ts";
import { contentSha256, startWeightHost, type WeightHost } from "../helpers/weight-host.ts";

// separate processes running downloadFile against a host in this process: a kill -9 mid-file, then a
// rerun; and two processes asking for the same file at once
const CHILD = join(import.meta.dir, "../fixtures/download-child.ts");
const MB = 1024 * 1024;

let host: WeightHost;
beforeAll(() => {
  host = startWeightHost();
});
afterAll(() => host.stop());

function spawnChild(options: object) {
  return Bun.spawn([process.execPath, CHILD, JSON.stringify(options)], { stdout: "pipe", stderr: "pipe" });
}

async function resultOf(proc: ReturnType<typeof spawnChild>): Promise<Record<string, unknown>> {
  const [out, err] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  const last = out.trim().split("\n").at(-1) ?? "";
  if (!last.startsWith("{")) throw new Error(`child printed no result; stderr:\n${err}`);
  return JSON.parse(last);
}

test(
  "a download process killed with SIGKILL mid-file is resumed by the next run, which fetches only the rest",
  async () => {
    using tmp = tempDir();
    const size = 64 * MB;
    const sha = contentSha256(21, size);
    // throttled so the first run takes several seconds: the kill lands mid-file
    host.serve("/big.bin", { size, seed: 21, throttleBytesPerSec: 4 * MB });
    const dest = join(tmp.dir, "big.bin");
    const first = spawnChild({ url: host.url("/big.bin"), dest, connections: 4 });
    const recorded = await recordedBytes(dest, 8 * MB);
    first.kill("SIGKILL");
    await first.exited;
    expect(first.signalCode).toBe("SIGKILL");
    expect(existsSync(dest)).toBe(false);
    expect(listDir(tmp.dir)).toEqual(["big.bin.part", "big.bin.part.json", "big.bin.part.lock"]);

    const before = host.bytesSent("/big.bin");
    host.serve("/big.bin", { size, seed: 21 }); // same bytes, no throttle for the rerun
    const rerun = await resultOf(spawnChild({ url: host.url("/big.bin"), dest, connections: 4 }));
    expect(rerun).toMatchObject({ path: dest, sha256: sha, resumed: true });
    const second = host.bytesSent("/big.bin") - before;
    // everything the state recorded at the kill is kept; only the rest (and the 1-byte probe) is fetched
    expect(second).toBeLessThanOrEqual(size - recorded + 1);
    expect(listDir(tmp.dir)).toEqual(["big.bin", "big.bin.sha256.json"]);
  },
  { timeout: 90_000 },
);

test(
  "two processes downloading the same file at once fetch it once",
  async () => {
    using tmp = tempDir();
    const size = 16 * MB;
    host.serve("/twice.bin", { size, seed: 22, throttleBytesPerSec: 8 * MB });
    const dest = join(tmp.dir, "twice.bin");
    const options = { url: host.url("/twice.bin"), dest, connections: 2 };
    const [a, b] = await Promise.all([resultOf(spawnChild(options)), resultOf(spawnChild(options))]);
    const sha = contentSha256(22, size);
    expect([a.sha256 ?? sha, b.sha256 ?? sha]).toEqual([sha, sha]);
    expect([a.skipped, b.skipped].filter(Boolean)).toEqual(["exists"]);
    expect(host.bytesSent("/twice.bin")).toBe(size + 1);
    expect(listDir(tmp.dir)).toEqual(["twice.bin", "twice.bin.sha256.json"]);
  },
  { timeout: 90_000 },
);
