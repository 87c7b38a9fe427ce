/**
 * A job's progress stream for /stream: chunks are pushed while it runs, each handed out once, and a settled job
 * keeps its unread ones as one JSON string (job-retention.ts packs them).
 */
import type { JobProgress } from "../jobs/pipeline.ts";
import type { JobPreview } from "../jobs/previews.ts";

/** What the stream needs of a job record. */
export interface StreamedJob {
  /** Progress chunks not yet taken by /stream. */
  stream: JobProgress[];
  /** Once the job settled: its chunks not yet taken, as JSON text. */
  streamText?: string;
  /** The latest chunk, for /status while the job runs. */
  progress?: JobProgress;
}

/** A progress chunk: the job's latest progress, and the next unread chunk. */
export function pushProgress(job: StreamedJob, progress: JobProgress): void {
  job.progress = progress;
  job.stream.push(progress);
}

/** A live preview rides on a copy of the latest progress; at most one waits for a slow reader (the newest). */
export function pushPreview(job: StreamedJob, preview: JobPreview): void {
  const waiting = job.stream.findIndex((chunk) => chunk.preview !== undefined);
  if (waiting >= 0) job.stream.splice(waiting, 1);
  job.stream.push({ ...(job.progress ?? { node: preview.node ?? "", value: 0, max: 0, percent: 0 }), preview });
}

/**
 * Keeps the unread chunks as one string (only the last with `lastOnly`; chunks are cumulative). Their objects,
 * made one by one during the job among its garbage, would each keep a heap block alive (10,000 /runsync jobs:
 * 9 MiB more resident while a minute of results was kept).
 */
export function packStream(job: StreamedJob, lastOnly: boolean): void {
  if (job.stream.length === 0) return;
  job.streamText = JSON.stringify(lastOnly ? job.stream.slice(-1) : job.stream);
  job.stream = [];
}

/** The unread chunks, oldest first; delivered chunks are never sent again, so they are not kept. */
export function takeStream(job: StreamedJob): JobProgress[] {
  const packed = job.streamText === undefined ? [] : (JSON.parse(job.streamText) as JobProgress[]);
  job.streamText = undefined;
  return [...packed, ...job.stream.splice(0)];
}
