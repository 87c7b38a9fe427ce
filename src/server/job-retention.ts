import type { ResultFiles, SpilledFile } from "./result-files.ts";

/** What retention needs of a job record. */
export interface RetainedJob {
  status: string;
  request: { input: Record<string, unknown> };
  output?: unknown;
  /** The output, once moved to disk (`output` is then undefined). */
  outputFile?: SpilledFile;
  /** A failed job's input, once moved to disk for /retry (`request.input` is then empty). */
  inputFile?: SpilledFile;
}

// RunPod keeps a /runsync result about a minute after returning it (reference §4.1)
export const RUNSYNC_RESULT_KEEP_MS = 60_000;
const RETRYABLE = new Set(["FAILED", "TIMED_OUT"]);

/**
 * Keeps finished jobs small: the input is dropped (or, for a job /retry may re-run, moved to disk) and a
 * large output moves to disk until the job expires. Without `files` (RunPod mode, where nobody fetches
 * results from us) inputs are still dropped and outputs stay as they are.
 */
export class JobRetention {
  readonly #files: ResultFiles | undefined;

  constructor(files: ResultFiles | undefined) {
    this.#files = files;
  }

  /** Right after a job finished (and its webhook/onFinish saw the full result). `current` = still stored. */
  async settle(job: RetainedJob, current: () => boolean): Promise<void> {
    const input = job.request.input;
    const retryable = RETRYABLE.has(job.status);
    if (!retryable) job.request = { ...job.request, input: {} };
    const files = this.#files;
    if (!files) return;
    const output = job.output;
    const [outputFile, inputFile] = await Promise.all([
      output === undefined ? undefined : files.spill(output),
      retryable ? files.spill(input) : undefined,
    ]);
    // the job may have expired, been retried or re-finished while the files were written
    const keepOutput = outputFile && current() && job.output === output;
    const keepInput = inputFile && current() && RETRYABLE.has(job.status) && job.request.input === input;
    if (keepOutput) Object.assign(job, { output: undefined, outputFile });
    else if (outputFile) files.remove(outputFile);
    if (keepInput) Object.assign(job, { request: { ...job.request, input: {} }, inputFile });
    else if (inputFile) files.remove(inputFile);
  }

  /** Brings a spilled input back (before a retry); its file is removed. */
  async restoreInput(job: RetainedJob): Promise<void> {
    const file = job.inputFile;
    if (!file || !this.#files) return;
    job.request = { ...job.request, input: (await this.#files.read(file)) as Record<string, unknown> };
    job.inputFile = undefined;
    this.#files.remove(file);
  }

  /** Removes what a forgotten job left on disk. */
  release(job: RetainedJob): void {
    for (const file of [job.outputFile, job.inputFile]) if (file) this.#files?.remove(file);
    job.outputFile = undefined;
    job.inputFile = undefined;
  }

  /** The response body for a job whose output is on disk: `head` (the status object) plus the file. */
  body(head: string, job: RetainedJob): ReadableStream<Uint8Array> | undefined {
    return job.outputFile && this.#files ? this.#files.objectWith(head, "output", job.outputFile) : undefined;
  }

  /** Removes the folder (the store drained). */
  close(): void {
    this.#files?.close();
  }
}
