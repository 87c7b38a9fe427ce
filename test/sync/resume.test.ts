import { afterAll, beforeAll, expect, test } from "bun:test";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { modelsDir, patterned, sha256, startVolumeServer, syncEnv, type VolumeServer } from "./_harness.ts";
import { startFaultProxy } from "./_proxy.ts";
import { spawnSync, waitFor } from "./_spawn.ts";

const MIB = 2 ** 20;
let server: VolumeServer;
beforeAll(async () => {
  server = await startVolumeServer(["vol1"]);
});
afterAll(async () => {
  await server.stop();
});

async function recordedParts(stateDir: string): Promise<number> {
  const names = await readdir(stateDir).catch(() => [] as string[]);
  const record = names.find((name) => name.endsWith(".json"));
  if (!record) return 0;
  const parsed = await Bun.file(join(stateDir, record))
    .json()
    .catch(() => ({ parts: [] }));
  return parsed.parts.length;
}

test("kill -9 during a multipart upload, then a resume sends only the parts the server lacks", async () => {
  const big = patterned(7 * MIB - 100, 5);
  const dir = await modelsDir({ "checkpoints/big.safetensors": big });
  const env = syncEnv(server);
  const stateDir = join(env.XDG_CACHE_HOME, "comfy-worker/sync");
  // parts 4 and later stall, so the first run is killed with exactly parts 1–3 on the server
  const proxy = startFaultProxy(server.endpoint, { hangPart: (part) => part >= 4 });
  const args = [dir, "--volume", "vol1", "--endpoint-url", proxy.url, "--part-size", "1", "--json"];
  try {
    const first = spawnSync(args, env);
    await waitFor("three recorded parts", async () => (await recordedParts(stateDir)) === 3);
    first.kill("SIGKILL");
    expect(await first.exited).not.toBe(0);
    expect([...proxy.forwarded].sort()).toEqual([1, 2, 3]);

    proxy.setRules({});
    const before = proxy.forwarded.length;
    const second = spawnSync(args, env);
    const [code, stdout] = await Promise.all([second.exited, new Response(second.stdout).text()]);
    expect(code).toBe(0);
    expect(proxy.forwarded.slice(before).sort()).toEqual([4, 5, 6, 7]);
    const file = JSON.parse(stdout).volumes[0].files[0];
    expect(file).toMatchObject({ outcome: "uploaded", resumed_parts: 3, sent: big.length - 3 * MIB });
    expect(await server.head("vol1", "models/checkpoints/big.safetensors")).toEqual({
      size: big.length,
      sha256: sha256(big),
    });
    expect(await server.bytes("vol1", "models/checkpoints/big.safetensors")).toEqual(big);
    expect(await recordedParts(stateDir)).toBe(0);
  } finally {
    proxy.stop();
  }
}, 60_000);
