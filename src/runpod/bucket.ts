import type { Config } from "../config.ts";
import { WorkerError } from "../errors.ts";
import type { OutputRef, OutputUploader } from "../jobs/outputs.ts";
import { describeIssues } from "../lib/issues.ts";
import type { LookupFn } from "../lib/net.ts";
import { checkJobUrl } from "../lib/url-guard.ts";
import { JobS3Config } from "./schemas.ts";

type BucketConfig = Pick<
  Config,
  | "BUCKET_ENDPOINT_URL"
  | "BUCKET_ACCESS_KEY_ID"
  | "BUCKET_SECRET_ACCESS_KEY"
  | "BUCKET_NAME"
  | "BUCKET_REGION"
  | "BUCKET_PREFIX"
  | "PRIVATE_HOSTS_ALLOWED"
  | "redactor"
>;

/** Where one job's outputs go: a client for the bucket plus the key prefix. */
export interface BucketTarget {
  options: Bun.S3Options;
  /** For messages: `s3://bucket` or the virtual-hosted endpoint. */
  label: string;
  prefix: string;
  /** For a job's own s3Config: resolves once its endpoint is known not to be private (or allowed). */
  checked?: Promise<void>;
}

// SigV4 presigned URLs live at most 7 days; outputs are fetched long after RunPod's 30 min result retention
const PRESIGN_EXPIRES_S = 7 * 24 * 3600;
const REQUIRED = ["BUCKET_ENDPOINT_URL", "BUCKET_ACCESS_KEY_ID", "BUCKET_SECRET_ACCESS_KEY"] as const;

/**
 * The env bucket, or undefined when none is configured. Throws E_CONFIG when only some BUCKET_* are set,
 * so `serve` fails at start rather than at a job's first large output.
 */
export function resolveEnvBucket(config: BucketConfig): BucketTarget | undefined {
  const missing = REQUIRED.filter((key) => !config[key]);
  if (missing.length === REQUIRED.length) return undefined;
  if (missing.length > 0)
    throw new WorkerError(
      "E_CONFIG",
      `a bucket is partly configured: set ${missing.join(", ")} too, or unset the others`,
    );
  return _target(
    config.BUCKET_ENDPOINT_URL as string,
    config.BUCKET_ACCESS_KEY_ID as string,
    config.BUCKET_SECRET_ACCESS_KEY as string,
    config.BUCKET_NAME,
    config.BUCKET_REGION,
    config.BUCKET_PREFIX,
  );
}

/**
 * The uploader for one job: its `s3Config` (RunPod job object or API request) wins over BUCKET_*; undefined
 * when neither exists. Throws E_INPUT for a malformed `s3Config`; its secret is registered for redaction.
 * A job's endpoint gets the job-URL rules (no private address unless PRIVATE_HOSTS_ALLOWED) before any upload.
 */
export function jobUploader(
  config: BucketConfig,
  jobId: string,
  s3Config: unknown,
  options: { lookup?: LookupFn } = {},
): OutputUploader | undefined {
  const target = s3Config === undefined ? resolveEnvBucket(config) : _jobTarget(config, s3Config, options.lookup);
  return target ? createBucketUploader(target, jobId) : undefined;
}

/** Refuses (E_INPUT) a job's s3Config endpoint that is a private address not in PRIVATE_HOSTS_ALLOWED. */
export async function checkJobEndpoint(
  endpointUrl: string,
  privateAllowed: readonly string[],
  lookup?: LookupFn,
): Promise<void> {
  await checkJobUrl(endpointUrl, "s3Config.endpointUrl", {
    privateAllowed,
    protocols: ["http:", "https:"],
    ...(lookup ? { lookup } : {}),
  });
}

/** Uploads to `{prefix}/{job id}/{subfolder}/{filename}` and returns a presigned GET URL; failures are E_BUCKET. */
export function createBucketUploader(target: BucketTarget, jobId: string): OutputUploader {
  const client = new Bun.S3Client(target.options);
  return async (ref, bytes, mime) => {
    // Bun.S3Client connects by itself, so the endpoint is checked before anything is signed or sent
    await target.checked;
    const key = objectKey(target.prefix, jobId, ref);
    try {
      await client.write(key, bytes, { type: mime });
    } catch (error) {
      const code = (error as { code?: string }).code;
      const reason = `${code ? `${code}: ` : ""}${error instanceof Error ? error.message : String(error)}`;
      throw new WorkerError(
        "E_BUCKET",
        `uploading output ${ref.filename} to ${target.label}/${key} failed (${reason}); check BUCKET_* or the job's s3Config`,
        { cause: error },
      );
    }
    return client.presign(key, { method: "GET", expiresIn: PRESIGN_EXPIRES_S });
  };
}

/** `{prefix}/{job id}/{subfolder…}/{filename}` with empty, `.` and `..` segments dropped, so no key escapes its job. */
export function objectKey(prefix: string, jobId: string, ref: Pick<OutputRef, "subfolder" | "filename">): string {
  const parts = [prefix, jobId, ref.subfolder, ref.filename].flatMap((part) => part.split(/[\\/]+/));
  return parts.filter((part) => part !== "" && part !== "." && part !== "..").join("/");
}

function _jobTarget(config: BucketConfig, raw: unknown, lookup: LookupFn | undefined): BucketTarget {
  const parsed = JobS3Config.safeParse(raw);
  if (!parsed.success) {
    const issues = describeIssues(parsed.error, raw, "s3Config");
    throw new WorkerError("E_INPUT", `invalid s3Config: ${issues.join("; ")}`);
  }
  const s3 = parsed.data;
  config.redactor.add(s3.accessSecret);
  config.redactor.add(s3.accessId);
  const target = _target(s3.endpointUrl, s3.accessId, s3.accessSecret, s3.bucketName, undefined, s3.objectPath);
  // started now so the DNS lookup overlaps the job; awaited before the first upload
  const checked = checkJobEndpoint(s3.endpointUrl, config.PRIVATE_HOSTS_ALLOWED, lookup);
  checked.catch(() => {});
  return { ...target, checked };
}

function _target(
  endpoint: string,
  accessKeyId: string,
  secretAccessKey: string,
  bucket: string | undefined,
  region: string | undefined,
  prefix: string | undefined,
): BucketTarget {
  const host = new URL(endpoint).hostname;
  // AWS endpoints name their region (s3.eu-west-1.amazonaws.com); SigV4 must sign for that region
  const awsRegion = host.match(/(?:^|\.)s3[.-]([a-z0-9-]+)\.amazonaws\.com$/)?.[1];
  const options: Bun.S3Options = { endpoint, accessKeyId, secretAccessKey, region: region ?? awsRegion };
  // without a bucket name, the endpoint is virtual-hosted (https://my-bucket.s3.amazonaws.com), as RunPod's
  // rp_upload and worker-comfyui expect BUCKET_ENDPOINT_URL to be
  if (bucket) options.bucket = bucket;
  else options.virtualHostedStyle = true;
  return { options, label: bucket ? `s3://${bucket}` : endpoint.replace(/\/+$/, ""), prefix: prefix ?? "" };
}
