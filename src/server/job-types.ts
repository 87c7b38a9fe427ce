import type { JobFailure } from "../jobs/failure.ts";
import type { JobProgress } from "../jobs/pipeline.ts";
import type { JobPreview } from "../jobs/previews.ts";
import type { StreamedJob } from "./job-stream.ts";
import type { ResultFiles, SpilledFile } from "./result-files.ts";
import type { JobRequest } from "./schemas.ts";

export type JobStatus = "IN_QUEUE" | "IN_PROGRESS" | "COMPLETED" | "FAILED" | "CANCELLED" | "TIMED_OUT";
export const TERMINAL_STATUSES: ReadonlySet<JobStatus> = new Set(["COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"]);
/** The statuses /retry re-runs (and whose input is kept for it). */
export const RETRYABLE: ReadonlySet<string> = new Set(["FAILED", "TIMED_OUT"]);
/** What a retried job forgets of its last run (its `stream` starts anew too). */
export const RETRY_RESET = Object.freeze({
  status: "IN_QUEUE" as JobStatus,
  output: undefined,
  error: undefined,
  startedAt: undefined,
  finishedAt: undefined,
  progress: undefined,
  streamText: undefined,
});

/** A job of the store; its progress stream (`stream`, `streamText`, `progress`) is handled in job-stream.ts. */
export interface JobRecord extends StreamedJob {
  id: string;
  status: JobStatus;
  request: JobRequest;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  output?: unknown;
  error?: string;
  controller?: AbortController;
  /** Absolute time (ms) after which the job is forgotten (policy.ttl, or RESULT_TTL_S after finishing). */
  expiresAt: number;
  /** A /runsync call is waiting for this job: its result stays in memory until returned. */
  sync?: boolean;
  /** A finished job's large output, moved to disk (`output` is then undefined). */
  outputFile?: SpilledFile;
  /** A failed job's input, moved to disk for /retry. */
  inputFile?: SpilledFile;
  /** JSON length of an output kept in memory, counted against the in-memory budget (job-retention.ts). */
  keptBytes?: number;
}

/** A job as RunPod's `/status` shows it. */
export interface JobView {
  id: string;
  status: JobStatus;
  delayTime?: number;
  executionTime?: number;
  output?: unknown;
  error?: string;
  workerId?: string;
}

/** RunPod's status object for a job. */
export function jobView(job: JobRecord, workerId?: string): JobView {
  const view: JobView = { id: job.id, status: job.status };
  if (job.startedAt) view.delayTime = job.startedAt - job.createdAt;
  if (job.startedAt && job.finishedAt) view.executionTime = job.finishedAt - job.startedAt;
  if (job.output !== undefined) view.output = job.output;
  else if (job.status === "IN_PROGRESS" && job.progress) view.output = job.progress;
  if (job.error !== undefined) view.error = job.error;
  if (workerId) view.workerId = workerId;
  return view;
}

export interface JobExecution {
  signal: AbortSignal;
  onProgress: (progress: JobProgress) => void;
  /** A live preview; it waits in the stream as the newest chunk's `preview`, replacing one not yet read. */
  onPreview: (preview: JobPreview) => void;
}

export interface JobStoreOptions {
  /** Jobs run at once; a function when it changes (a multi-GPU worker's healthy instances). */
  concurrency: number | (() => number);
  resultTtlMs: number;
  /** Default execution limit (JOB_TIMEOUT_S); 0 = none. A job's policy.executionTimeout wins. */
  timeoutMs: number;
  execute: (job: JobRecord, execution: JobExecution) => Promise<unknown>;
  /** The failure report for what a job threw; `job` gives its time window (startedAt) for log lines. */
  fail: (error: unknown, job: JobRecord) => JobFailure;
  onFinish?: (job: JobRecord) => void;
  workerId?: string;
  /** Queue jobs but start none until `resume()` (serve: preloads and warmup come first). */
  paused?: boolean;
  /** Where large finished outputs (and failed jobs' inputs) wait on disk; absent = memory (RunPod mode). */
  files?: ResultFiles;
  /** The clock (epoch ms) behind retention and expiry; tests move it instead of waiting. */
  now?: () => number;
}

// RunPod's default job lifespan when policy.ttl is absent
export const DEFAULT_TTL_MS = 86_400_000;

/** A job as it is queued: IN_QUEUE, kept until its policy's ttl (RunPod's default: a day). */
export function newJob(id: string, request: JobRequest, now: number, sync?: boolean): JobRecord {
  return {
    id,
    status: "IN_QUEUE",
    request,
    createdAt: now,
    stream: [],
    expiresAt: now + (request.policy?.ttl ?? DEFAULT_TTL_MS),
    ...(sync ? { sync: true } : {}),
  };
}
