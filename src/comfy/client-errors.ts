/**
 * How a request to ComfyUI failed, as WorkerErrors the rest of the worker can classify: no answer (refused, timed
 * out, or never sent at all), an HTTP error status, or a body ComfyUI would not send.
 */
import { FetchError } from "ofetch";
import type { z } from "zod";
import { isWorkerError, WorkerError } from "../errors.ts";

const MAX_DETAIL_CHARS = 300;

/** How a request failed to get an answer: nothing listening, no answer in time, or an HTTP error status. */
export type Transport = "refused" | "timeout" | "http";

/** The transport class of an error thrown by this client, if it is one of ours. */
export function transportOf(error: unknown): Transport | undefined {
  if (!isWorkerError(error) || error.code !== "E_COMFY_UNAVAILABLE") return undefined;
  const transport = error.details.transport;
  return transport === "refused" || transport === "timeout" || transport === "http" ? transport : undefined;
}

/** A request that got no answer: the caller's abort reason, or E_COMFY_UNAVAILABLE saying how (and if nothing was sent). */
export function transportError(
  url: string,
  what: string,
  error: unknown,
  timeoutMs: number,
  signal?: AbortSignal,
): unknown {
  if (signal?.aborted) return signal.reason;
  const cause = error instanceof FetchError && error.cause ? error.cause : error;
  const timedOut = cause instanceof Error && cause.name === "TimeoutError";
  const message = timedOut
    ? `ComfyUI at ${url} did not answer ${what} within ${timeoutMs} ms`
    : `ComfyUI at ${url} is not reachable (${what}: ${cause instanceof Error ? cause.message : String(cause)}); is it running?`;
  // nothing listened: the request never reached ComfyUI (a reset, by contrast, may have come after it was read)
  const notSent = (cause as NodeJS.ErrnoException | undefined)?.code === "ECONNREFUSED";
  const details = {
    transport: timedOut ? "timeout" : "refused",
    request: what,
    ...(notSent ? { not_sent: true } : {}),
  };
  return new WorkerError("E_COMFY_UNAVAILABLE", message, { cause: error, details });
}

/** An error status: 404 → E_NOT_FOUND, 400 → E_INPUT, anything else → E_COMFY_UNAVAILABLE; the body kept short. */
export function httpError(url: string, what: string, status: number, data: unknown): WorkerError {
  const body = typeof data === "string" ? data.slice(0, MAX_DETAIL_CHARS) : data;
  const details = { transport: "http", status, request: what, body };
  if (status === 404) return new WorkerError("E_NOT_FOUND", `ComfyUI has nothing at ${what} (404)`, { details });
  if (status === 400)
    return new WorkerError("E_INPUT", `ComfyUI rejected ${what} (400): ${JSON.stringify(body)}`, { details });
  return new WorkerError("E_COMFY_UNAVAILABLE", `ComfyUI at ${url} answered ${what} with HTTP ${status}`, { details });
}

/** The 2xx body in `schema`'s shape, or E_COMFY_UNAVAILABLE: the server is not ComfyUI. */
export function parseAnswer<T extends z.ZodType>(url: string, what: string, schema: T, data: unknown): z.infer<T> {
  const parsed = schema.safeParse(data);
  if (parsed.success) return parsed.data;
  const message = `The server at ${url} answered ${what} with a body ComfyUI would not send; is it really ComfyUI?`;
  throw new WorkerError("E_COMFY_UNAVAILABLE", message, { cause: parsed.error, details: { request: what } });
}
