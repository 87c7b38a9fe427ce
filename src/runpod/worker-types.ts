import type { Config } from "../config.ts";
import type { JobProgress } from "../jobs/pipeline.ts";
import type { BackoffOptions } from "../lib/time.ts";
import type { Logger } from "../log.ts";
import type { RunpodClient } from "./client.ts";
import type { JobOutcome } from "./result.ts";
import type { RunpodJob } from "./schemas.ts";

/** Runs taken jobs (the composition hands in the job pipeline) and reports back through `RunnerHooks`. */
export interface JobRunner {
  submit(job: RunpodJob): void;
  /** Jobs queued or running. */
  busy(): number;
  /** Aborts a job's signal, which interrupts it in ComfyUI. */
  cancel(jobId: string): void;
  /** No new work; running jobs get `graceMs` to finish, then are cancelled. */
  drain(graceMs: number): Promise<void>;
}

export interface RunnerHooks {
  finished(jobId: string, outcome: JobOutcome): void;
  progress(jobId: string, progress: JobProgress): void;
  /** A live preview chunk, posted to job-stream (resolves when posted; the caller drops frames meanwhile). */
  preview(jobId: string, chunk: JobProgress): Promise<void>;
}

export interface WorkerTiming {
  /** Least time between takes that found nothing, in case a server answers at once instead of holding. */
  minTakeIntervalMs: number;
  /** Wait after a 429 on take or stop (§1.5). */
  throttledMs: number;
  /** Backoff after take errors; the SDK re-polls at once, a hot loop on persistent 5xx (§1.5, §1.17). */
  errorBackoff: BackoffOptions;
  stopEmptyMs: number;
  progressIntervalMs: number;
  /** Longest wait for results still being posted when the worker stops. */
  reportWaitMs: number;
}

export interface RunpodWorkerOptions {
  client: RunpodClient;
  createRunner: (hooks: RunnerHooks) => JobRunner;
  config: Pick<
    Config,
    | "CONCURRENCY"
    | "REFRESH_WORKER"
    | "SHUTDOWN_GRACE_S"
    | "RUNPOD_PING_INTERVAL"
    | "RUNPOD_POD_ID"
    | "RUNPOD_POD_HOSTNAME"
  >;
  log: Logger;
  timing?: Partial<WorkerTiming>;
  /**
   * Awaited before every take: resolves while jobs can run (ComfyUI ready), waits while they cannot yet
   * (ComfyUI restarting), rejects once they never can again (ComfyUI failed for good). Taking a job this
   * worker cannot run would fail it at once, and a dead worker would empty the endpoint's queue that way.
   */
  ready?: (signal: AbortSignal) => Promise<void>;
  /** Jobs held at once when it changes (a multi-GPU worker's healthy instances); default CONCURRENCY. */
  concurrency?: () => number;
}

/**
 * How the loop ended: REFRESH_WORKER finished its jobs, `stop()` (SIGTERM) drained them, or jobs can no
 * longer run here (`failure` says why) and the platform should replace this worker.
 */
export type WorkerEnd = "refresh" | "stopped" | "failed";

/** The SDK's timings, overridable in tests. */
export const DEFAULT_TIMING: WorkerTiming = {
  minTakeIntervalMs: 1_000,
  throttledMs: 5_000,
  errorBackoff: { initialMs: 1_000, maxMs: 30_000 },
  stopEmptyMs: 1_000,
  progressIntervalMs: 1_000,
  reportWaitMs: 60_000,
};
