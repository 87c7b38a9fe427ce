import type { Config } from "../config.ts";
import { WorkerError } from "../errors.ts";
import { describeFailure, type JobFailure } from "../jobs/failure.ts";
import type { JobProgress } from "../jobs/pipeline.ts";
import type { JobPreview } from "../jobs/previews.ts";
import type { FailureDetails } from "../jobs/schema.ts";
import { secondsToTimerMs } from "../lib/time.ts";
import type { Logger } from "../log.ts";
import type { RunpodClient } from "../runpod/client.ts";
import type { JobOutcome } from "../runpod/result.ts";
import type { RunpodJob } from "../runpod/schemas.ts";
import { type JobRunner, type RunnerHooks, RunpodWorker, type WorkerTiming } from "../runpod/worker.ts";
import { type JobRecord, JobStore } from "../server/job-store.ts";
import type { Metrics } from "../server/metrics.ts";
import type { JobRequest } from "../server/schemas.ts";

/** Runs one taken job: the job pipeline in `serve`, a stub in loop tests. */
export type RunpodExecute = (
  job: RunpodJob,
  run: {
    signal: AbortSignal;
    onProgress: (progress: JobProgress) => void;
    onPreview: (preview: JobPreview) => Promise<void>;
  },
) => Promise<unknown>;

export interface RunpodServiceOptions {
  config: Pick<
    Config,
    | "CONCURRENCY"
    | "JOB_TIMEOUT_S"
    | "REFRESH_WORKER"
    | "SHUTDOWN_GRACE_S"
    | "RUNPOD_PING_INTERVAL"
    | "RUNPOD_POD_ID"
    | "RUNPOD_POD_HOSTNAME"
    | "redactor"
  >;
  client: RunpodClient;
  execute: RunpodExecute;
  /** ComfyUI's last log lines for failure details. */
  logs: (lines: number) => string[];
  /** The failure report; default: describeFailure with `logs`. `serve` passes windowedFailures (this job's lines only). */
  fail?: (error: unknown, job: JobRecord) => JobFailure;
  log: Logger;
  metrics?: Metrics;
  timing?: Partial<WorkerTiming>;
  /** Gates every take (see RunpodWorkerOptions.ready): ComfyUI ready, restarting, or failed for good. */
  ready?: (signal: AbortSignal) => Promise<void>;
  /** Jobs at once when it changes (a multi-GPU worker's healthy instances); default CONCURRENCY. */
  concurrency?: () => number;
}

/**
 * The RunPod loop over the same JobStore the HTTP API uses, so CONCURRENCY, JOB_TIMEOUT_S, cancellation,
 * the drain on SIGTERM and the /health counts behave alike in both modes. Results are kept for no time:
 * nobody asks this worker for them, they are posted to the platform.
 */
export function createRunpodService(options: RunpodServiceOptions): { worker: RunpodWorker; store: JobStore } {
  let store: JobStore | undefined;
  const createRunner = (hooks: RunnerHooks): JobRunner => {
    const runner = _storeRunner(options, hooks);
    store = runner.store;
    return runner;
  };
  const { client, config, log, timing, ready, concurrency } = options;
  const worker = new RunpodWorker({
    client,
    createRunner,
    config,
    log,
    timing,
    ready,
    ...(concurrency ? { concurrency } : {}),
  });
  if (!store) throw new WorkerError("E_INTERNAL", "the RunPod worker did not create its job store");
  return { worker, store };
}

function _storeRunner(options: RunpodServiceOptions, hooks: RunnerHooks): JobRunner & { store: JobStore } {
  const { config } = options;
  const taken = new Map<string, RunpodJob>();
  const store = new JobStore({
    concurrency: options.concurrency ?? config.CONCURRENCY,
    resultTtlMs: 0,
    timeoutMs: secondsToTimerMs(config.JOB_TIMEOUT_S),
    workerId: config.RUNPOD_POD_ID,
    execute: (record, execution) => {
      let last: JobProgress | undefined;
      return options.execute(taken.get(record.id) ?? { id: record.id, input: record.request.input }, {
        signal: execution.signal,
        onProgress: (progress) => {
          last = progress;
          hooks.progress(record.id, progress);
        },
        // a preview chunk repeats the latest progress, so a client reading only the stream still sees the node
        onPreview: (preview) =>
          hooks.preview(record.id, {
            ...(last ?? { node: preview.node ?? "", value: 0, max: 0, percent: 0 }),
            preview,
          }),
      });
    },
    fail: options.fail ?? ((error) => describeFailure(error, options.logs, config.redactor)),
    onFinish: (record) => {
      taken.delete(record.id);
      options.metrics?.jobFinished(record.status, _seconds(record));
      hooks.finished(record.id, _outcome(record));
    },
  });
  return {
    store,
    submit: (job) => {
      taken.set(job.id, job);
      // the store carries only `input`; `execute` reads the whole job (s3Config, …) from `taken`
      store.submit({ input: job.input } as JobRequest, job.id);
    },
    busy: () => store.inQueue() + store.inProgress().length,
    cancel: (id) => void store.cancel(id),
    drain: (graceMs) => store.drain(graceMs),
  };
}

function _outcome(record: JobRecord): JobOutcome {
  if (record.status === "COMPLETED") return { status: "COMPLETED", output: record.output };
  const details = (record.output as { details?: FailureDetails } | undefined)?.details;
  return {
    status: record.status === "IN_QUEUE" || record.status === "IN_PROGRESS" ? "FAILED" : record.status,
    error: record.error ?? "the job ended without a result",
    // a queued job dropped by the drain never ran, so it has no failure details of its own
    details: details ?? { code: "E_JOB_CANCELLED", last_log_lines: [] },
  };
}

function _seconds(record: JobRecord): number {
  return ((record.finishedAt ?? 0) - (record.startedAt ?? record.createdAt)) / 1000;
}
