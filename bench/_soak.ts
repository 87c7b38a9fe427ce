// The soaks of bench/job-overhead.ts (--soak N): N small jobs one after another through one worker (/runsync, then
// /run followed by /status-sync, a fresh worker each). RSS is read
// every SAMPLE_EVERY jobs; a garbage-collected heap saws up and down between collections, so one reading says
// more about where in that cycle it fell than about the memory kept. The report gives both edges of the last
// WINDOW jobs before job 1,000 and before job N (low = what survives a collection, high = the peak), 2 s after
// the last job, and CPU per job. RssAnon is the process's own memory; the rest is the binary's shared pages.
import { cpuMs, memoryMiB, type Spawned, spawnWorker } from "./_processes.ts";

const SOAK_FIRST = 1_000;
const WINDOW = 500;
const SAMPLE_EVERY = 25;
const REST_MS = 2_000;
// a /run job of the soak is polled at most this often (5 s each) before the bench gives up
const MAX_STATUS_POLLS = 100;

type Memory = Awaited<ReturnType<typeof memoryMiB>>;

function edges(samples: Memory[]): { low: Memory; high: Memory } {
  const by = (pick: (a: number, b: number) => number, key: keyof Memory) =>
    samples.map((s) => s[key]).reduce((a, b) => pick(a, b));
  return {
    low: { rss: by(Math.min, "rss"), anon: by(Math.min, "anon") },
    high: { rss: by(Math.max, "rss"), anon: by(Math.max, "anon") },
  };
}

const mib = (m: Memory) => `${m.rss.toFixed(1)} MiB (own ${m.anon.toFixed(1)})`;
const change = (from: number, to: number) => `${(((to - from) / from) * 100).toFixed(1)}%`;

export async function soakPhase(
  comfyUrl: string,
  jobs: number,
  runOne: (worker: Spawned) => Promise<unknown>,
  label: string,
) {
  if (jobs < SOAK_FIRST + WINDOW) throw new Error(`--soak must be at least ${SOAK_FIRST + WINDOW} jobs`);
  const worker = await spawnWorker(comfyUrl);
  try {
    const pid = worker.proc.pid;
    const early: Memory[] = [];
    const late: Memory[] = [];
    const cpu0 = await cpuMs(pid);
    for (let i = 1; i <= jobs; i++) {
      await runOne(worker);
      if (i % SAMPLE_EVERY !== 0) continue;
      if (i > SOAK_FIRST - WINDOW && i <= SOAK_FIRST) early.push(await memoryMiB(pid));
      if (i > jobs - WINDOW) late.push(await memoryMiB(pid));
    }
    const cpu = ((await cpuMs(pid)) - cpu0) / jobs;
    await Bun.sleep(REST_MS);
    const rested = await memoryMiB(pid);
    const a = edges(early);
    const b = edges(late);
    console.log(
      `soak: ${jobs} small jobs, ${label}: RSS over jobs ${SOAK_FIRST - WINDOW}–${SOAK_FIRST}: low ${mib(a.low)}, high ${mib(a.high)}; ` +
        `over jobs ${jobs - WINDOW}–${jobs}: low ${mib(b.low)} (${change(a.low.rss, b.low.rss)}), high ${mib(b.high)} ` +
        `(${change(a.high.rss, b.high.rss)}); ${REST_MS / 1000} s after the last job ${mib(rested)}; CPU per job ${cpu.toFixed(1)} ms`,
    );
  } finally {
    await worker.stop();
  }
}

// a /run client: submit, then long-poll /status-sync until the job is done (its result is kept RESULT_TTL_S)
export async function runThenStatus(worker: Spawned, wf: unknown): Promise<void> {
  const submitted = await fetch(`${worker.url}/run`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ input: { workflow: wf } }),
  });
  const { id } = (await submitted.json()) as { id: string };
  for (let poll = 0; poll < MAX_STATUS_POLLS; poll++) {
    const status = (await (await fetch(`${worker.url}/status-sync/${id}?wait=5000`)).json()) as { status: string };
    if (status.status === "COMPLETED") return;
    if (status.status !== "IN_QUEUE" && status.status !== "IN_PROGRESS") throw new Error(`job ${id}: ${status.status}`);
  }
  throw new Error(`job ${id} did not finish within ${MAX_STATUS_POLLS} polls`);
}
