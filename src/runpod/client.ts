import { type BackoffOptions, backoffMs, deadlineSignal, delay } from "../lib/time.ts";
import type { Logger } from "../log.ts";
import { VERSION } from "../version.ts";
import { type DoneBody, type ProgressBody, RunpodJob, StopAnswer } from "./schemas.ts";
import { appendQuery, type RunpodUrls } from "./urls.ts";

/**
 * `runpod_version` in pings and error reports: the SDK release whose protocol we speak, with our version as
 * semver build metadata, so a platform comparing versions (job-stop needs ≥ 1.10.0, §1.12) still can.
 */
export const RUNPOD_VERSION = `1.12.0+comfy-worker.${VERSION}`;

export type TakeResult =
  | { kind: "jobs"; jobs: RunpodJob[]; dropped: number }
  | { kind: "none" }
  | { kind: "throttled" }
  | { kind: "error"; message: string };
export type StopResult =
  | { kind: "stop"; ids: string[] }
  | { kind: "none" }
  | { kind: "throttled" }
  | { kind: "error"; message: string };
export type PostResult = { ok: true; attempts: number } | { ok: false; attempts: number; message: string };

/** The worker→platform calls of reference §1.4–1.12. None throws: failures are returned as data. */
export interface RunpodClient {
  /** Which optional endpoints the templates provide (§1.3). */
  readonly can: { batch: boolean; stop: boolean; stream: boolean; ping: boolean };
  take(options: { batchSize: number; inProgress: boolean; signal?: AbortSignal }): Promise<TakeResult>;
  /** The final result, retried on transport errors, 408/425/429 and 5xx (the SDK retries 5xx only, §1.8). */
  done(jobId: string, body: DoneBody): Promise<PostResult>;
  /** An IN_PROGRESS update to job-done; one attempt, the next update supersedes it (§1.10). */
  progress(jobId: string, output: unknown): Promise<PostResult>;
  /**
   * One chunk to job-stream (§1.9); `ok: false` without a request when no stream URL is set. The loop doesn't
   * call it: a job has one result, and the SDK never mixes chunks with a non-generator result, so progress
   * goes out as IN_PROGRESS updates (SPEC §6) rather than through a path the platform has never seen.
   */
  stream(jobId: string, output: unknown): Promise<PostResult>;
  ping(jobIds: string[], timeoutMs: number, signal?: AbortSignal): Promise<PostResult>;
  pollStop(signal?: AbortSignal): Promise<StopResult>;
}

export interface RunpodClientOptions {
  urls: RunpodUrls;
  apiKey?: string;
  log: Logger;
  fetch?: typeof fetch;
  /** Attempts and backoff for the final job-done POST. */
  retry?: { attempts: number } & BackoffOptions;
  /** Bound of the take and stop long polls; the SDK's `jobs_fetcher_timeout` is 90 s (§1.5). */
  longPollMs?: number;
}

type Attempt =
  | { status: number; type: string; text: string }
  | { failure: "timeout" | "aborted" | "transport"; message: string };

const LONG_POLL_MS = 90_000;
const POST_TIMEOUT_MS = 120_000;
// progress waits for nothing, and the final result waits for the update in flight: keep it short
const PROGRESS_TIMEOUT_MS = 10_000;
const DONE_RETRY = { attempts: 5, initialMs: 1_000, maxMs: 10_000 };
const RETRY_STATUSES = new Set([408, 425, 429]);

/** Builds the client; secrets stay in headers and never reach a log line. */
export function createRunpodClient(options: RunpodClientOptions): RunpodClient {
  const { urls, log } = options;
  const request = _requester(options);
  const retry = options.retry ?? DONE_RETRY;
  const longPollMs = options.longPollMs ?? LONG_POLL_MS;
  return {
    can: {
      batch: Boolean(urls.takeBatch),
      stop: Boolean(urls.stop),
      stream: Boolean(urls.stream),
      ping: Boolean(urls.ping),
    },
    take: async ({ batchSize, inProgress, signal }) => {
      const job_in_progress = inProgress ? 1 : 0;
      const url =
        batchSize > 1 && urls.takeBatch
          ? appendQuery(urls.takeBatch, { batch_size: batchSize, job_in_progress })
          : appendQuery(urls.take, { job_in_progress });
      return _takeResult(await request(url, { method: "GET" }, longPollMs, signal));
    },
    done: (jobId, body) =>
      _withRetry(
        retry,
        () => request(appendQuery(urls.done(jobId), { isStream: "false" }), _post(jobId, body), POST_TIMEOUT_MS),
        (message, ms) =>
          log.warn(`job-done for ${jobId} failed (${message}); retrying in ${ms} ms`, { requestId: jobId }),
      ),
    progress: (jobId, output) => {
      const body: ProgressBody = { status: "IN_PROGRESS", output };
      const url = appendQuery(urls.done(jobId), { isStream: "false" });
      return _withRetry({ ...retry, attempts: 1 }, () => request(url, _post(jobId, body), PROGRESS_TIMEOUT_MS));
    },
    stream: async (jobId, output) => {
      if (!urls.stream) return { ok: false, attempts: 0, message: "RUNPOD_WEBHOOK_POST_STREAM is not set" };
      const url = appendQuery(urls.stream(jobId), { isStream: "false" });
      return _withRetry({ ...retry, attempts: 1 }, () => request(url, _post(jobId, { output }), PROGRESS_TIMEOUT_MS));
    },
    ping: async (jobIds, timeoutMs, signal) => {
      if (!urls.ping) return { ok: false, attempts: 0, message: "RUNPOD_WEBHOOK_PING is not set" };
      const job_id = jobIds.length > 0 ? jobIds.join(",") : undefined;
      const url = appendQuery(urls.ping, { job_id, runpod_version: RUNPOD_VERSION });
      return _withRetry({ ...retry, attempts: 1 }, () => request(url, { method: "GET" }, timeoutMs, signal));
    },
    pollStop: async (signal) => {
      if (!urls.stop) return { kind: "error", message: "no job-stop URL (the take template has no /job-take/)" };
      return _stopResult(await request(urls.stop, { method: "GET" }, longPollMs, signal));
    },
  };
}

function _requester(options: RunpodClientOptions) {
  const fetchFn = options.fetch ?? fetch;
  const base: Record<string, string> = {
    "User-Agent": `comfy-worker/${VERSION} (RunPod worker protocol; Bun ${Bun.version})`,
  };
  // the raw key, no "Bearer" prefix (§1.4)
  if (options.apiKey) base.Authorization = options.apiKey;
  return async (url: string, init: RequestInit, timeoutMs: number, signal?: AbortSignal): Promise<Attempt> => {
    const deadline = deadlineSignal(timeoutMs, signal);
    try {
      const res = await fetchFn(url, { ...init, headers: { ...base, ...init.headers }, signal: deadline.signal });
      const text = await res.text();
      return { status: res.status, type: res.headers.get("content-type") ?? "", text };
    } catch (error) {
      if (signal?.aborted) return { failure: "aborted", message: "aborted" };
      if (deadline.signal.aborted) return { failure: "timeout", message: `no answer within ${timeoutMs / 1000} s` };
      return { failure: "transport", message: error instanceof Error ? error.message : String(error) };
    } finally {
      deadline.dispose();
    }
  };
}

// job-done and job-stream: JSON text under a form content type plus a bare `charset` header, exactly as the
// SDK sends them (§1.4); X-Request-ID only on these requests, not leaking onto later takes (§1.4 quirk avoided)
function _post(jobId: string, body: unknown): RequestInit {
  return {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", charset: "utf-8", "X-Request-ID": jobId },
    body: JSON.stringify(body),
  };
}

async function _withRetry(
  retry: { attempts: number } & BackoffOptions,
  send: () => Promise<Attempt>,
  onRetry?: (message: string, ms: number) => void,
): Promise<PostResult> {
  for (let attempt = 1; ; attempt++) {
    const got = await send();
    if (!("failure" in got) && got.status >= 200 && got.status < 300) return { ok: true, attempts: attempt };
    const message = "failure" in got ? got.message : `HTTP ${got.status}`;
    // a timeout is a deadline we chose; retrying would silently double it (STYLE §3 rule 17)
    const retryable =
      "failure" in got ? got.failure === "transport" : got.status >= 500 || RETRY_STATUSES.has(got.status);
    if (!retryable || attempt >= retry.attempts) return { ok: false, attempts: attempt, message };
    const ms = backoffMs(attempt - 1, retry);
    onRetry?.(message, ms);
    // not abortable: a finished job's result must still go out while the worker shuts down
    await delay(ms);
  }
}

function _takeResult(got: Attempt): TakeResult {
  // the long poll ending on our 90 s bound, or on shutdown, is not an error (§1.5)
  if ("failure" in got) return got.failure === "transport" ? { kind: "error", message: got.message } : { kind: "none" };
  // 400 is what FlashBoot workers get when there is nothing to take (§1.5, §6)
  if (got.status === 204 || got.status === 400) return { kind: "none" };
  if (got.status === 429) return { kind: "throttled" };
  if (got.status < 200 || got.status >= 300) return { kind: "error", message: `HTTP ${got.status}` };
  if (!got.type.includes("json") || got.text.trim() === "") return { kind: "none" };
  let value: unknown;
  try {
    value = JSON.parse(got.text);
  } catch {
    return { kind: "error", message: "job-take answered 200 with invalid JSON" };
  }
  const items = Array.isArray(value) ? value : [value];
  if (items.length === 0) return { kind: "none" };
  const jobs = items.flatMap((item) => {
    const parsed = RunpodJob.safeParse(item);
    return parsed.success ? [parsed.data] : [];
  });
  if (jobs.length === 0) return { kind: "error", message: "job-take answered with no job that has a string id" };
  return { kind: "jobs", jobs, dropped: items.length - jobs.length };
}

function _stopResult(got: Attempt): StopResult {
  if ("failure" in got) return got.failure === "transport" ? { kind: "error", message: got.message } : { kind: "none" };
  if (got.status === 204) return { kind: "none" };
  if (got.status === 429) return { kind: "throttled" };
  if (got.status < 200 || got.status >= 300) return { kind: "error", message: `HTTP ${got.status}` };
  // an unexpected content type or shape means "nothing to stop" (§1.12)
  if (!got.type.includes("json")) return { kind: "none" };
  try {
    const parsed = StopAnswer.safeParse(JSON.parse(got.text));
    return parsed.success && parsed.data.jobsToStop.length > 0
      ? { kind: "stop", ids: parsed.data.jobsToStop }
      : { kind: "none" };
  } catch {
    return { kind: "none" };
  }
}
