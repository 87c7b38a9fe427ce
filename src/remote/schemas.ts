import { z } from "zod";

/** Job statuses of RunPod's endpoint API (reference §4.4); `RUNNING` appears in older docs. */
export const RemoteJobStatus = z.enum([
  "IN_QUEUE",
  "IN_PROGRESS",
  "RUNNING",
  "COMPLETED",
  "FAILED",
  "CANCELLED",
  "TIMED_OUT",
]);
export type RemoteJobStatus = z.infer<typeof RemoteJobStatus>;

/** Statuses after which a job changes no more. */
export const TERMINAL: ReadonlySet<RemoteJobStatus> = new Set(["COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"]);

/** `POST /run` reply: the job id to follow. */
export const SubmitReply = z.looseObject({ id: z.string().min(1), status: RemoteJobStatus });
export type SubmitReply = z.infer<typeof SubmitReply>;

function _absentWhenNull<T extends z.ZodType>(schema: T) {
  return schema
    .nullish()
    .transform((value) => value ?? undefined)
    .optional();
}

/** `GET /status/{id}` (and webhook, runsync) reply. `output` is the progress value while IN_PROGRESS. */
export const StatusReply = z.looseObject({
  id: z.string(),
  status: RemoteJobStatus,
  // null while not known yet (seen from RunPod's API for a queued job): the same as absent
  /** ms in the queue, cold start included. */
  delayTime: _absentWhenNull(z.number()),
  /** ms running on the worker: what RunPod bills. */
  executionTime: _absentWhenNull(z.number()),
  output: z.unknown().optional(),
  error: z.unknown().optional(),
  workerId: _absentWhenNull(z.string()),
});
export type StatusReply = z.infer<typeof StatusReply>;

/** `GET /stream/{id}` reply: chunks not delivered before (each at most once). */
export const StreamReply = z.looseObject({
  status: RemoteJobStatus,
  stream: z.array(z.looseObject({ output: z.unknown() })).default([]),
});
export type StreamReply = z.infer<typeof StreamReply>;

/** `POST /cancel/{id}` reply. */
export const CancelReply = z.looseObject({ id: z.string().optional(), status: RemoteJobStatus.optional() });
export type CancelReply = z.infer<typeof CancelReply>;

/** `GET /health` reply: RunPod's jobs and workers counts (`initializing` etc. are in the JS SDK's type). */
export const HealthReply = z.looseObject({
  jobs: z.looseObject({ inQueue: z.number().optional(), inProgress: z.number().optional() }).optional(),
  workers: z
    .looseObject({
      idle: z.number().optional(),
      running: z.number().optional(),
      initializing: z.number().optional(),
      ready: z.number().optional(),
      throttled: z.number().optional(),
    })
    .optional(),
});
export type HealthReply = z.infer<typeof HealthReply>;

/** Body of `POST /run` (reference §4.3). */
export interface SubmitBody {
  input: Record<string, unknown>;
  webhook?: string;
  policy?: { executionTimeout?: number; ttl?: number; lowPriority?: boolean };
  s3Config?: { accessId: string; accessSecret: string; bucketName: string; endpointUrl: string };
}
