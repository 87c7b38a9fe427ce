// Throughput of a multi-GPU worker: `serve --emulate` (the compiled binary) with COMFY_GPUS=0,1 against the
// same worker with one emulated GPU, each instance running one job at a time in both (CONCURRENCY=1; a
// multi-GPU worker runs one job per instance), measured in the same run with a client that keeps the
// worker's queue full. Target: two GPUs ≥ 95% of twice one GPU.
// Run: node_modules/.bin/bun bench/multi-gpu.ts [--jobs 40] [--node-ms 40]
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ensureBinary } from "../test/helpers/binary.ts";
import { freePort } from "../test/helpers/emulator.ts";
import { waitFor } from "./_processes.ts";
import { benchWorkflow } from "./_workflow.ts";

const { values } = parseArgs({
  options: { jobs: { type: "string", default: "40" }, "node-ms": { type: "string", default: "40" } },
});
const JOBS = Number(values.jobs);
const models = mkdtempSync(join(tmpdir(), "cw-bench-gpus-"));
await Bun.write(join(models, "checkpoints/bench.safetensors"), "dummy weights");
await Bun.write(join(models, "paths.yaml"), `bench:\n  base_path: ${models}\n  checkpoints: checkpoints\n`);

const workflow = (seed: number) => benchWorkflow(seed, 64, 1);

async function throughput(env: Record<string, string>): Promise<number> {
  const binary = await ensureBinary();
  const port = await freePort();
  const proc = Bun.spawn([binary, "serve", "--emulate"], {
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      PORT: String(port),
      COMFY_PORT: String(await freePort()),
      EXTRA_MODEL_PATHS: join(models, "paths.yaml"),
      COMFY_ARGS: `--node-ms ${values["node-ms"]}`,
      LOG_LEVEL: "error",
      ...env,
    },
    stdout: "ignore",
    stderr: "inherit",
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(() => fetch(`${url}/ready`).then((r) => r.ok), "worker", proc);
    const started = performance.now();
    // all jobs queued at once: the worker's queue is never empty
    const ids = await Promise.all(
      Array.from({ length: JOBS }, async (_, i) => {
        const res = await fetch(`${url}/run`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ input: { workflow: workflow(i) } }),
        });
        return ((await res.json()) as { id: string }).id;
      }),
    );
    for (const id of ids) {
      const body = (await (await fetch(`${url}/status-sync/${id}?wait=60000`)).json()) as { status: string };
      if (body.status !== "COMPLETED") throw new Error(`job ${id}: ${body.status}`);
    }
    return JOBS / ((performance.now() - started) / 1000);
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
  }
}

const one: number[] = [];
const two: number[] = [];
for (let round = 0; round < 2; round++) {
  one.push(await throughput({ CONCURRENCY: "1" }));
  two.push(await throughput({ COMFY_GPUS: "0,1" }));
}
const best = (xs: number[]) => Math.max(...xs);
console.log(`${JOBS} jobs, emulator --node-ms ${values["node-ms"]}, best of 2 rounds, interleaved`);
console.log(`  1 GPU (CONCURRENCY=1): ${best(one).toFixed(2)} jobs/s   [${one.map((x) => x.toFixed(2)).join(", ")}]`);
console.log(`  2 GPUs (COMFY_GPUS=0,1): ${best(two).toFixed(2)} jobs/s   [${two.map((x) => x.toFixed(2)).join(", ")}]`);
console.log(`  2 GPUs / (2 × 1 GPU) = ${(best(two) / (2 * best(one))).toFixed(3)}  (target ≥ 0.95)`);
