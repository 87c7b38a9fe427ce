/**
 * A job's view of its ComfyUI going away mid-run (an exit, a hang): the job fails at once, and a prompt an attached
 * ComfyUI still holds is taken out when it answers again.
 */
import { cancelPrompt } from "../comfy/cancel-prompt.ts";
import { isWorkerError, WorkerError } from "../errors.ts";
import { delay } from "../lib/time.ts";
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

/**
 * Runs `send` (upload the inputs, queue and follow the prompt); when ComfyUI refused the connection before anything
 * of the prompt reached it (it had just gone, and the health probe has not said so yet), waits for it to be ready
 * again and sends once more, as a job still in the worker's queue would wait. Anything else is thrown as it is.
 */
export async function sendWhenReady<T>(deps: JobDeps, signal: AbortSignal, send: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (error) {
      if (!_notSent(error) || attempt >= NOT_SENT_TRIES || signal.aborted) throw error;
      deps.log.warn(
        `ComfyUI refused the connection before the job's prompt reached it; sending it again once it answers`,
      );
      // the health probe needs a moment to see ComfyUI gone; until then waitReady would return at once
      if (!(await delay(NOT_SENT_PAUSE_MS, signal))) throw error;
      await deps.comfy.waitReady(signal);
    }
  }
}

function _notSent(error: unknown): boolean {
  if (!isWorkerError(error) || error.details.not_sent !== true) return false;
  const request = String(error.details.request ?? "");
  return request === "POST /prompt" || request === "POST /upload/image";
}

const NOT_SENT_TRIES = 5;
const NOT_SENT_PAUSE_MS = 1_000;
