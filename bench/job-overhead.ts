// Per-job overhead of the worker: HTTP round trip of POST /runsync minus the emulator's own execution time
// (execution_start → execution_success timestamps from its /history), p50 and p99, for small and ~4 MB
// outputs; then RSS of the worker process over many sequential jobs.
// Run: node_modules/.bin/bun bench/job-overhead.ts [--jobs 200] [--rss-jobs 1000]
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadConfig } from "../src/config.ts";
import { Redactor } from "../src/lib/redact.ts";
import { createLogger } from "../src/log.ts";
import { startWorker } from "../src/worker/start.ts";

const { values } = parseArgs({
  options: { jobs: { type: "string", default: "200" }, "rss-jobs": { type: "string", default: "1000" } },
});
const JOBS = Number(values.jobs);
const RSS_JOBS = Number(values["rss-jobs"]);

const models = mkdtempSync(join(tmpdir(), "cw-bench-"));
await Bun.write(join(models, "checkpoints/bench.safetensors"), "x");
await Bun.write(join(models, "paths.yaml"), `bench:\n  base_path: ${models}\n  checkpoints: checkpoints\n`);
const port = async () => {
  const server = Bun.serve({ port: 0, fetch: () => new Response() });
  const p = server.port;
  await server.stop(true);
  return String(p);
};
const config = loadConfig({
  env: {
    PORT: await port(),
    COMFY_PORT: await port(),
    EXTRA_MODEL_PATHS: join(models, "paths.yaml"),
    COMFY_ARGS: "--node-ms 0",
    LOG_LEVEL: "error",
  },
});
const worker = await startWorker(
  config,
  createLogger({ level: "error", format: "json", redactor: new Redactor(), stream: process.stderr }),
  { emulate: true },
);

function workflow(seed: number, size: number) {
  return {
    "4": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: "bench.safetensors" } },
    "5": { class_type: "EmptyLatentImage", inputs: { width: size, height: size, batch_size: 1 } },
    "6": { class_type: "CLIPTextEncode", inputs: { text: "bench", clip: ["4", 1] } },
    "3": {
      class_type: "KSampler",
      inputs: {
        seed,
        steps: 1,
        cfg: 7,
        sampler_name: "euler",
        scheduler: "normal",
        denoise: 1,
        model: ["4", 0],
        positive: ["6", 0],
        negative: ["6", 0],
        latent_image: ["5", 0],
      },
    },
    "8": { class_type: "VAEDecode", inputs: { samples: ["3", 0], vae: ["4", 2] } },
    "9": { class_type: "SaveImage", inputs: { filename_prefix: "bench", images: ["8", 0] } },
  };
}

let seed = 0;
async function oneJob(size: number): Promise<{ overheadMs: number; emulatorMs: number; bytes: number }> {
  const started = performance.now();
  const res = await fetch(`${worker.url}/runsync`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ input: { workflow: workflow(++seed, size) } }),
  });
  const body = (await res.json()) as { status: string; output: { prompt_id: string; images: Array<{ data: string }> } };
  const roundTrip = performance.now() - started;
  if (body.status !== "COMPLETED") throw new Error(`job failed: ${JSON.stringify(body).slice(0, 500)}`);
  const history = (await (await fetch(`${worker.comfy.url}/history/${body.output.prompt_id}`)).json()) as Record<
    string,
    { status: { messages: Array<[string, { timestamp: number }]> } }
  >;
  const messages = history[body.output.prompt_id]?.status.messages ?? [];
  const at = (name: string) => messages.find(([event]) => event === name)?.[1].timestamp ?? 0;
  const emulatorMs = at("execution_success") - at("execution_start");
  const bytes = Buffer.from(body.output.images[0]?.data ?? "", "base64").length;
  return { overheadMs: roundTrip - emulatorMs, emulatorMs, bytes };
}

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

async function phase(name: string, size: number, jobs: number): Promise<void> {
  for (let i = 0; i < 5; i++) await oneJob(size); // warm-up
  const runs = [];
  for (let i = 0; i < jobs; i++) runs.push(await oneJob(size));
  const overhead = runs.map((r) => r.overheadMs).sort((a, b) => a - b);
  const emulator = runs.map((r) => r.emulatorMs).sort((a, b) => a - b);
  console.log(
    `${name.padEnd(14)} output ${(runs[0]?.bytes ?? 0) / 1e6} MB  overhead p50 ${pct(overhead, 50).toFixed(1)} ms  p99 ${pct(overhead, 99).toFixed(1)} ms` +
      `  | emulator's own time p50 ${pct(emulator, 50).toFixed(1)} ms  (overhead/emulator p50 ${(pct(overhead, 50) / Math.max(0.001, pct(emulator, 50))).toFixed(2)}x)`,
  );
}

try {
  console.log(`per-job overhead over ${JOBS} jobs each (round trip minus the emulator's execution time):`);
  await phase("small (512px)", 512, JOBS);
  await phase("~4 MB (3072px)", 3072, Math.max(10, Math.floor(JOBS / 4)));
  const rss = () => process.memoryUsage().rss / 1e6;
  const start = rss();
  let peak = start;
  for (let i = 1; i <= RSS_JOBS; i++) {
    await oneJob(64);
    peak = Math.max(peak, rss());
    if (i % 250 === 0) console.log(`  after ${i} jobs: RSS ${rss().toFixed(0)} MB`);
  }
  Bun.gc(true);
  console.log(
    `RSS over ${RSS_JOBS} sequential jobs: start ${start.toFixed(0)} MB, peak ${peak.toFixed(0)} MB, end (after GC) ${rss().toFixed(0)} MB`,
  );
} finally {
  await worker.stop();
}
