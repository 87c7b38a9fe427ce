/** Every way a command or job can fail; the closed set behind exit codes and HTTP statuses. */
export type ErrorCode =
  | "E_USAGE" // bad flags or arguments
  | "E_CONFIG" // invalid configuration values
  | "E_INPUT" // malformed job input, workflow file or request body
  | "E_AUTH" // missing or wrong API token
  | "E_NOT_FOUND" // unknown job, file or route
  | "E_TOO_LARGE" // a body or an output over its limit
  | "E_UNKNOWN_NODE" // the workflow uses node types ComfyUI doesn't have
  | "E_WORKFLOW_REJECTED" // ComfyUI refused the submitted workflow (its validation failed)
  | "E_WEIGHTS_MISSING" // required model files are absent
  | "E_WEIGHTS_INVALID" // present but corrupt, wrong size or wrong hash
  | "E_DOWNLOAD" // a download failed for good
  | "E_JOB_FAILED" // ComfyUI ran the job and it failed
  | "E_OUT_OF_MEMORY" // the GPU (or CPU) ran out of memory while a node ran
  | "E_GPU_UNAVAILABLE" // no usable CUDA device: none visible, driver too old, GPU not supported by this torch
  | "E_MODEL_FILE_INVALID" // a loader could not read its model file: corrupt, truncated or the wrong architecture
  | "E_NODE_DEPENDENCY_MISSING" // a custom node needs a Python module that is not installed
  | "E_NODE_PACK_FAILED" // the workflow uses a node pack that failed to import at ComfyUI's start-up
  | "E_JOB_CANCELLED" // cancelled by a user or the platform
  | "E_JOB_TIMEOUT" // the job ran past its deadline
  | "E_COMFY_START" // ComfyUI did not become ready
  | "E_COMFY_DIED" // ComfyUI crashed or hung and could not be brought back
  | "E_COMFY_UNAVAILABLE" // ComfyUI can't be reached right now
  | "E_BUCKET" // an output upload failed
  | "E_INTERRUPTED" // SIGINT/SIGTERM stopped a command
  | "E_INTERNAL"; // a bug

/** Extra facts an error carries to its job result or report (SPEC §6 `output.details`). */
export type ErrorDetails = Record<string, unknown>;

/** The one error class; its `code` decides the exit code and the HTTP status. */
export class WorkerError extends Error {
  // set literally because --minify renames classes
  override name = "WorkerError";
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, options?: ErrorOptions & { details?: ErrorDetails }) {
    super(message, options);
    this.code = code;
    this.details = options?.details ?? {};
  }
}

/** SPEC §4 exit codes, the only code → exit status table. */
export const EXIT_CODES: Record<ErrorCode, number> = {
  E_USAGE: 2,
  E_CONFIG: 2,
  E_INPUT: 2,
  E_AUTH: 2,
  E_NOT_FOUND: 2,
  E_TOO_LARGE: 2,
  E_UNKNOWN_NODE: 5,
  // submitted and refused is a failed job, like an unknown node; a bad command line is E_USAGE (2)
  E_WORKFLOW_REJECTED: 5,
  E_WEIGHTS_MISSING: 3,
  E_WEIGHTS_INVALID: 3,
  E_DOWNLOAD: 4,
  E_JOB_FAILED: 5,
  E_OUT_OF_MEMORY: 5,
  E_GPU_UNAVAILABLE: 6,
  E_MODEL_FILE_INVALID: 3,
  E_NODE_DEPENDENCY_MISSING: 5,
  E_NODE_PACK_FAILED: 5,
  E_JOB_CANCELLED: 5,
  E_JOB_TIMEOUT: 5,
  E_BUCKET: 5,
  E_COMFY_START: 6,
  E_COMFY_DIED: 6,
  E_COMFY_UNAVAILABLE: 6,
  E_INTERRUPTED: 130,
  E_INTERNAL: 1,
};

/** Exit status for anything thrown: a WorkerError's code, else 1. */
export function toExitCode(error: unknown): number {
  return isWorkerError(error) ? EXIT_CODES[error.code] : 1;
}

/** True for WorkerError instances, also across bundles (checks the literal name, not the class). */
export function isWorkerError(error: unknown): error is WorkerError {
  return error instanceof Error && error.name === "WorkerError" && "code" in error;
}
