import { isRetryableStatus, parseRetryAfter, transientError } from "../../download/retry.ts";
import { WorkerError } from "../../errors.ts";
import { deadlineSignal } from "../../lib/time.ts";
import { EMPTY_SHA256, type SigningKey, sha256Hex, signRequest, UNSIGNED_PAYLOAD, uriEncode } from "./sigv4.ts";
import { xmlText } from "./xml.ts";

/** Where one bucket lives and how to sign for it. */
export interface S3Target extends SigningKey {
  /** Base URL, e.g. `https://s3api-eu-ro-1.runpod.io`; requests are path-style (`/bucket/key`). */
  endpoint: string;
  bucket: string;
}

/** One S3 call. */
export interface S3Request {
  method: "GET" | "HEAD" | "PUT" | "POST" | "DELETE";
  /** Object key; undefined for bucket-level calls. */
  key?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  /** A string is signed with its sha256; a Blob (a file slice) is streamed as UNSIGNED-PAYLOAD. */
  body?: string | Blob;
  /** Deadline of this request. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Statuses returned to the caller instead of thrown (e.g. 404 for HEAD). */
  allow?: number[];
}

/**
 * The few S3 calls `sync` needs, signed with SigV4 over fetch. Bun.S3Client has no ListParts and no part-level
 * control of a multipart upload (its writer can't resume an upload id after a crash), which resuming needs.
 * Failures become WorkerErrors: retryable statuses and network errors are marked transient for withRetry.
 */
export class S3Client {
  constructor(readonly target: S3Target) {}

  /** `s3://bucket/key` for messages. */
  label(key = ""): string {
    return `s3://${this.target.bucket}/${key}`;
  }

  /** Sends one signed request; returns the response of a 2xx (or allowed) status. */
  async send(request: S3Request): Promise<Response> {
    const url = this._url(request);
    const body = request.body;
    const payloadHash = typeof body === "string" ? sha256Hex(body) : body ? UNSIGNED_PAYLOAD : EMPTY_SHA256;
    const headers: Record<string, string> = { ...request.headers };
    if (body instanceof Blob) headers["content-length"] = String(body.size);
    const signed = signRequest({ method: request.method, url, headers, payloadHash }, this.target);
    const deadline = deadlineSignal(request.timeoutMs, request.signal);
    const what = `${request.method} ${this.label(request.key ?? "")}`;
    try {
      const response = await fetch(url, {
        method: request.method,
        headers: { ...headers, ...signed },
        body,
        signal: deadline.signal,
        redirect: "manual",
      });
      if (response.ok || request.allow?.includes(response.status)) return response;
      throw await this._error(response, what);
    } catch (error) {
      throw _transport(error, what, request.signal);
    } finally {
      deadline.dispose();
    }
  }

  /** Sends a request and reads the body as text, failing on an S3 error document in a 200 (CompleteMultipartUpload does that). */
  async text(request: S3Request): Promise<string> {
    const response = await this.send(request);
    const text = await response.text();
    if (/<Error>/.test(text)) {
      const code = xmlText(text, "Code") ?? "Error";
      const message = `${request.method} ${this.label(request.key ?? "")}: ${code}: ${xmlText(text, "Message") ?? ""}`;
      throw code === "InternalError" || code === "SlowDown"
        ? transientError(message)
        : new WorkerError("E_DOWNLOAD", message);
    }
    return text;
  }

  private _url(request: S3Request): URL {
    const base = this.target.endpoint.replace(/\/+$/, "");
    const path = `/${uriEncode(this.target.bucket)}${request.key === undefined ? "" : `/${uriEncode(request.key, true)}`}`;
    const url = new URL(base + path);
    for (const [name, value] of Object.entries(request.query ?? {})) url.searchParams.set(name, value);
    return url;
  }

  private async _error(response: Response, what: string): Promise<WorkerError> {
    const text = await response.text().catch(() => "");
    const code = xmlText(text, "Code");
    const detail = [code, xmlText(text, "Message")].filter(Boolean).join(": ");
    const message = `${what} answered HTTP ${response.status}${detail ? ` (${detail})` : ""}`;
    if (isRetryableStatus(response.status)) {
      const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"));
      return transientError(message, {
        status: response.status,
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      });
    }
    if (response.status === 401 || response.status === 403)
      return new WorkerError(
        "E_AUTH",
        `${message}: check RUNPOD_S3_ACCESS_KEY and RUNPOD_S3_SECRET_KEY (the S3 API key from RunPod's Settings, not the API key)`,
        { details: { status: response.status, code } },
      );
    if (code === "NoSuchBucket")
      return new WorkerError(
        "E_NOT_FOUND",
        `${message}: no such volume in this datacenter; check --volume and --datacenter`,
        { details: { status: response.status, code } },
      );
    return new WorkerError("E_DOWNLOAD", message, { details: { status: response.status, code } });
  }
}

// network failures and our own per-request deadline are worth another attempt; the caller's abort is not
function _transport(error: unknown, what: string, signal: AbortSignal | undefined): unknown {
  if (error instanceof WorkerError || signal?.aborted) return error;
  if (error instanceof Error && error.name === "TimeoutError")
    return transientError(`${what} got no answer before its deadline`);
  if (error instanceof Error) return transientError(`${what} failed: ${error.message}`);
  return error;
}
