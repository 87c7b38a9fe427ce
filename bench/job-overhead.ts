// Per-job overhead of the worker against a bare ComfyUI client (bench/_bare-client.ts), measured in the same
// run on the same emulator process, series interleaved job by job. The worker is the compiled binary in its own
// process, attached to the emulator (COMFY_URL). Prints p50/p99 of both and the difference for serve /runsync
// (small and ~3 MB outputs), serve --mode runpod (take → done against a local RunPod job server) and `run`;
// the first job after start apart; RSS and CPU per job of the worker process; ComfyUI's idle gap between
// prompts (execution_success → next execution_start in /history) and throughput with 1 and 2 clients.
// With --soak N it also runs N small jobs through one worker (/runsync, then /run + /status-sync on a fresh one) and
// prints the low and high edge of its RSS over the 500 jobs before job 1,000 and before job N (_soak.ts).
// Run: node_modules/.bin/bun bench/job-overhead.ts [--jobs 100] [--large 200] [--soak 10000]   (builds dist/ when stale)
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startFakeRunpod } from "../test/helpers/fake-runpod.ts";
import { BareClient } from "./_bare-client.ts";
import { cpuMs, rssMiB, type Spawned, sampleRss, spawnEmulator, spawnWorker, waitFor } from "./_processes.ts";
import { runThenStatus, soakPhase } from "./_soak.ts";
import { compare, executionMs, idleGaps, pct } from "./_stats.ts";
import { benchWorkflow } from "./_workflow.ts";

const { values } = parseArgs({
  options: { jobs: { type: "string", default: "100" }, large: { type: "string" }, soak: { type: "string" } },
});
const JOBS = Number(values.jobs);
const SOAK_JOBS = Number(values.soak ?? 0);
const LARGE_JOBS = Number(values.large ?? Math.max(6, Math.round(JOBS / 5)));
// the worker's idle-time garbage collection runs 1 s after the last job; RSS is read again after this
const REST_MS = 2_000;
const SETTLE_MS = 500;
// a process start swings by several ms on a busy machine: enough pairs for the p50 to hold still
const RUN_JOBS = 30;
const FIRST_JOB_STARTS = 7;
const PAUSE_MS = 300;
const THROUGHPUT_JOBS = 40;
// a 2600 px gradient PNG from the emulator is about 3 MB; two per job
const LARGE_SIDE = 2600;
const SLOW_NODE_MS = 5;

const workflow = benchWorkflow;

let seed = 0;
const small = () => workflow(++seed, 64, 1);
const large = () => workflow(++seed, LARGE_SIDE, 2);

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await fn();
  return { ms: performance.now() - started, value };
}

async function runsync(worker: Spawned, wf: unknown): Promise<string> {
  const res = await fetch(`${worker.url}/runsync`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ input: { workflow: wf } }),
  });
  const body = (await res.json()) as { status: string; output?: { prompt_id: string } };
  if (body.status !== "COMPLETED") throw new Error(`job failed: ${JSON.stringify(body).slice(0, 400)}`);
  return body.output?.prompt_id ?? "";
}

/**
 * Interleaved series: pair i runs bare then worker when i is even, worker then bare when odd. With `comfyUrl`,
 * each job's own execution in ComfyUI (from /history) is also subtracted (`*Outside`): the emulator's time to
 * encode a large PNG varies far more on a busy machine than the difference being measured.
 */
async function series(
  n: number,
  bare: () => Promise<{ promptId: string } | string>,
  subject: () => Promise<{ promptId: string } | string>,
  comfyUrl?: string,
) {
  const out = {
    bare: [] as number[],
    subject: [] as number[],
    bareOutside: [] as number[],
    subjectOutside: [] as number[],
  };
  const one = async (fn: typeof bare, all: number[], outside: number[]) => {
    const { ms, value } = await timed(fn);
    all.push(ms);
    if (comfyUrl) outside.push(ms - (await executionMs(comfyUrl, typeof value === "string" ? value : value.promptId)));
  };
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) await one(bare, out.bare, out.bareOutside);
    await one(subject, out.subject, out.subjectOutside);
    if (i % 2 === 1) await one(bare, out.bare, out.bareOutside);
  }
  return out;
}

/**
 * The first job after ready against the next five, over FIRST_JOB_STARTS fresh workers (one sample per start is
 * mostly noise on a shared machine); the emulator's own first prompt is paid by the bare client beforehand. A job
 * that follows a pause is slower than one right after another (cold caches in both processes: a bare client pays
 * about 1 ms of it too), so every one of these jobs comes PAUSE_MS after the last, and "first" is then first use
 * alone. The next five back to back are printed beside them.
 */
async function firstJobPhase(comfyUrl: string, bare: BareClient) {
  await bare.run(small());
  const first: number[] = [];
  const paused: number[] = [];
  const hot: number[] = [];
  for (let start = 0; start < FIRST_JOB_STARTS; start++) {
    const worker = await spawnWorker(comfyUrl, { CONCURRENCY: "2" });
    try {
      await Bun.sleep(PAUSE_MS);
      first.push((await timed(() => runsync(worker, small()))).ms);
      for (let i = 0; i < 5; i++) {
        await Bun.sleep(PAUSE_MS);
        paused.push((await timed(() => runsync(worker, small()))).ms);
      }
      for (let i = 0; i < 5; i++) hot.push((await timed(() => runsync(worker, small()))).ms);
    } finally {
      await worker.stop();
    }
  }
  console.log(
    `first job after ready      median of ${FIRST_JOB_STARTS} starts, each job ${PAUSE_MS} ms after the last: ` +
      `first ${pct(first, 50).toFixed(1)} ms, its next five ${pct(paused, 50).toFixed(1)} ms ` +
      `(back to back ${pct(hot, 50).toFixed(1)} ms; first of each: ${first.map((ms) => ms.toFixed(1)).join(", ")})`,
  );
}

async function apiPhase(comfyUrl: string, bare: BareClient, rss: number[]) {
  await firstJobPhase(comfyUrl, bare);
  const worker = await spawnWorker(comfyUrl, { CONCURRENCY: "2" });
  try {
    const pid = worker.proc.pid;
    rss.push(await rssMiB(pid));
    const cpu0 = await cpuMs(pid);
    const s = await series(
      JOBS,
      () => bare.run(small()),
      () => runsync(worker, small()),
      comfyUrl,
    );
    const cpuSmall = ((await cpuMs(pid)) - cpu0) / JOBS;
    rss.push(await rssMiB(pid));
    console.log(compare("serve /runsync, small", s.subject, s.bare));
    console.log(compare("  outside ComfyUI's run", s.subjectOutside, s.bareOutside));
    const cpu1 = await cpuMs(pid);
    const peak = sampleRss(pid);
    const l = await series(
      LARGE_JOBS,
      () => bare.run(large()),
      () => runsync(worker, large()),
      comfyUrl,
    );
    const cpuLarge = ((await cpuMs(pid)) - cpu1) / LARGE_JOBS;
    rss.push(await rssMiB(pid));
    // a /runsync result moves to disk 200 ms after its answer went out (then its memory can be collected)
    await Bun.sleep(SETTLE_MS);
    rss.push(await rssMiB(pid));
    await Bun.sleep(REST_MS - SETTLE_MS);
    rss.push(await rssMiB(pid));
    const peakMiB = await peak.stop();
    const bytes = (await bare.run(large())).bytes;
    console.log(compare(`serve /runsync, 2 × ${(bytes / 2 / 1e6).toFixed(1)} MB`, l.subject, l.bare));
    console.log(compare("  outside ComfyUI's run", l.subjectOutside, l.bareOutside));
    console.log(`CPU per job (worker)       small ${cpuSmall.toFixed(1)} ms, large ${cpuLarge.toFixed(1)} ms`);
    console.log(
      `worker RSS                 ${rss.map((r) => r.toFixed(0)).join(" → ")} MiB (ready, after small, after large, ` +
        `${SETTLE_MS} ms and ${REST_MS / 1000} s later); peak during the large jobs ${peakMiB.toFixed(0)} MiB`,
    );
  } finally {
    await worker.stop();
  }
}

async function runpodPhase(comfyUrl: string, bare: BareClient) {
  const fake = startFakeRunpod({ holdMs: 5_000 });
  const worker = await spawnWorker(comfyUrl, { ...fake.env(), SERVE_MODE: "runpod" });
  let n = 0;
  const job = async () => {
    const id = `bench-${++n}`;
    const started = performance.now();
    fake.enqueue({ id, input: { workflow: small() } });
    while (fake.results(id).length === 0) await Bun.sleep(1);
    const ms = performance.now() - started;
    const done = fake.results(id)[0]?.json;
    if (done?.error || !done?.output) throw new Error(`RunPod job ${id} failed: ${String(done?.error).slice(0, 300)}`);
    return ms;
  };
  try {
    await waitFor(async () => fake.of("take").length > 0, "RunPod worker's first take", worker.proc);
    const first = await job();
    console.log(`runpod first job           worker ${first.toFixed(1)} ms (enqueue → done)`);
    for (let i = 0; i < 5; i++) await job();
    const b: number[] = [];
    const s: number[] = [];
    for (let i = 0; i < JOBS; i++) {
      b.push((await timed(() => bare.run(small()))).ms);
      s.push(await job());
    }
    // the loop notices a done by polling every 1 ms, which adds about 0.5 ms on average
    console.log(compare("serve --mode runpod, small", s, b));
  } finally {
    await worker.stop();
    await fake.close();
  }
}

/**
 * `run` is a process per workflow, so its reference is one too: the bare client compiled by the same Bun into
 * its own binary (bench/_bare-run.ts), one prompt from the same file, its outputs written to a folder.
 */
async function runPhase(comfyUrl: string) {
  const { BINARY } = await import("../test/helpers/binary.ts");
  const dir = mkdtempSync(join(tmpdir(), "cw-bench-run-"));
  const bareBinary = join(dir, "bare-run");
  const built = await Bun.build({
    entrypoints: [join(import.meta.dir, "_bare-run.ts")],
    compile: { outfile: bareBinary },
    minify: true,
    bytecode: true,
  });
  if (!built.success) throw new Error(`bench: cannot compile the bare run client: ${built.logs.join("; ")}`);
  const file = join(dir, "wf.json");
  const env = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "/tmp",
    COMFY_URL: comfyUrl,
    LOG_LEVEL: "error",
  };
  const spawn = async (argv: string[]) => {
    const proc = Bun.spawn(argv, { env, stdout: "ignore", stderr: "ignore", cwd: dir });
    if ((await proc.exited) !== 0) throw new Error(`${argv.join(" ")} failed`);
  };
  // timed on its own: inside the run series it would be counted as part of the run
  const version: number[] = [];
  for (let i = 0; i < RUN_JOBS; i++) version.push((await timed(() => spawn([BINARY, "--version"]))).ms);
  const s = await series(
    RUN_JOBS,
    async () => {
      await Bun.write(file, JSON.stringify(small()));
      await spawn([bareBinary, file, join(dir, "bare-out")]);
      return "";
    },
    async () => {
      await Bun.write(file, JSON.stringify(small()));
      await spawn([BINARY, "run", file, "--out", join(dir, "out")]);
      return "";
    },
  );
  console.log(compare("run vs a bare process", s.subject, s.bare));
  console.log(`  process start alone       comfy-worker --version takes p50 ${pct(version, 50).toFixed(1)} ms`);
}

async function throughputPhase(bare: BareClient, comfyUrl: string, worker: Spawned) {
  for (const clients of [1, 2]) {
    for (const [name, one] of [
      ["bare", async () => (await bare.run(small())).promptId],
      ["worker", () => runsync(worker, small())],
    ] as const) {
      const ids: string[] = [];
      const started = performance.now();
      const loop = async () => {
        for (let i = 0; i < THROUGHPUT_JOBS / clients; i++) ids.push(await one());
      };
      await Promise.all(Array.from({ length: clients }, loop));
      const wall = (performance.now() - started) / 1000;
      const g = await idleGaps(comfyUrl, ids);
      console.log(
        `${clients} client(s), ${name.padEnd(6)}      ComfyUI idle gap p50 ${g.gapP50.toFixed(1)} ms, p90 ${g.gapP90.toFixed(1)} ms; ` +
          `${g.perSecond.toFixed(1)} prompts/s in ComfyUI, ${(ids.length / wall).toFixed(1)} jobs/s end to end`,
      );
    }
  }
}

const fast = await spawnEmulator(0);
const slow = await spawnEmulator(SLOW_NODE_MS);
const bareFast = await BareClient.open(fast.url);
const bareSlow = await BareClient.open(slow.url);
try {
  console.log(`per-job latency, ${JOBS} small and ${LARGE_JOBS} large jobs, interleaved with a bare client:`);
  await apiPhase(fast.url, bareFast, []);
  await runpodPhase(fast.url, bareFast);
  await runPhase(fast.url);
  if (SOAK_JOBS > 0) {
    await soakPhase(fast.url, SOAK_JOBS, (worker) => runsync(worker, small()), "/runsync");
    await soakPhase(fast.url, SOAK_JOBS, (worker) => runThenStatus(worker, small()), "/run + /status-sync");
  }
  console.log(`pipelining: emulator with --node-ms ${SLOW_NODE_MS}, worker CONCURRENCY=2, ${THROUGHPUT_JOBS} jobs`);
  const worker = await spawnWorker(slow.url, { CONCURRENCY: "2" });
  try {
    await throughputPhase(bareSlow, slow.url, worker);
  } finally {
    await worker.stop();
  }
} finally {
  bareFast.close();
  bareSlow.close();
  await fast.stop();
  await slow.stop();
}
