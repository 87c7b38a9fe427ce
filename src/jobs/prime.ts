import { tmpdir } from "node:os";
import { createComfyClient } from "../comfy/client.ts";
import { createWeightsCheck } from "../weights/job-check.ts";
import { createRemoteSnapshots } from "../weights/remote-snapshot.ts";
import { createWeightsState } from "../weights/weight-state.ts";
import { type JobDeps, runJob } from "./pipeline.ts";
import { PRIME_PROMPT, startPrimeComfy } from "./prime-comfy.ts";

/** The warm-up job's id (it never reaches the user's ComfyUI; see prime-comfy.ts). */
const PRIME_JOB_ID = "comfy-worker-warm-up";
// the stand-in answers at once; this only bounds a machine too loaded to finish it
const PRIME_RUN_MS = 5_000;
// a 1×1 PNG: what the stand-in's /view serves
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
  "base64",
);

/**
 * One job through the whole job path (input and workflow schemas, submit, socket events, history, weights
 * check, output read, base64) against a stand-in ComfyUI on loopback, while the real one starts: each step's
 * first run costs from a fraction of a ms to ~15 ms for a schema's first use, which the first real job would
 * otherwise pay. Never fails the start; resolves true when the job completed.
 */
export async function primeJobRun(deps: Pick<JobDeps, "config" | "log" | "localFiles">): Promise<boolean> {
  const comfy = startPrimeComfy(PNG);
  const client = createComfyClient({ url: comfy.url });
  try {
    // the output is looked for in a folder first, as a supervised ComfyUI's are, and then read over /view:
    // nothing is written to disk, so a start that fails at once leaves nothing behind
    const dir = tmpdir();
    const local = deps.localFiles ? { localFiles: { output: dir, temp: dir, input: dir } } : {};
    const objectInfo = async () => comfy.objectInfo;
    // the same check a job gets, over the stand-in's listings and a /health state nobody reads
    const snapshots = createRemoteSnapshots(client);
    const checkWeights = createWeightsCheck({
      mode: "fail",
      snapshot: (lookups, options) => snapshots.snapshot(lookups, options),
      objectInfo,
      health: createWeightsState(),
      log: deps.log,
    });
    await runJob(
      { client, comfy: comfy.handle, config: deps.config, log: deps.log, objectInfo, checkWeights, ...local },
      {
        id: PRIME_JOB_ID,
        input: { workflow: PRIME_PROMPT, output: { include_temp: true } },
        signal: AbortSignal.timeout(PRIME_RUN_MS),
        onProgress: () => {},
      },
    );
    return true;
  } catch (error) {
    deps.log.debug("the warm-up job failed; the first job pays its first-use costs", { error: String(error) });
    return false;
  } finally {
    client.close();
    comfy.stop();
  }
}
