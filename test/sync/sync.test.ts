import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { runCliCaptured } from "../helpers/cli.ts";
import { modelsDir, patterned, sha256, startVolumeServer, syncEnv, type VolumeServer } from "./_harness.ts";

let server: VolumeServer;
beforeAll(async () => {
  server = await startVolumeServer(["vol1", "vol2"]);
});
afterAll(async () => {
  await server.stop();
});

const sync = (args: string[], env: Record<string, string>) =>
  runCliCaptured(["sync", ...args, "--endpoint-url", server.endpoint, "--json"], env, { captureStderr: true });

describe("sync to a real S3 server", () => {
  test("first sync sends everything with sha256 metadata; a second sends nothing; a changed file is re-sent; --delete removes extras", async () => {
    const small = patterned(1000, 1);
    const big = patterned(3 * 2 ** 20 + 123, 2);
    const dir = await modelsDir({
      "checkpoints/a.safetensors": small,
      "loras/sub/b.safetensors": big,
      "loras/b.safetensors.sha256.json": "{}",
    });
    const env = syncEnv(server);
    const first = await sync([dir, "--volume", "vol1"], env);
    expect(first.code).toBe(0);
    const report = JSON.parse(first.stdout);
    expect(report.volumes[0].files.map((f: { outcome: string }) => f.outcome)).toEqual(["uploaded", "uploaded"]);
    expect(await server.list("vol1")).toEqual({
      "models/checkpoints/a.safetensors": 1000,
      "models/loras/sub/b.safetensors": big.length,
    });
    expect(await server.head("vol1", "models/loras/sub/b.safetensors")).toEqual({
      size: big.length,
      sha256: sha256(big),
    });
    expect(await server.bytes("vol1", "models/loras/sub/b.safetensors")).toEqual(big);

    // off a terminal, progress is JSON lines on stderr: the plan, bytes sent, and one `done` per file
    const events = first.stderr
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(events[0]).toEqual({
      event: "plan",
      volume: "vol1",
      new: 2,
      changed: 0,
      unchanged: 0,
      delete: 0,
      to_send: 1000 + big.length,
    });
    expect(events.filter((e) => e.event === "upload").length).toBeGreaterThan(0);
    expect(events.filter((e) => e.event === "done").map((e) => e.outcome)).toEqual(["uploaded", "uploaded"]);

    const second = JSON.parse((await sync([dir, "--volume", "vol1"], env)).stdout);
    expect(second.volumes[0].sent).toBe(0);
    expect(second.volumes[0].files.map((f: { outcome: string }) => f.outcome)).toEqual(["unchanged", "unchanged"]);

    const changed = patterned(1000, 9);
    await Bun.write(join(dir, "checkpoints/a.safetensors"), changed);
    await Bun.write(join(dir, "vae/new.pt"), "new");
    await rm(join(dir, "loras/sub/b.safetensors"));
    const dry = await sync([dir, "--volume", "vol1", "--delete", "--dry-run"], env);
    const planned = JSON.parse(dry.stdout).volumes[0].files.map((f: { rel: string; action: string }) => [
      f.rel,
      f.action,
    ]);
    expect(planned).toEqual([
      ["checkpoints/a.safetensors", "changed"],
      ["loras/sub/b.safetensors", "delete"],
      ["vae/new.pt", "new"],
    ]);
    expect(await server.bytes("vol1", "models/checkpoints/a.safetensors")).toEqual(small);

    const third = JSON.parse((await sync([dir, "--volume", "vol1", "--delete"], env)).stdout);
    expect(third.volumes[0].sent).toBe(1003);
    expect(await server.list("vol1")).toEqual({ "models/checkpoints/a.safetensors": 1000, "models/vae/new.pt": 3 });
    expect(await server.bytes("vol1", "models/checkpoints/a.safetensors")).toEqual(changed);
  });

  test("--include and --exclude choose what is sent, and --delete never touches remote files outside them", async () => {
    const dir = await modelsDir({ "loras/a.safetensors": "a", "loras/b.ckpt": "b", "vae/v.safetensors": "v" });
    const env = syncEnv(server);
    const args = [dir, "--volume", "vol2", "--prefix", "filtered/"];
    expect((await sync([...args, "--include", "loras/**", "--exclude", "**/*.ckpt"], env)).code).toBe(0);
    expect(await server.list("vol2", "filtered/")).toEqual({ "filtered/loras/a.safetensors": 1 });
    expect((await sync([...args, "--include", "vae/**"], env)).code).toBe(0);
    await rm(join(dir, "loras/a.safetensors"));
    const result = JSON.parse((await sync([...args, "--include", "vae/**", "--delete"], env)).stdout);
    expect(result.volumes[0].files.map((f: { rel: string; outcome: string }) => [f.rel, f.outcome])).toEqual([
      ["vae/v.safetensors", "unchanged"],
    ]);
    expect(Object.keys(await server.list("vol2", "filtered/")).sort()).toEqual([
      "filtered/loras/a.safetensors",
      "filtered/vae/v.safetensors",
    ]);
  });
});
