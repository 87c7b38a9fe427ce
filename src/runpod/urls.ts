import type { Config } from "../config.ts";
import { WorkerError } from "../errors.ts";

/** The worker→platform endpoints of one worker, resolved from RunPod's URL templates (reference §1.3). */
export interface RunpodUrls {
  take: string;
  /** Absent when the take template has no `/job-take/` segment to rewrite. */
  takeBatch?: string;
  /** Absent when the take template has no `/job-take/` segment: per-job stop is then off (§1.3). */
  stop?: string;
  done: (jobId: string) => string;
  stream?: (jobId: string) => string;
  ping?: string;
  /** Optional templates that were set but are no URL: left off, with why (logged at start). */
  warnings: string[];
}

type UrlConfig = Pick<
  Config,
  "RUNPOD_WEBHOOK_GET_JOB" | "RUNPOD_WEBHOOK_POST_OUTPUT" | "RUNPOD_WEBHOOK_POST_STREAM" | "RUNPOD_WEBHOOK_PING"
>;

// the SDK's stand-ins for an unset variable (§1.2); they are not URLs and mean "not set"
const PLACEHOLDERS = new Set(["JOB_DONE_URL", "JOB_STREAM_URL", "PING_NOT_SET"]);

/**
 * Substitutes the templates at call time, never at import (§1.17): `$RUNPOD_POD_ID` first, then `$ID`, both
 * with the worker id in the take and ping templates and `$ID` with the job id in done/stream (§1.3).
 * Throws E_CONFIG when the take or done template is missing or no http(s) URL: such a worker could never take or
 * report a job, so it stops at once and the platform replaces it. A stream or ping template that is no URL is
 * left off with a warning, as an unset one is.
 */
export function resolveRunpodUrls(config: UrlConfig, workerId: string): RunpodUrls {
  const take = _set(config.RUNPOD_WEBHOOK_GET_JOB);
  const done = _set(config.RUNPOD_WEBHOOK_POST_OUTPUT);
  if (!take || !done) {
    const missing = !take ? "RUNPOD_WEBHOOK_GET_JOB" : "RUNPOD_WEBHOOK_POST_OUTPUT";
    throw new WorkerError(
      "E_CONFIG",
      `${missing} is not set; RunPod sets it on serverless workers — outside RunPod use --mode api, or --test-input FILE for a one-shot job`,
    );
  }
  const takeUrl = fillWorker(take, workerId);
  for (const [name, url] of [
    ["RUNPOD_WEBHOOK_GET_JOB", takeUrl],
    ["RUNPOD_WEBHOOK_POST_OUTPUT", fillJob(done, workerId, SAMPLE_JOB_ID)],
  ] as const) {
    if (!_isHttp(url))
      throw new WorkerError(
        "E_CONFIG",
        `${name} is not an http(s) URL (${JSON.stringify(url)}): this worker could not ${name.endsWith("GET_JOB") ? "take" : "report"} a single job, so it stops for RunPod to start another; check the endpoint's environment variables`,
      );
  }
  const warnings: string[] = [];
  const optional = (name: string, value: string | undefined, filled: (template: string) => string) => {
    const template = _set(value);
    if (!template || _isHttp(filled(template))) return template;
    warnings.push(`${name} is not an http(s) URL (${JSON.stringify(template)}); left off, as if it were not set`);
    return undefined;
  };
  const stream = optional("RUNPOD_WEBHOOK_POST_STREAM", config.RUNPOD_WEBHOOK_POST_STREAM, (t) =>
    fillJob(t, workerId, SAMPLE_JOB_ID),
  );
  const ping = optional("RUNPOD_WEBHOOK_PING", config.RUNPOD_WEBHOOK_PING, (t) => fillWorker(t, workerId));
  return {
    warnings,
    take: takeUrl,
    takeBatch: takeUrl.includes("/job-take/") ? takeUrl.replace("/job-take/", "/job-take-batch/") : undefined,
    stop: takeUrl.includes("/job-take/") ? takeUrl.replace("/job-take/", "/job-stop/") : undefined,
    done: (jobId) => fillJob(done, workerId, jobId),
    stream: stream ? (jobId) => fillJob(stream, workerId, jobId) : undefined,
    ping: ping ? fillWorker(ping, workerId) : undefined,
  };
}

/** A take or ping template with both placeholders set to the worker id (§1.3, the robust variant). */
export function fillWorker(template: string, workerId: string): string {
  const id = encodeURIComponent(workerId);
  return template.replaceAll("$RUNPOD_POD_ID", id).replaceAll("$ID", id);
}

/** A done or stream template: `$RUNPOD_POD_ID` → worker id, then `$ID` → job id (§1.3). */
export function fillJob(template: string, workerId: string, jobId: string): string {
  return template
    .replaceAll("$RUNPOD_POD_ID", encodeURIComponent(workerId))
    .replaceAll("$ID", encodeURIComponent(jobId));
}

/**
 * Appends query parameters with `?` or `&` as the URL needs; the SDK always appends `&`, which only works
 * because production templates already carry a `?` (§1.3). Undefined values are left out.
 */
export function appendQuery(url: string, params: Record<string, string | number | undefined>): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined) query.append(key, String(value));
  const text = query.toString();
  if (!text) return url;
  const hash = url.indexOf("#");
  const [base, fragment] = hash >= 0 ? [url.slice(0, hash), url.slice(hash)] : [url, ""];
  const joiner = !base.includes("?") ? "?" : base.endsWith("?") || base.endsWith("&") ? "" : "&";
  return `${base}${joiner}${text}${fragment}`;
}

// a job id like RunPod's, to check a per-job template once it is filled in
const SAMPLE_JOB_ID = "sync-00000000-0000-0000-0000-000000000000-u1";

function _isHttp(url: string): boolean {
  return URL.canParse(url) && /^https?:$/.test(new URL(url).protocol);
}

function _set(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed && !PLACEHOLDERS.has(trimmed) ? trimmed : undefined;
}
