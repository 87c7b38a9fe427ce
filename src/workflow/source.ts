import { WorkerError } from "../errors.ts";
import { type LoadedWorkflow, loadWorkflowFile, parseWorkflowBytes } from "./load.ts";

/** Largest workflow download accepted: a UI JSON is kilobytes, a PNG carrying one a few megabytes. */
export const MAX_WORKFLOW_BYTES = 64 * 1_048_576;
const WORKFLOW_FETCH_TIMEOUT_MS = 60_000;
const URL_RE = /^https?:\/\//i;

/** True when `source` is an http(s) URL rather than a path. */
export function isWorkflowUrl(source: string): boolean {
  return URL_RE.test(source);
}

/**
 * Loads a workflow from a path or an http(s) URL (JSON, PNG or WebP). Only for trusted sources (the CLI,
 * PRELOAD_WORKFLOW, WARMUP_WORKFLOW): no host checks. Throws E_INPUT/E_NOT_FOUND naming the source.
 */
export async function loadWorkflowSource(source: string, fetchFn: typeof fetch = fetch): Promise<LoadedWorkflow> {
  if (!isWorkflowUrl(source)) return loadWorkflowFile(source);
  let res: Response;
  try {
    res = await fetchFn(source, { redirect: "follow", signal: AbortSignal.timeout(WORKFLOW_FETCH_TIMEOUT_MS) });
  } catch (error) {
    throw new WorkerError("E_INPUT", `workflow ${source} could not be fetched (${(error as Error).message})`, {
      cause: error,
    });
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new WorkerError("E_INPUT", `workflow ${source} answered HTTP ${res.status}; check the URL`);
  }
  return parseWorkflowBytes(await _bounded(res, source), source);
}

async function _bounded(res: Response, source: string): Promise<Uint8Array> {
  const declared = Number(res.headers.get("content-length") ?? Number.NaN);
  const tooBig = () =>
    new WorkerError("E_TOO_LARGE", `workflow ${source} is over ${MAX_WORKFLOW_BYTES / 1_048_576} MiB; not a workflow`);
  if (declared > MAX_WORKFLOW_BYTES) {
    await res.body?.cancel();
    throw tooBig();
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of res.body ?? []) {
    total += chunk.byteLength;
    if (total > MAX_WORKFLOW_BYTES) throw tooBig();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
