// Cold start: start → first job done, with and without prefetch, measured in the same run.
// A model file larger than what a first job would find cached is written, its uncached read time R measured
// (page cache dropped with `dd iflag=nocache`), and `serve --emulate` (the compiled binary) is started with
// the emulator's boot delay B = R and loaders that really read the file (--read-models). The job is sent the
// moment HTTP answers. The endpoint's usage history (on the "volume") names the file, as it would after
// earlier jobs. Target: first job with prefetch ≤ (max(B, R) + E) × 1.1, E = the same job with the file cached.
// Run: node_modules/.bin/bun bench/cold-start.ts [--gb 4] [--runs 3]   (builds dist/ when stale)
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ensureBinary } from "../test/helpers/binary.ts";
import { freePort } from "../test/helpers/emulator.ts";

const { values } = parseArgs({
  options: { gb: { type: "string", default: "4" }, runs: { type: "string", default: "3" } },
});
const BYTES = Math.round(Number(values.gb) * 1024 ** 3);
const RUNS = Number(values.runs);
const TIMEOUT_MS = 120_000;
const WORKFLOW = {
  "1": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: "big.safetensors" } },
  "2": { class_type: "EmptyLatentImage", inputs: { width: 64, height: 64, batch_size: 1 } },
  "3": { class_type: "VAEDecode", inputs: { samples: ["2", 0], vae: ["1", 2] } },
  "4": { class_type: "SaveImage", inputs: { images: ["3", 0], filename_prefix: "cold" } },
};

async function sh(argv: string[]): Promise<void> {
  const proc = Bun.spawn(argv, { stdout: "ignore", stderr: "inherit" });
  if ((await proc.exited) !== 0) throw new Error(`${argv.join(" ")} failed`);
}

const dropCache = (path: string) => sh(["dd", `if=${path}`, "iflag=nocache", "count=0", "status=none"]);

async function readAll(path: string): Promise<number> {
  const started = performance.now();
  const reader = Bun.file(path).stream().getReader();
  while (!(await reader.read()).done) {}
  return performance.now() - started;
}

async function startToFirstJob(binary: string, dir: string, prefetch: string, bootMs: number): Promise<number> {
  const port = await freePort();
  const env = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "/tmp",
    PORT: String(port),
    COMFY_PORT: String(await freePort()),
    EXTRA_MODEL_PATHS: join(dir, "paths.yaml"),
    MODELS_DIR: dir,
    PREFETCH: prefetch,
    COMFY_ARGS: `--read-models --startup-delay-ms ${Math.round(bootMs)}`,
    LOG_LEVEL: "warn",
  };
  const started = performance.now();
  const proc = Bun.spawn([binary, "serve", "--emulate"], { env, stdout: "ignore", stderr: "ignore" });
  try {
    const url = `http://127.0.0.1:${port}`;
    let id: string | undefined;
    while (!id && performance.now() - started < TIMEOUT_MS) {
      const res = await fetch(`${url}/run`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ input: { workflow: WORKFLOW } }),
      }).catch(() => undefined);
      id = res?.ok ? ((await res.json()) as { id: string }).id : undefined;
      if (!id) await Bun.sleep(5);
    }
    for (;;) {
      if (performance.now() - started > TIMEOUT_MS) throw new Error("first job did not finish");
      const res = await fetch(`${url}/status-sync/${id}?wait=60000`);
      const body = (await res.json()) as { status: string };
      if (body.status === "COMPLETED") return performance.now() - started;
      if (body.status === "FAILED") throw new Error(`first job failed: ${JSON.stringify(body)}`);
    }
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

const binary = await ensureBinary();
const dir = await mkdtemp(join(tmpdir(), "bench-cold-"));
try {
  const file = join(dir, "checkpoints", "big.safetensors");
  await mkdir(join(dir, "checkpoints"), { recursive: true });
  await sh(["dd", "if=/dev/zero", `of=${file}`, "bs=8M", `count=${Math.round(BYTES / 8 / 1024 ** 2)}`, "status=none"]);
  await sh(["sync"]);
  await writeFile(join(dir, "paths.yaml"), `bench:\n  base_path: ${dir}\n  checkpoints: checkpoints\n`);
  await mkdir(join(dir, ".comfy-worker", "usage"), { recursive: true });
  const used = JSON.stringify({ t: Date.now(), w: [["checkpoints", "big.safetensors"]] });
  await writeFile(join(dir, ".comfy-worker", "usage", "earlier-worker.jsonl"), `${used}\n`);

  await dropCache(file);
  const readMs = await readAll(file);
  const bootMs = readMs;
  // E: the same first job with the file already cached (no prefetch needed)
  const cachedMs = await startToFirstJob(binary, dir, "off", 0);
  const off: number[] = [];
  const auto: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    await dropCache(file);
    off.push(await startToFirstJob(binary, dir, "off", bootMs));
    await dropCache(file);
    auto.push(await startToFirstJob(binary, dir, "auto", bootMs));
  }
  const ideal = Math.max(bootMs, readMs) + cachedMs;
  console.log(
    `model file ${(BYTES / 1024 ** 3).toFixed(1)} GiB; uncached read R = ${s(readMs)}; boot delay B = ${s(bootMs)}`,
  );
  console.log(`E (start → first job, file cached, no boot delay) = ${s(cachedMs)}`);
  console.log(`start → first job done, medians of ${RUNS} (page cache dropped before each run):`);
  console.log(`  PREFETCH=off : ${s(median(off))}   [${off.map(s).join(", ")}]`);
  console.log(`  PREFETCH=auto: ${s(median(auto))}   [${auto.map(s).join(", ")}]`);
  console.log(`  max(B, R) + E = ${s(ideal)}; target ≤ ${s(ideal * 1.1)}`);
  console.log(
    `  auto / off = ${(median(auto) / median(off)).toFixed(2)}; auto / (max(B,R)+E) = ${(median(auto) / ideal).toFixed(2)}`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
