import { isWorkerError, WorkerError } from "../errors.ts";
import type { Redactor } from "../lib/redact.ts";
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
  const { last_log_lines, ...rest } = known.details as { last_log_lines?: string[] } & Record<string, unknown>;
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
