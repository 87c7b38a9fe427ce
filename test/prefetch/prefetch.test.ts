import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir, mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redactor } from "../../src/lib/redact.ts";
import { createLogger } from "../../src/log.ts";
import { Prefetch } from "../../src/prefetch/prefetch.ts";
import { readIntoCache } from "../../src/prefetch/reader.ts";
import { UsageRecorder } from "../../src/prefetch/usage.ts";
import { createModelIndex } from "../../src/weights/model-index.ts";
import { loadModelRoots } from "../../src/weights/roots.ts";

const MB = 1_000_000;
let base: string;
const log = createLogger({ level: "error", format: "json", redactor: new Redactor(), stream: process.stderr });

async function sparse(path: string, bytes: number): Promise<void> {
  await writeFile(path, "");
  await truncate(path, bytes);
}

async function local() {
  const roots = await loadModelRoots({ baseDir: base, extraConfigs: [], env: {} });
  return { roots, index: createModelIndex(roots) };
}

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), "prefetch-"));
  await mkdir(join(base, "models", "checkpoints"), { recursive: true });
  await mkdir(join(base, "models", "loras"), { recursive: true });
  await sparse(join(base, "models", "checkpoints", "big.safetensors"), 300 * MB);
  await sparse(join(base, "models", "checkpoints", "warm.safetensors"), 40 * MB);
  await sparse(join(base, "models", "loras", "used.safetensors"), 20 * MB);
  await sparse(join(base, "models", "loras", "rare.safetensors"), 30 * MB);
  // the warmup workflow names warm.safetensors
  await writeFile(
    join(base, "warmup.json"),
    JSON.stringify({
      "1": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: "warm.safetensors" } },
      "2": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "w" } },
    }),
  );
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe("readIntoCache", () => {
  test("reads every byte of every file, splitting big files across readers", async () => {
    const path = join(base, "models", "checkpoints", "big.safetensors");
    const result = await readIntoCache([{ path, size: 300 * MB, label: "big" }], { readers: 3, rangeBytes: 64 * MB });
    expect(result).toEqual({ bytes: 300 * MB, files: ["big"], stopped: false });
  });

  test("stops between chunks when aborted, and skips a file it cannot open", async () => {
    const stop = new AbortController();
    const path = join(base, "models", "checkpoints", "big.safetensors");
    const result = await readIntoCache(
      [
        { path: join(base, "nope.safetensors"), size: MB, label: "nope" },
        { path, size: 300 * MB, label: "big" },
      ],
      { readers: 1, signal: stop.signal, onBytes: (bytes) => bytes >= 16 * MB && stop.abort() },
    );
    expect(result.stopped).toBe(true);
    expect(result.bytes).toBeGreaterThanOrEqual(16 * MB);
    expect(result.bytes).toBeLessThan(300 * MB);
    expect(result.files).toEqual([]);
  });
});

describe("Prefetch", () => {
  test("warmup weights first, then the most used; nothing over the budget", async () => {
    const stateDir = join(base, "models", ".comfy-worker");
    const a = new UsageRecorder(stateDir, "worker-a");
    await a.record([{ folder: "loras", name: "used.safetensors" }]);
    await a.record([
      { folder: "loras", name: "used.safetensors" },
      { folder: "checkpoints", name: "big.safetensors" },
    ]);
    await a.record([{ folder: "loras", name: "rare.safetensors" }]);
    const prefetch = new Prefetch({
      local,
      warmup: join(base, "warmup.json"),
      kits: [],
      workflows: [],
      stateDir: async () => stateDir,
      log,
      // warm (40) + used (20) + rare (30) fit in 100 MB; big (300) does not and is skipped, not truncated
      budget: async () => 100 * MB,
    });
    const report = await prefetch.run();
    expect(report.state).toBe("done");
    expect(report.budget_bytes).toBe(100 * MB);
    expect(report.planned).toEqual({ files: 3, bytes: 90 * MB });
    expect(report.order).toEqual(["checkpoints/warm.safetensors", "loras/used.safetensors", "loras/rare.safetensors"]);
    expect(report.read).toEqual({ files: 3, bytes: 90 * MB });
  });

  test("stop() (a job started loading models) ends the reading early and says why", async () => {
    const prefetch = new Prefetch({
      local,
      kits: [],
      workflows: [],
      stateDir: async () => join(base, "models", ".comfy-worker"),
      log,
      budget: async () => 1000 * MB,
    });
    const running = prefetch.run();
    // stop as soon as reading has begun
    for (let i = 0; i < 2000 && prefetch.report.read.bytes === 0; i++) await Bun.sleep(1);
    prefetch.stop("ComfyUI started loading a model");
    const report = await running;
    expect(report.state).toBe("stopped");
    expect(report.stopped_by).toBe("ComfyUI started loading a model");
    expect(report.read.bytes).toBeLessThan(report.planned.bytes);
  });

  test("nothing to read: done at once, never an error", async () => {
    const empty = await mkdtemp(join(tmpdir(), "prefetch-empty-"));
    try {
      const roots = await loadModelRoots({ baseDir: empty, extraConfigs: [], env: {} });
      const prefetch = new Prefetch({
        local: async () => ({ roots, index: createModelIndex(roots) }),
        warmup: join(empty, "missing-warmup.json"),
        kits: [],
        workflows: [],
        log,
        budget: async () => 1000 * MB,
      });
      expect(await prefetch.run()).toMatchObject({ state: "done", planned: { files: 0, bytes: 0 } });
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
