import type { ComfyClient } from "../comfy/client.ts";
import { fixFor, matchRule } from "../comfy/failure-rules.ts";
import { isWorkerError, WorkerError } from "../errors.ts";
import type { Redactor } from "../lib/redact.ts";
import type { Logger } from "../log.ts";
import { loaderFolder } from "../weights/loaders.ts";
import type { LogWindowSpan } from "./log-window.ts";
import type { FailureDetails } from "./schema.ts";

export type FailedStatus = "FAILED" | "CANCELLED" | "TIMED_OUT";

/** What a failed job reports: RunPod status, one-sentence `error`, and `output.details` (SPEC §6). */
export interface JobFailure {
  status: FailedStatus;
  error: string;
  details: FailureDetails;
}

const LAST_LOG_LINES = 50;

/**
 * Turns anything a job threw into its failure report, with ComfyUI's last log lines and secrets redacted.
 * With `window`, `logs` returns only lines from the job's own time span, and that span is named in the
 * details (`last_log_lines_window`); lines an error carries (a crash's) are then replaced by the span's,
 * which hold the crash output too but not what came before the job.
 */
export function describeFailure(
  error: unknown,
  logs: (lines: number) => string[],
  redactor: Redactor,
  window?: LogWindowSpan,
): JobFailure {
  const known = isWorkerError(error)
    ? error
    : new WorkerError("E_INTERNAL", `unexpected error: ${error instanceof Error ? error.message : String(error)}`);
  // comfy_exited_at only bounds the log window (log-window.ts); it is not part of the report
  const { last_log_lines, comfy_exited_at, ...rest } = known.details as { last_log_lines?: string[] } & Record<
    string,
    unknown
  >;
  const carried = Array.isArray(last_log_lines) && !window ? last_log_lines : undefined;
  const details = {
    code: known.code,
    ...rest,
    last_log_lines: carried ?? logs(LAST_LOG_LINES),
    ...(window ? { last_log_lines_window: window } : {}),
  } as FailureDetails;
  const status: FailedStatus =
    known.code === "E_JOB_CANCELLED" ? "CANCELLED" : known.code === "E_JOB_TIMEOUT" ? "TIMED_OUT" : "FAILED";
  return { status, error: redactor.text(known.message), details: redactor.value(details) };
}

// a node's own size inputs, or those of the node that made its latent/image (a sampler's EmptyLatentImage)
const SIZE_SEARCH_DEPTH = 12;

/** The shape of a finished-but-failed prompt that executionFailure reads (runPrompt's PromptResult). */
export interface FailedPrompt {
  status: "success" | "error" | "interrupted";
  error?: {
    node_id?: string | null;
    node_type?: string | null;
    exception_type: string;
    exception_message: string;
    traceback?: string[];
  };
}

/**
 * The WorkerError for a prompt that ComfyUI ran and that failed: the classic failures (out of memory, no usable
 * GPU, a corrupt or wrong model file, a custom node's missing Python module) get their own code and a
 * one-sentence fix naming the node; anything else stays E_JOB_FAILED with ComfyUI's exception.
 */
export function executionFailure(result: FailedPrompt, workflow: ApiWorkflowLike): WorkerError {
  if (result.status === "interrupted")
    return new WorkerError("E_JOB_CANCELLED", "the prompt was interrupted in ComfyUI");
  const error = result.error;
  const type = error?.exception_type || "Error";
  const text = error?.exception_message ?? "";
  const exception = {
    type,
    message: text,
    ...(error?.node_id != null ? { node_id: String(error.node_id) } : {}),
    ...(error?.node_type ? { node_type: error.node_type } : {}),
    ...(error?.traceback ? { traceback: error.traceback } : {}),
  };
  const nodeId = error?.node_id != null ? String(error.node_id) : undefined;
  const where = nodeId
    ? `node ${nodeId} (${_describeNode(workflow, nodeId, error?.node_type ?? undefined)})`
    : "a node";
  const firstLine = text.trim().split("\n")[0] ?? "";
  const rule = matchRule(type, text);
  if (!rule)
    return new WorkerError("E_JOB_FAILED", `${where} failed: ${type}: ${firstLine || "unknown error"}`, {
      details: { exception },
    });
  const facts = { module: MODULE_RE.exec(text)?.[1], file: _fileOf(text, workflow, nodeId) };
  const fix = fixFor(rule.kind, facts);
  const message = `${_headline(rule.kind, facts)} at ${where}: ${fix}`;
  return new WorkerError(rule.code, message, {
    details: {
      exception,
      failure: {
        kind: rule.kind,
        fix,
        ...(facts.file ? { file: facts.file } : {}),
        ...(facts.module ? { module: facts.module } : {}),
      },
    },
  });
}

/** After an out-of-memory failure ComfyUI is asked to unload models and free memory before the next job. */
export async function recoverAfter(error: unknown, client: Pick<ComfyClient, "free">, log?: Logger): Promise<void> {
  if (!isWorkerError(error) || error.code !== "E_OUT_OF_MEMORY") return;
  await client.free({ unloadModels: true, freeMemory: true }).catch((cause: unknown) => {
    log?.warn("could not ask ComfyUI to free memory after an out-of-memory failure", { error: String(cause) });
  });
}

type ApiWorkflowLike = Record<string, { class_type: string; inputs: Record<string, unknown> }>;

const MODULE_RE = /No module named '([^']+)'/;
const FILE_RES = [/File path: (.+)/, /Could not detect model type of: (.+)/];

function _headline(kind: string, facts: { module?: string }): string {
  if (kind === "oom") return "out of GPU memory";
  if (kind === "ram-oom") return "out of memory (RAM)";
  if (kind === "driver-too-old" || kind === "unsupported-gpu" || kind === "no-gpu") return "no usable GPU";
  if (kind === "missing-module") return `missing Python module '${facts.module ?? "?"}'`;
  if (kind === "corrupt-file") return "corrupt model file";
  return "model file of the wrong type";
}

/** "KSampler, 2048×2048, batch 4": the node type with the image size and batch that fed it, when the graph says. */
function _describeNode(workflow: ApiWorkflowLike, nodeId: string, nodeType?: string): string {
  const type = nodeType ?? workflow[nodeId]?.class_type ?? "?";
  const size = _findSize(workflow, nodeId, new Set(), SIZE_SEARCH_DEPTH);
  if (!size) return type;
  const frames = size.length !== undefined ? `, ${size.length} frames` : "";
  const batch = size.batch !== undefined ? `, batch ${size.batch}` : "";
  return `${type}, ${size.width}×${size.height}${frames}${batch}`;
}

type Size = { width: number; height: number; batch?: number; length?: number };

function _findSize(workflow: ApiWorkflowLike, id: string, seen: Set<string>, depth: number): Size | undefined {
  const node = workflow[id];
  if (!node || seen.has(id) || depth < 0) return undefined;
  seen.add(id);
  const { width, height, batch_size: batch, length } = node.inputs;
  if (typeof width === "number" && typeof height === "number") {
    return {
      width,
      height,
      ...(typeof batch === "number" ? { batch } : {}),
      ...(typeof length === "number" ? { length } : {}),
    };
  }
  for (const value of Object.values(node.inputs)) {
    if (!Array.isArray(value) || value.length !== 2 || typeof value[1] !== "number") continue;
    const found = _findSize(workflow, String(value[0]), seen, depth - 1);
    if (found) return found;
  }
  return undefined;
}

/** The model file named in the message, else the file input of the failing loader node. */
function _fileOf(text: string, workflow: ApiWorkflowLike, nodeId?: string): string | undefined {
  for (const re of FILE_RES) {
    const match = re.exec(text)?.[1]?.trim();
    if (match) return match;
  }
  const node = nodeId ? workflow[nodeId] : undefined;
  if (!node) return undefined;
  for (const [input, value] of Object.entries(node.inputs)) {
    if (typeof value === "string" && loaderFolder(node.class_type, input)) return value;
  }
  return undefined;
}
