import { WorkerError } from "../errors.ts";
import type { EndpointTarget } from "./endpoint-url.ts";

/** What a request was for: decides what a 404 means and how the error reads. */
export type EndpointOp = "run" | "status" | "stream" | "cancel" | "health";

/** Transport shared by every operation of one endpoint client. */
export interface EndpointTransport {
  target: EndpointTarget;
  apiKey?: string;
  fetch: typeof fetch;
}

/** Details every endpoint error carries: HTTP status (0 = no answer) and whether trying again may help. */
export interface EndpointErrorDetails {
  op: EndpointOp;
  http_status: number;
  retryable: boolean;
  retry_after_ms?: number;
  job_id?: string;
}

// RunPod answers these; RUNPOD_API_KEY is never part of a message
const MAX_BODY_IN_MESSAGE = 300;

/** One request to the endpoint; the parsed JSON body, or a WorkerError that says what to do. */
export async function endpointRequest(
  transport: EndpointTransport,
  op: EndpointOp,
  path: string,
  init: { method: "GET" | "POST"; body?: unknown; timeoutMs: number; signal?: AbortSignal; jobId?: string },
): Promise<unknown> {
  const url = `${transport.target.url}${path}`;
  const headers: Record<string, string> = { accept: "application/json" };
  // RunPod's docs and both SDKs send "Authorization: Bearer <key>" (reference §4.1)
  if (transport.apiKey) headers.authorization = `Bearer ${transport.apiKey}`;
  if (init.body !== undefined) headers["content-type"] = "application/json";
  const timeout = AbortSignal.timeout(init.timeoutMs);
  const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
  let res: Response;
  try {
    res = await transport.fetch(url, {
      method: init.method,
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      signal,
    });
  } catch (error) {
    if (init.signal?.aborted) throw init.signal.reason ?? error;
    const why = timeout.aborted ? `no answer within ${init.timeoutMs / 1000} s` : _cause(error);
    throw _error(op, 0, `cannot reach ${transport.target.shown} (${why}); check the network and --endpoint`, {
      retryable: true,
      jobId: init.jobId,
    });
  }
  let text: string;
  try {
    text = await res.text();
  } catch (error) {
    if (init.signal?.aborted) throw init.signal.reason ?? error;
    throw _error(op, res.status, `the connection to ${transport.target.shown} dropped mid-answer (${_cause(error)})`, {
      retryable: true,
      jobId: init.jobId,
    });
  }
  if (!res.ok) throw httpStatusError(transport, op, res, text, init.jobId);
  try {
    return JSON.parse(text);
  } catch {
    throw _error(
      op,
      res.status,
      `${_what(transport, op)} answered something that is not JSON (${_snippet(text)}); is --endpoint a RunPod endpoint or \`serve --mode api\`?`,
      // after a job was accepted the endpoint is known to be right: a cut-off body is a dropped connection
      { jobId: init.jobId, retryable: op === "status" || op === "stream" },
    );
  }
}

/** The WorkerError for a non-2xx answer: each status says what the user can do about it. */
export function httpStatusError(
  transport: EndpointTransport,
  op: EndpointOp,
  res: Response,
  text: string,
  jobId?: string,
): WorkerError {
  const status = res.status;
  const body = _snippet(text);
  const what = _what(transport, op);
  if (status === 401 || status === 403) {
    const fix = transport.apiKey
      ? "RUNPOD_API_KEY was refused: set it to a key with access to this endpoint (RunPod console → Settings → API Keys)"
      : "no API key was sent: set RUNPOD_API_KEY (RunPod console → Settings → API Keys)";
    return _error(op, status, `${what} answered ${status}: ${fix}`, { code: "E_AUTH", jobId });
  }
  if (status === 404) {
    const message =
      op === "run" || op === "health"
        ? `${what} answered 404: there is no endpoint "${transport.target.id}" there; check the endpoint id (RunPod console → Serverless) or RUNPOD_ENDPOINT_BASE_URL`
        : `${what} answered 404 for job ${jobId}: the endpoint no longer knows it (RunPod keeps /run results 30 min after the job ends, and drops a job whose policy.ttl ran out)`;
    return _error(op, status, message, { code: "E_NOT_FOUND", jobId });
  }
  if (status === 413)
    return _error(
      op,
      status,
      `${what} answered 413: the request is over the endpoint's payload limit (RunPod's /run takes 10 MB); configure BUCKET_* so input files go through a bucket`,
      { code: "E_TOO_LARGE", jobId },
    );
  if (status === 429) {
    const retryAfterMs = _retryAfterMs(res.headers.get("retry-after"));
    return _error(
      op,
      status,
      `${what} answered 429 (rate limited): too many requests to this endpoint; wait and try again, or spread the requests out`,
      { retryable: true, retryAfterMs, jobId },
    );
  }
  if (status >= 500)
    return _error(
      op,
      status,
      `${what} answered ${status}${body ? ` (${body})` : ""}: RunPod or the endpoint's worker had a problem; try again shortly, and if it persists read the endpoint's logs in the RunPod console`,
      { retryable: true, retryAfterMs: _retryAfterMs(res.headers.get("retry-after")), jobId },
    );
  return _error(op, status, `${what} refused the request with ${status}${body ? `: ${body}` : ""}`, {
    code: status === 400 || status === 422 ? "E_INPUT" : "E_COMFY_UNAVAILABLE",
    jobId,
  });
}

/** True for endpoint errors where trying the same request again may succeed (no answer, 429, 5xx). */
export function isRetryable(error: unknown): error is WorkerError {
  return error instanceof WorkerError && (error.details as Partial<EndpointErrorDetails>).retryable === true;
}

function _error(
  op: EndpointOp,
  status: number,
  message: string,
  extra: {
    code?: WorkerError["code"];
    retryable?: boolean;
    retryAfterMs?: number | undefined;
    jobId?: string | undefined;
  },
): WorkerError {
  const details: EndpointErrorDetails = { op, http_status: status, retryable: extra.retryable ?? false };
  if (extra.retryAfterMs !== undefined) details.retry_after_ms = extra.retryAfterMs;
  if (extra.jobId) details.job_id = extra.jobId;
  return new WorkerError(extra.code ?? "E_COMFY_UNAVAILABLE", message, { details: { ...details } });
}

function _what(transport: EndpointTransport, op: EndpointOp): string {
  return `endpoint ${transport.target.id} (${op})`;
}

function _retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : undefined;
}

function _snippet(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > MAX_BODY_IN_MESSAGE ? `${flat.slice(0, MAX_BODY_IN_MESSAGE)}…` : flat;
}

function _cause(error: unknown): string {
  const err = error as { code?: string; message?: string };
  return err.code ?? err.message ?? String(error);
}
