import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { WorkerError } from "../errors.ts";
import { RUNPOD_VERSION } from "./client.ts";
import { doneBody, type JobOutcome, type ReporterIdentity } from "./result.ts";
import type { RunpodJob } from "./schemas.ts";

/** The SDK's default test document, read from the working directory when no job URL is set (§3.1). */
export const TEST_INPUT_FILE = "test_input.json";

// `input` stays optional here: a document without it becomes a failed job (exit 1), as in the SDK (§3.1)
const TestInput = z.looseObject({
  id: z.string().min(1).default("local_test"),
  input: z.unknown().optional(),
  s3Config: z.unknown().optional(),
});

/** What one-shot mode prints: the job-done body it would have posted, with the job's id and status. */
export type OneShotResult = { id: string; status: JobOutcome["status"] } & ReturnType<typeof doneBody>;

/** `./test_input.json` when it exists in `cwd`, else undefined. */
export function findTestInput(cwd: string = process.cwd()): string | undefined {
  const path = join(cwd, TEST_INPUT_FILE);
  return existsSync(path) ? path : undefined;
}

/**
 * Reads `--test-input`: a JSON file, or the JSON itself as the SDK's `--test_input '<json>'` takes it (§3.1).
 * `id` defaults to `local_test`. Throws E_USAGE for an unreadable file or invalid JSON.
 */
export async function loadTestInput(source: string): Promise<RunpodJob> {
  const inline = source.trimStart().startsWith("{");
  let text = source;
  if (!inline) {
    try {
      text = await readFile(source, "utf8");
    } catch (error) {
      throw new WorkerError(
        "E_USAGE",
        `cannot read --test-input ${source} (${(error as NodeJS.ErrnoException).code ?? error})`,
      );
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new WorkerError(
      "E_USAGE",
      `--test-input ${inline ? "value" : source} is not valid JSON (${(error as Error).message})`,
    );
  }
  const parsed = TestInput.safeParse(value);
  if (!parsed.success) throw new WorkerError("E_USAGE", `--test-input must be a JSON object like {"input": {...}}`);
  return parsed.data;
}

/** The printed result of a one-shot job; `ok` decides the exit status (0 or 1, like the SDK). */
export function oneShotResult(
  jobId: string,
  outcome: JobOutcome,
  identity: Omit<ReporterIdentity, "runpodVersion">,
): { result: OneShotResult; ok: boolean } {
  const body = doneBody(outcome, { ...identity, runpodVersion: RUNPOD_VERSION }, false);
  return { result: { id: jobId, status: outcome.status, ...body }, ok: outcome.status === "COMPLETED" };
}
