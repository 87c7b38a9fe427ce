import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { type ErrorCode, isWorkerError } from "../errors.ts";
import type { Logger } from "../log.ts";

/** The only code → HTTP status table (exit codes live in errors.ts). */
export const HTTP_STATUS: Record<ErrorCode, ContentfulStatusCode> = {
  E_USAGE: 400,
  E_CONFIG: 500,
  E_INPUT: 400,
  E_AUTH: 401,
  E_NOT_FOUND: 404,
  E_TOO_LARGE: 413,
  E_UNKNOWN_NODE: 422,
  E_WORKFLOW_REJECTED: 422,
  E_WEIGHTS_MISSING: 424,
  E_WEIGHTS_INVALID: 424,
  E_DOWNLOAD: 502,
  E_JOB_FAILED: 500,
  E_OUT_OF_MEMORY: 507,
  E_GPU_UNAVAILABLE: 503,
  E_MODEL_FILE_INVALID: 424,
  E_NODE_DEPENDENCY_MISSING: 424,
  E_NODE_PACK_FAILED: 400,
  E_JOB_CANCELLED: 409,
  E_JOB_TIMEOUT: 504,
  E_COMFY_START: 503,
  E_COMFY_DIED: 503,
  E_COMFY_UNAVAILABLE: 503,
  E_BUCKET: 502,
  E_INTERRUPTED: 503,
  E_INTERNAL: 500,
};

/** hono `onError`: WorkerError → its status and `{error, code, message}`; anything else is a logged 500. */
export function errorResponse(error: Error, c: Context, log: Logger): Response {
  if (isWorkerError(error)) {
    return c.json({ error: error.message, code: error.code, message: error.message }, HTTP_STATUS[error.code]);
  }
  if (error instanceof HTTPException) {
    const message = error.message || "bad request";
    return c.json(
      { error: message, code: error.status === 413 ? "E_TOO_LARGE" : "E_INPUT", message },
      error.status as ContentfulStatusCode,
    );
  }
  log.error(`unhandled error on ${c.req.method} ${c.req.path}: ${error.stack ?? error.message}`);
  return c.json({ error: "internal error", code: "E_INTERNAL", message: "internal error" }, 500);
}
