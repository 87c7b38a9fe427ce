import { runCli } from "../../src/cli/run-cli.ts";
import { stderr, stdout } from "../../src/lib/stdio.ts";

// settings the tests must not inherit from the machine running them
const CLEARED = ["MODELS_DIR", "EXTRA_MODEL_PATHS", "COMFY_URL", "HF_TOKEN", "CIVITAI_TOKEN", "PRELOAD_KIT"];

export interface CapturedRun {
  code: number;
  stdout: string;
  /** The CLI's error report, plus everything written to stderr when `captureStderr` is set. */
  stderr: string;
}

/**
 * Runs a command line in-process with `env` on top of the process environment (and settings that would
 * leak in from the machine cleared); captures stdout and the error report, restoring everything after.
 */
export async function runCliCaptured(
  args: string[],
  env: Record<string, string> = {},
  options: { captureStderr?: boolean } = {},
): Promise<CapturedRun> {
  const saved = { ...process.env };
  for (const key of CLEARED) delete process.env[key];
  Object.assign(process.env, { LOG_LEVEL: "error", ...env });
  const out: string[] = [];
  const err: string[] = [];
  // commands write through lib/stdio.ts; its write is what a terminal's progress bar intercepts, and so do we
  const writeOut = stdout.write;
  const writeErr = stderr.write;
  stdout.write = (chunk: string) => out.push(String(chunk)) > 0;
  if (options.captureStderr) stderr.write = (chunk: string) => err.push(String(chunk)) > 0;
  try {
    const code = await runCli(args, { out: (t) => void out.push(t), err: (t) => void err.push(t) });
    return { code, stdout: out.join(""), stderr: err.join("") };
  } finally {
    stdout.write = writeOut;
    stderr.write = writeErr;
    process.env = saved;
  }
}
