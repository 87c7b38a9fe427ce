import { describeFailure } from "../jobs/failure.ts";
import { PRIME_PROMPT } from "../jobs/prime-comfy.ts";
import type { JobOutput } from "../jobs/schema.ts";
import { Redactor } from "../lib/redact.ts";
import { type AppDeps, createApp } from "./app.ts";
import { JobStore } from "./job-store.ts";

// the warm-up job of jobs/prime.ts runs the job pipeline this often, for the same reason: the JIT compiles a
// function only after it ran a number of times
const RUNS = 8;
// what the throwaway store's jobs answer: the shape of a real result, with a 1×1 PNG
const OUTPUT: JobOutput = {
  images: [
    {
      filename: "comfy-worker-prime.png",
      subfolder: "",
      node_id: "2",
      type: "base64",
      mime: "image/png",
      data: "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
    },
  ],
  videos: [],
  audio: [],
  files: [],
  text: [],
  prompt_id: "comfy-worker-warm-up",
  timings: { validate_ms: 0, queue_ms: 0, execution_ms: 0, collect_ms: 0, upload_ms: 0, total_ms: 0 },
};

/**
 * The HTTP job path's first runs, in-process before the worker is ready: routing, auth, the body limit, the
 * request schema on a real workflow, the store's submit → run → finish → answer, `/status` and the refused-body
 * error path. They go through a second app over a throwaway store whose jobs answer at once, so the worker's own
 * store, metrics, logs and ComfyUI see none of them; the code they run is the same, and so is what the JIT made
 * of it. Without this the first real job ran 1–2 ms slower than the next (bench/job-overhead.ts). Resolves how
 * many of the throwaway jobs completed.
 */
export async function primeApp(deps: AppDeps): Promise<number> {
  const store = new JobStore({
    concurrency: 1,
    resultTtlMs: 60_000,
    timeoutMs: 0,
    execute: async () => OUTPUT,
    fail: (error) => describeFailure(error, () => [], new Redactor()),
  });
  const app = createApp({ ...deps, health: { ...deps.health, jobs: store } });
  const headers = {
    "content-type": "application/json",
    ...(deps.apiToken ? { authorization: `Bearer ${deps.apiToken}` } : {}),
  };
  const post = (path: string, body: string) =>
    app.fetch(new Request(`http://prime${path}`, { method: "POST", body, headers }));
  try {
    const body = JSON.stringify({ input: { workflow: PRIME_PROMPT } });
    for (let run = 0; run < RUNS; run++) {
      const { id } = (await (await post("/runsync", body)).json()) as { id: string };
      await (await app.fetch(new Request(`http://prime/status/${id}`, { headers }))).arrayBuffer();
    }
    await (await post("/runsync", '{"input":0}')).arrayBuffer();
    return store.counts.completed;
  } finally {
    await store.drain(0);
  }
}
