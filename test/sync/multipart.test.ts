import { afterAll, beforeAll, expect, test } from "bun:test";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { runCliCaptured } from "../helpers/cli.ts";
import { modelsDir, patterned, sha256, startVolumeServer, syncEnv, type VolumeServer } from "./_harness.ts";
import { startFaultProxy } from "./_proxy.ts";

const MIB = 2 ** 20;
let server: VolumeServer;
beforeAll(async () => {
  server = await startVolumeServer(["vol1", "vol2"]);
});
afterAll(async () => {
  await server.stop();
});

const run = (url: string, args: string[], env: Record<string, string>) =>
  runCliCaptured(["sync", ...args, "--endpoint-url", url, "--part-size", "1", "--json"], env, { captureStderr: true });

test("a multipart upload survives parts the server refuses: each is retried alone and the object is whole", async () => {
  const big = patterned(5 * MIB + 777, 3);
  const dir = await modelsDir({ "unet/flux.safetensors": big });
  const proxy = startFaultProxy(server.endpoint, {
    failPart: (part, attempt) => (part === 2 || part === 5) && attempt <= 2,
  });
  try {
    const result = await run(proxy.url, [dir, "--volume", "vol1"], syncEnv(server));
    expect(result.code).toBe(0);
    expect(proxy.attempts.get(2)).toBe(3);
    expect(proxy.attempts.get(5)).toBe(3);
    expect(proxy.attempts.get(1)).toBe(1);
    expect([...proxy.forwarded].sort()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await server.head("vol1", "models/unet/flux.safetensors")).toEqual({
      size: big.length,
      sha256: sha256(big),
    });
    expect(await server.bytes("vol1", "models/unet/flux.safetensors")).toEqual(big);
  } finally {
    proxy.stop();
  }
});

test("a part that keeps failing fails that file (exit 4) and keeps its resume record; the next run sends only the rest", async () => {
  const big = patterned(4 * MIB + 5, 4);
  const dir = await modelsDir({ "loras/x.safetensors": big, "loras/small.safetensors": "tiny" });
  const env = syncEnv(server);
  // one proxy for both runs: resume records are per endpoint URL and bucket
  const proxy = startFaultProxy(server.endpoint, { failPart: (part) => part === 3 });
  try {
    const first = await run(proxy.url, [dir, "--volume", "vol2"], env);
    expect(first.code).toBe(4);
    const report = JSON.parse(first.stdout);
    const outcomes = Object.fromEntries(
      report.volumes[0].files.map((f: { rel: string; outcome: string }) => [f.rel, f.outcome]),
    );
    expect(outcomes).toEqual({ "loras/small.safetensors": "uploaded", "loras/x.safetensors": "failed" });
    expect(report.ok).toBe(false);
    expect(await readdir(join(env.XDG_CACHE_HOME, "comfy-worker/sync"))).toHaveLength(1);
    proxy.setRules({});
    const before = proxy.forwarded.length;
    const second = await run(proxy.url, [dir, "--volume", "vol2"], env);
    expect(second.code).toBe(0);
    expect(proxy.forwarded.slice(before)).toEqual([3]);
    const file = JSON.parse(second.stdout).volumes[0].files.find(
      (f: { rel: string }) => f.rel === "loras/x.safetensors",
    );
    expect(file).toMatchObject({ outcome: "uploaded", resumed_parts: 4, sent: MIB });
    expect(await server.bytes("vol2", "models/loras/x.safetensors")).toEqual(big);
    expect(await readdir(join(env.XDG_CACHE_HOME, "comfy-worker/sync"))).toHaveLength(0);
  } finally {
    proxy.stop();
  }
});

test("listings page through ListObjectsV2 and ask again when the same next token comes back", async () => {
  const files = Object.fromEntries(Array.from({ length: 7 }, (_, i) => [`embeddings/e${i}.pt`, `e${i}`]));
  const dir = await modelsDir(files);
  const env = syncEnv(server);
  expect((await run(server.endpoint, [dir, "--volume", "vol1", "--prefix", "paged/"], env)).code).toBe(0);
  const proxy = startFaultProxy(server.endpoint, { pageSize: 2, sameToken: 2 });
  try {
    const again = await run(proxy.url, [dir, "--volume", "vol1", "--prefix", "paged/"], env);
    expect(again.code).toBe(0);
    const outcomes = JSON.parse(again.stdout).volumes[0].files.map((f: { outcome: string }) => f.outcome);
    expect(outcomes).toEqual(Array(7).fill("unchanged"));
    // 4 pages of at most 2 keys, plus the two answers that repeated the token
    expect(proxy.listings).toBe(6);
  } finally {
    proxy.stop();
  }
});
