import type { z } from "zod";
import type { Config } from "../config.ts";
import { WorkerError } from "../errors.ts";
import { backoffMs } from "../lib/time.ts";
import { type EndpointTarget, resolveEndpoint } from "./endpoint-url.ts";
import { type EndpointOp, type EndpointTransport, endpointRequest, isRetryable } from "./http.ts";
import { CancelReply, HealthReply, StatusReply, StreamReply, type SubmitBody, SubmitReply } from "./schemas.ts";

/** RunPod's public endpoint API for one endpoint (reference §4): submit, status, stream, cancel, health. */
export interface EndpointClient {
  readonly target: EndpointTarget;
  /**
   * `POST /run`. Retried only on 429/503 (nothing was queued); other failures are thrown, never resubmitted.
   * `signal` stops the retries, but a request already sent runs to its answer (or its own timeout): it may have
   * queued the job, and the caller needs the id to cancel it.
   */
  submit(body: SubmitBody, signal?: AbortSignal): Promise<SubmitReply>;
  /** `GET /status/{id}`: status, delayTime/executionTime, output (progress while IN_PROGRESS), error. */
  status(jobId: string, signal?: AbortSignal): Promise<StatusReply>;
  /** `GET /stream/{id}`: chunks not delivered before; may long-poll on the server side. */
  stream(jobId: string, signal?: AbortSignal): Promise<StreamReply>;
  /** `POST /cancel/{id}`, tried again on 429, 5xx or no answer (a cancel is idempotent). */
  cancel(jobId: string, signal?: AbortSignal): Promise<CancelReply>;
  /** `GET /health`: queue depth and worker counts (to tell a cold start from a queue). */
  health(signal?: AbortSignal): Promise<HealthReply>;
}

export interface EndpointClientOptions {
  /** Endpoint id or full `…/v2/ID` URL (`--endpoint`). */
  endpoint: string;
  /** RUNPOD_ENDPOINT_BASE_URL; default RunPod's `https://api.runpod.ai/v2`. */
  baseUrl?: string;
  /** RUNPOD_API_KEY, sent as `Authorization: Bearer <key>`; required for an endpoint id. */
  apiKey?: string;
  fetch?: typeof fetch;
  /** Per-request timeouts; `/stream` is longer because servers long-poll it. */
  timeoutMs?: number;
  streamTimeoutMs?: number;
  /** Submit attempts on 429/503 (default 4). */
  submitAttempts?: number;
  /** Cancel attempts on 429, 5xx or no answer (default 4). */
  cancelAttempts?: number;
}

export const DEFAULT_ENDPOINT_BASE_URL = "https://api.runpod.ai/v2";
// the Python client gives run and status 10 s; RunPod's /stream and our serve long-poll (10 s) before answering
const REQUEST_TIMEOUT_MS = 15_000;
const STREAM_TIMEOUT_MS = 45_000;
const SUBMIT_ATTEMPTS = 4;
const SUBMIT_BACKOFF = { initialMs: 1_000, maxMs: 8_000 };
const MAX_RETRY_AFTER_MS = 30_000;
// about 7 s of tries before a caller says the cancel failed
const CANCEL_ATTEMPTS = 4;
const CANCEL_BACKOFF = { initialMs: 1_000, maxMs: 4_000 };

/**
 * Creates a client for one endpoint. Throws E_USAGE for a malformed `--endpoint` and E_AUTH when an endpoint
 * id (RunPod's cloud) is given without RUNPOD_API_KEY. Every failure is a WorkerError whose message says what
 * to do: 401/403 → E_AUTH, 404 → E_NOT_FOUND, 413 → E_TOO_LARGE, 429/5xx/no answer → E_COMFY_UNAVAILABLE with
 * `details.retryable` (see `isRetryable`) and `details.retry_after_ms` when the server said.
 */
export function createEndpointClient(options: EndpointClientOptions): EndpointClient {
  const target = resolveEndpoint(options.endpoint, options.baseUrl ?? DEFAULT_ENDPOINT_BASE_URL);
  if (!target.explicitUrl && !options.apiKey)
    throw new WorkerError(
      "E_AUTH",
      `--endpoint ${target.id} is a RunPod endpoint id, which needs RUNPOD_API_KEY (RunPod console → Settings → API Keys)`,
    );
  const transport: EndpointTransport = {
    target,
    fetch: options.fetch ?? fetch,
    ...(options.apiKey ? { apiKey: options.apiKey } : {}),
  };
  const timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
  const call = async <T extends z.ZodType>(
    schema: T,
    op: EndpointOp,
    path: string,
    init: {
      method: "GET" | "POST";
      body?: unknown;
      signal?: AbortSignal | undefined;
      jobId?: string;
      timeoutMs?: number;
    },
  ): Promise<z.infer<T>> => {
    const raw = await endpointRequest(transport, op, path, {
      method: init.method,
      timeoutMs: init.timeoutMs ?? timeoutMs,
      ...(init.body !== undefined ? { body: init.body } : {}),
      ...(init.signal ? { signal: init.signal } : {}),
      ...(init.jobId ? { jobId: init.jobId } : {}),
    });
    const parsed = schema.safeParse(raw);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    throw new WorkerError(
      "E_COMFY_UNAVAILABLE",
      `endpoint ${target.id} (${op}) answered in a shape RunPod's API does not have (${issue?.path.join(".") || "body"}: ${issue?.message}); is --endpoint a RunPod endpoint or \`serve --mode api\`?`,
      { details: { op, answer: raw } },
    );
  };
  const job = (id: string) => encodeURIComponent(id);
  return {
    target,
    submit: (body, signal) =>
      _withRetry(
        () => call(SubmitReply, "run", "/run", { method: "POST", body }),
        { attempts: options.submitAttempts ?? SUBMIT_ATTEMPTS, backoff: SUBMIT_BACKOFF, retryable: _notQueued },
        signal,
      ),
    status: (jobId, signal) => call(StatusReply, "status", `/status/${job(jobId)}`, { method: "GET", signal, jobId }),
    stream: (jobId, signal) =>
      call(StreamReply, "stream", `/stream/${job(jobId)}`, {
        method: "GET",
        signal,
        jobId,
        timeoutMs: options.streamTimeoutMs ?? STREAM_TIMEOUT_MS,
      }),
    // RunPod's JS SDK posts `{}`; the Python one posts nothing: both are accepted. A cancel is idempotent, so any
    // retryable failure is tried again: a job left running keeps billing
    cancel: (jobId, signal) =>
      _withRetry(
        () => call(CancelReply, "cancel", `/cancel/${job(jobId)}`, { method: "POST", body: {}, signal, jobId }),
        { attempts: options.cancelAttempts ?? CANCEL_ATTEMPTS, backoff: CANCEL_BACKOFF, retryable: isRetryable },
        signal,
      ),
    health: (signal) => call(HealthReply, "health", "/health", { method: "GET", signal }),
  };
}

/** The client for `--endpoint` from configuration (RUNPOD_ENDPOINT_BASE_URL, RUNPOD_API_KEY). */
export function endpointClientFromConfig(
  config: Pick<Config, "RUNPOD_API_KEY" | "RUNPOD_ENDPOINT_BASE_URL">,
  endpoint: string,
  extra: Pick<EndpointClientOptions, "fetch"> = {},
): EndpointClient {
  return createEndpointClient({
    endpoint,
    baseUrl: config.RUNPOD_ENDPOINT_BASE_URL,
    ...(config.RUNPOD_API_KEY ? { apiKey: config.RUNPOD_API_KEY } : {}),
    ...extra,
  });
}

// a 429 or 503 means the job was not queued, so sending it again cannot run it twice; anything else might have been
function _notQueued(error: unknown): boolean {
  const status = (error as WorkerError).details?.http_status;
  return isRetryable(error) && (status === 429 || status === 503);
}

async function _withRetry<T>(
  attempt: () => Promise<T>,
  policy: { attempts: number; backoff: { initialMs: number; maxMs: number }; retryable: (error: unknown) => boolean },
  signal?: AbortSignal,
): Promise<T> {
  for (let n = 0; ; n++) {
    signal?.throwIfAborted();
    try {
      return await attempt();
    } catch (error) {
      if (!policy.retryable(error) || n + 1 >= policy.attempts) throw error;
      // a Retry-After of hours would be a silent hang: at most MAX_RETRY_AFTER_MS, then the next try
      const after = Math.min(
        ((error as WorkerError).details.retry_after_ms as number | undefined) ?? 0,
        MAX_RETRY_AFTER_MS,
      );
      await abortableSleep(Math.max(after, backoffMs(n, policy.backoff)), signal);
    }
  }
}

/** Sleeps `ms`; rejects with the signal's reason as soon as it aborts. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
