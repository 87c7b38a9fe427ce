import { isWorkerError, WorkerError } from "../errors.ts";
import { type JobDeps, runJob } from "../jobs/pipeline.ts";
import type { Logger } from "../log.ts";
import { loadWorkflowSource } from "../workflow/source.ts";

/**
 * Runs WARMUP_WORKFLOW (a path or URL) once through the normal job pipeline, after ComfyUI is ready and
 * before the worker takes jobs, so the first real job finds models loaded. A failure fails the start:
 * a worker that cannot run its own warmup would fail jobs the same way, and on RunPod a worker that exits
 * is replaced while one that reports "degraded" keeps being billed. The error keeps the job's code.
 */
export async function runWarmup(deps: JobDeps, source: string | undefined, log: Logger, signal: AbortSignal) {
  if (!source) return;
  const started = performance.now();
  log.info(`warmup: running ${source}`);
  try {
    const loaded = await loadWorkflowSource(source);
    // its outputs are thrown away, so the inline limit that protects responses doesn't apply
    const config = { ...deps.config, OUTPUT_INLINE_MAX_MB: Number.MAX_SAFE_INTEGER };
    const output = await runJob(
      { ...deps, config, upload: undefined },
      {
        id: `warmup-${crypto.randomUUID()}`,
        input: { workflow: loaded.api ?? loaded.ui },
        signal,
      },
    );
    const outputs = output.images.length + output.videos.length + output.audio.length + output.files.length;
    log.info(`warmup done in ${Math.round(performance.now() - started)} ms (${outputs} output file(s) discarded)`);
  } catch (error) {
    const code = isWorkerError(error) ? error.code : "E_INTERNAL";
    const reason = error instanceof Error ? error.message : String(error);
    throw new WorkerError(code, `WARMUP_WORKFLOW ${source} failed, so the worker does not start: ${reason}`, {
      cause: error,
      details: isWorkerError(error) ? error.details : {},
    });
  }
}
