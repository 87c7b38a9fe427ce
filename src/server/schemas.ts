import { z } from "zod";

/** RunPod's `policy` (ms values, limits as RunPod documents them). */
export const JobPolicy = z.object({
  executionTimeout: z.number().int().min(5_000).max(604_800_000).optional().describe("ms a job may run"),
  ttl: z.number().int().min(10_000).max(604_800_000).optional().describe("ms a job lives from submission"),
  lowPriority: z.boolean().optional(),
});

/** Per-job bucket for outputs, as RunPod passes it through. */
export const S3Config = z.object({
  accessId: z.string().min(1),
  accessSecret: z.string().min(1),
  bucketName: z.string().min(1),
  endpointUrl: z.url({ protocol: /^https?$/ }),
  objectPath: z.string().optional(),
});

/** Body of `POST /run` and `POST /runsync`: the job envelope; `input` itself is checked by the job. */
export const JobRequest = z.object({
  input: z.record(z.string(), z.unknown()).describe("job input (SPEC §6): workflow, images, overrides, output"),
  webhook: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe("POSTed the final status object"),
  policy: JobPolicy.optional(),
  s3Config: S3Config.optional(),
});
export type JobRequest = z.infer<typeof JobRequest>;

export const JobStatusEnum = z.enum(["IN_QUEUE", "IN_PROGRESS", "COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"]);

/** What `/status`, `/runsync` and webhooks return. */
export const JobView = z.object({
  id: z.string(),
  status: JobStatusEnum,
  delayTime: z.number().optional(),
  executionTime: z.number().optional(),
  output: z.unknown().optional(),
  error: z.string().optional(),
  workerId: z.string().optional(),
});

export const WaitQuery = z.object({
  wait: z.coerce.number().int().min(0).max(300_000).optional().describe("ms to wait for completion"),
});

export const StreamView = z.object({
  status: JobStatusEnum,
  stream: z.array(
    z.object({ output: z.object({ node: z.string(), value: z.number(), max: z.number(), percent: z.number() }) }),
  ),
});

export const ErrorBody = z.object({ error: z.string(), code: z.string(), message: z.string() });
