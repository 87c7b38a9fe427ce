import type { FailureDetails } from "../jobs/schema.ts";
import type { DoneBody } from "./schemas.ts";

/** Who reports: copied into every error payload as RunPod's SDK does (reference §2). */
export interface ReporterIdentity {
  hostname?: string;
  workerId?: string;
  runpodVersion: string;
}

/** A finished job as the pipeline and `describeFailure` leave it. */
export type JobOutcome =
  | { status: "COMPLETED"; output: unknown }
  | { status: "FAILED" | "CANCELLED" | "TIMED_OUT"; error: string; details: FailureDetails };

/**
 * The job-done body (§1.7): `{output}` on success; on failure `error` is the JSON text of the SDK's error
 * object (error_type, error_message, error_traceback, hostname, worker_id, runpod_version, §2) so RunPod
 * tooling that parses it keeps working, and `output.details` is SPEC §6's, the same as in API mode.
 */
export function doneBody(outcome: JobOutcome, identity: ReporterIdentity, stopPod: boolean): DoneBody {
  const body: DoneBody = outcome.status === "COMPLETED" ? { output: outcome.output } : _failure(outcome, identity);
  if (stopPod) body.stopPod = true;
  return body;
}

function _failure(outcome: Exclude<JobOutcome, { status: "COMPLETED" }>, identity: ReporterIdentity): DoneBody {
  const { details } = outcome;
  const traceback = details.exception?.traceback?.join("") ?? "";
  const error = {
    // ComfyUI's Python exception type when a node raised, else our error code (E_INPUT, E_JOB_TIMEOUT, …)
    error_type: details.exception?.type ?? details.code,
    error_message: outcome.error,
    error_traceback: traceback || `${details.code}: ${outcome.error}`,
    hostname: identity.hostname ?? "unknown",
    worker_id: identity.workerId ?? "unknown",
    runpod_version: identity.runpodVersion,
    status: outcome.status,
  };
  // §8 leaves open whether RunPod keeps `output` next to `error`; details ride in both so neither is lost
  return { error: JSON.stringify({ ...error, details }), output: { details } };
}
