// The soak of bench/job-overhead.ts (--soak N): N small jobs one after another through one worker, its RSS at
// job 1,000 and after the last one (and 2 s later, once it has been idle), and CPU per job.
import { cpuMs, rssMiB, type Spawned, spawnWorker } from "./_processes.ts";

const SOAK_FIRST = 1_000;
const REST_MS = 2_000;

export async function soakPhase(comfyUrl: string, jobs: number, runOne: (worker: Spawned) => Promise<unknown>) {
  const worker = await spawnWorker(comfyUrl);
  try {
    const pid = worker.proc.pid;
    let atFirst = 0;
    const cpu0 = await cpuMs(pid);
    if (jobs <= SOAK_FIRST) throw new Error(`--soak must be more than ${SOAK_FIRST} jobs`);
    for (let i = 1; i <= jobs; i++) {
      await runOne(worker);
      if (i === SOAK_FIRST) atFirst = await rssMiB(pid);
    }
    const atLast = await rssMiB(pid);
    const cpu = ((await cpuMs(pid)) - cpu0) / jobs;
    await Bun.sleep(REST_MS);
    const rested = await rssMiB(pid);
    const change = (((atLast - atFirst) / atFirst) * 100).toFixed(1);
    console.log(
      `soak: ${jobs} small jobs     worker RSS at job ${SOAK_FIRST} ${atFirst.toFixed(1)} MiB, at job ${jobs} ` +
        `${atLast.toFixed(1)} MiB (${change}%), ${REST_MS / 1000} s later ${rested.toFixed(1)} MiB; CPU per job ${cpu.toFixed(1)} ms`,
    );
  } finally {
    await worker.stop();
  }
}
