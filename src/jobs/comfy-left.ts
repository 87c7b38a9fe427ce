/**
 * A job's view of its ComfyUI going away mid-run (an exit, a hang): the job fails at once, and a prompt an attached
 * ComfyUI still holds is taken out when it answers again.
 */
import { cancelPrompt } from "../comfy/cancel-prompt.ts";
import { WorkerError } from "../errors.ts";
import type { JobDeps } from "./pipeline.ts";

/** Aborts (and `failed` rejects) when ComfyUI exits or hangs while the job runs. */
export function watchComfy(deps: JobDeps): { signal: AbortSignal; failed: Promise<never>; dispose: () => void } {
  const left = new AbortController();
  const failed = new Promise<never>((_, reject) => {
    left.signal.addEventListener("abort", () => reject(left.signal.reason), { once: true });
  });
  failed.catch(() => {});
  const dispose = deps.comfy.onExit((exit) => {
    const how = exit.reason === "hang" ? "stopped responding" : `exited (code ${exit.code ?? exit.signal})`;
    // an attached ComfyUI is not ours to restart: the worker waits for it to answer again
    const next = deps.comfy.supervised ? "it is being restarted" : "jobs wait until it answers again";
    left.abort(
      new WorkerError("E_JOB_FAILED", `ComfyUI ${how} while running this job; ${next}`, {
        // heard once its output has been read to the end: the lines that can be this job's end here
        details: { last_log_lines: exit.lastLines, comfy_exited_at: Date.now() },
      }),
    );
  });
  return { signal: left.signal, failed, dispose };
}

/**
 * A hung attached ComfyUI keeps the prompt of the job that failed on it, and would run it (ahead of the next job)
 * once it answers again: it is taken out then. A restarted, supervised one has lost it anyway.
 */
export function cancelWhenBack(deps: JobDeps, promptId: string): void {
  void deps.comfy
    .waitReady()
    .then(() => cancelPrompt(deps.client, promptId))
    .then((outcome) => {
      if (outcome !== "gone") deps.log.info(`ComfyUI answers again: took out prompt ${promptId} of a failed job`);
    })
    .catch(() => {});
}
