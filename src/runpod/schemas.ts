import { z } from "zod";

/**
 * A job as job-take hands it over (reference §1.6): `id` and `input` matter; extra keys such as `webhook`,
 * `batchId`, `retries` or `delayTime` are kept and ignored. `input` and `s3Config` are checked by the job
 * itself, so a malformed one fails that job with a reported error instead of vanishing here.
 */
export const RunpodJob = z.looseObject({
  id: z.string().min(1),
  input: z.unknown().optional(),
  s3Config: z.unknown().optional(),
  batchId: z.string().optional(),
});
export type RunpodJob = z.infer<typeof RunpodJob>;

/**
 * A job's own bucket (`s3Config` on a RunPod job object or an API request), as RunPod's SDK names the keys;
 * `objectPath` replaces BUCKET_PREFIX.
 */
export const JobS3Config = z.object({
  accessId: z.string().min(1),
  accessSecret: z.string().min(1),
  bucketName: z.string().min(1),
  endpointUrl: z.url({ protocol: /^https?$/ }),
  objectPath: z.string().optional(),
});
export type JobS3Config = z.infer<typeof JobS3Config>;

/** The job-stop channel's answer (§1.12); ids that are not strings are dropped, not fatal. */
export const StopAnswer = z.looseObject({
  jobsToStop: z.array(z.unknown()).transform((ids) => ids.filter((id): id is string => typeof id === "string")),
});

/** A progress update's body: RunPod shows `output` as the job's output while it runs (§1.10). */
export interface ProgressBody {
  status: "IN_PROGRESS";
  output: unknown;
}

/** A final job-done body (§1.7–1.8): `output`, `error` (a string), `stopPod` when REFRESH_WORKER asks. */
export interface DoneBody {
  output?: unknown;
  error?: string;
  stopPod?: true;
}
