import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startVolumeServer, syncEnv, type VolumeServer } from "./_harness.ts";
import { peakRss, spawnSync } from "./_spawn.ts";

const GIB = 2 ** 30;
const RSS_LIMIT = 200 * 2 ** 20;
let server: VolumeServer;
let dir: string;
beforeAll(async () => {
  server = await startVolumeServer(["big"]);
  dir = mkdtempSync(join(tmpdir(), "cw-sync-mem-"));
  mkdirSync(join(dir, "checkpoints"));
  // a sparse 2 GiB file: no disk used locally, every byte still read, hashed and sent
  const file = join(dir, "checkpoints/sparse.safetensors");
  writeFileSync(file, "");
  truncateSync(file, 2 * GIB);
});
afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("sending a 2 GiB file keeps the process under 200 MB of resident memory", async () => {
  const child = spawnSync([dir, "--volume", "big", "--endpoint-url", server.endpoint, "--json"], syncEnv(server));
  let peak = 0;
  const poll = setInterval(async () => {
    peak = Math.max(peak, (await peakRss(child.pid)) ?? 0);
  }, 25);
  const [code, stdout] = await Promise.all([child.exited, new Response(child.stdout).text()]);
  clearInterval(poll);
  expect(code).toBe(0);
  expect(JSON.parse(stdout).volumes[0].sent).toBe(2 * GIB);
  expect((await server.head("big", "models/checkpoints/sparse.safetensors")).size).toBe(2 * GIB);
  expect(peak).toBeGreaterThan(0);
  expect(peak).toBeLessThan(RSS_LIMIT);
}, 180_000);
