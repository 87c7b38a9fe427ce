import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { readUsage, UsageRecorder } from "../../src/prefetch/usage.ts";

let dir: string;
const USAGE = resolve(import.meta.dir, "../../src/prefetch/usage.ts");

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "usage-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("usage files on the volume", () => {
  test("two workers writing at once: both are read and neither file is corrupted", async () => {
    const script = (worker: string, name: string) => `
      const { UsageRecorder } = await import(${JSON.stringify(USAGE)});
      const recorder = new UsageRecorder(${JSON.stringify(dir)}, ${JSON.stringify(worker)});
      for (let i = 0; i < 300; i++) await recorder.record([{ folder: "checkpoints", name: ${JSON.stringify(name)} }, { folder: "loras", name: "shared.safetensors" }]);
    `;
    const procs = [
      Bun.spawn([process.execPath, "-e", script("worker-a", "a.safetensors")]),
      Bun.spawn([process.execPath, "-e", script("worker-b", "b.safetensors")]),
    ];
    expect(await Promise.all(procs.map((p) => p.exited))).toEqual([0, 0]);
    expect((await readdir(join(dir, "usage"))).sort()).toEqual(["worker-a.jsonl", "worker-b.jsonl"]);
    for (const file of ["worker-a.jsonl", "worker-b.jsonl"]) {
      const lines = (await readFile(join(dir, "usage", file), "utf8")).trim().split("\n");
      expect(lines).toHaveLength(300);
      for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    }
    const ranks = await readUsage(dir);
    expect(ranks[0]).toMatchObject({ folder: "loras", name: "shared.safetensors", uses: 600 });
    expect(
      ranks
        .slice(1)
        .map((r) => [r.folder, r.name, r.uses])
        .sort(),
    ).toEqual([
      ["checkpoints", "a.safetensors", 300],
      ["checkpoints", "b.safetensors", 300],
    ]);
  });

  test("a line cut short by a crash and junk are skipped; the rest still counts", async () => {
    const other = await mkdtemp(join(tmpdir(), "usage-cut-"));
    try {
      const recorder = new UsageRecorder(other, "w/../../escape");
      await recorder.record([{ folder: "vae", name: "v.safetensors" }], 5);
      expect(recorder.path.startsWith(join(other, "usage"))).toBe(true);
      await appendFile(recorder.path, '{"t":9,"w":[["vae","half');
      await writeFile(join(other, "usage", "junk.jsonl"), "not json\n[1,2]\n");
      expect(await readUsage(other)).toEqual([{ folder: "vae", name: "v.safetensors", uses: 1, lastMs: 5 }]);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  test("a worker's own file stays bounded: past 1 MiB it keeps its newest half", async () => {
    const other = await mkdtemp(join(tmpdir(), "usage-big-"));
    try {
      const first = new UsageRecorder(other, "w");
      const line = `${JSON.stringify({ t: 1, w: [["checkpoints", "x".repeat(200)]] })}\n`;
      await first.record([{ folder: "loras", name: "old.safetensors" }], 1);
      await appendFile(first.path, line.repeat(6000));
      // a new worker process with the same id (a restart) trims before appending
      const again = new UsageRecorder(other, "w");
      await again.record([{ folder: "loras", name: "new.safetensors" }], 2);
      const size = (await stat(again.path)).size;
      expect(size).toBeLessThan(1024 * 1024);
      const names = (await readUsage(other)).map((r) => r.name);
      expect(names).toContain("new.safetensors");
      expect(names).not.toContain("old.safetensors");
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });
});
