import type { Config } from "../config.ts";
import { WorkerError } from "../errors.ts";
import type { JobFile } from "../jobs/schema.ts";
import { mimeFromName } from "../lib/mime.ts";
import { createBucketUploader, resolveEnvBucket } from "../runpod/bucket.ts";
import type { SubmitBody } from "./schemas.ts";

/** RunPod's request limits (reference §4.2, §4.5): /run 10 MB; /runsync 20 MB, never used for long jobs. */
export const RUN_PAYLOAD_LIMIT_BYTES = 10_000_000;
export const RUNSYNC_PAYLOAD_LIMIT_BYTES = 20_000_000;

type BucketSettings = Parameters<typeof resolveEnvBucket>[0];

/** What went where: files sent inline and files sent as presigned bucket URLs. */
export interface PreparedRequest {
  body: SubmitBody;
  bytes: number;
  bucketed: string[];
}

/**
 * The `/run` body for a job input: input files inline (base64) while the request stays under RunPod's /run
 * limit, else the largest ones go to the configured bucket (BUCKET_*) and travel as presigned GET URLs.
 * E_TOO_LARGE names the limit and the fix when that is not enough or no bucket is configured.
 */
export async function prepareRequest(
  input: { images: JobFile[] } & Record<string, unknown>,
  config: BucketSettings & Pick<Config, "BUCKET_ENDPOINT_URL">,
  limitBytes = RUN_PAYLOAD_LIMIT_BYTES,
): Promise<PreparedRequest> {
  const images = input.images.map((file) => ({ ...file }));
  const body: SubmitBody = { input: { ...input, images } };
  let bytes = _size(body);
  if (bytes <= limitBytes) return { body, bytes, bucketed: [] };
  const target = resolveEnvBucket(config);
  if (!target)
    throw _tooLarge(
      bytes,
      limitBytes,
      "no bucket is configured: set BUCKET_ENDPOINT_URL, BUCKET_ACCESS_KEY_ID, BUCKET_SECRET_ACCESS_KEY and BUCKET_NAME so large input files go through it",
    );
  const upload = createBucketUploader(target, `inputs/${crypto.randomUUID()}`);
  const bucketed: string[] = [];
  // largest first: the fewest uploads that bring the request under the limit
  for (const file of [...images].sort((a, b) => b.image.length - a.image.length)) {
    if (bytes <= limitBytes) break;
    const data = Buffer.from(file.image, "base64");
    const ref = {
      node_id: "input",
      filename: file.name,
      subfolder: "",
      type: "input" as const,
      kind: "files" as const,
    };
    file.image = await upload(ref, data, mimeFromName(file.name));
    bucketed.push(file.name);
    bytes = _size(body);
  }
  if (bytes > limitBytes)
    throw _tooLarge(bytes, limitBytes, "even with every input file in the bucket the workflow itself is too big");
  return { body, bytes, bucketed };
}

function _tooLarge(bytes: number, limit: number, why: string): WorkerError {
  return new WorkerError(
    "E_TOO_LARGE",
    `the request is ${_mb(bytes)}, over RunPod's /run payload limit of ${_mb(limit)} (/runsync allows ${_mb(RUNSYNC_PAYLOAD_LIMIT_BYTES)} but is not used for long jobs); ${why}`,
    { details: { bytes, limit_bytes: limit, limit: "/run" } },
  );
}

function _size(body: SubmitBody): number {
  return Buffer.byteLength(JSON.stringify(body));
}

function _mb(bytes: number): string {
  return `${(bytes / 1_000_000).toFixed(1)} MB`;
}
