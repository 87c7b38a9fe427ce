import { join } from "node:path";
import { stringify } from "yaml";
import { runCli } from "../../src/cli/run-cli.ts";

const ROOT = join(import.meta.dir, "../..");

/** One manifest file entry (the kit format). */
export interface ManifestEntry {
  folder: string;
  name: string;
  url: string;
  sha256?: string;
  size?: number;
}

/** Writes a manifest YAML at `path` and returns the path. */
export async function writeManifest(path: string, files: ManifestEntry[], name = "test-kit"): Promise<string> {
  await Bun.write(path, stringify({ name, description: "files served by the test's weight host", files }));
  return path;
}

// settings the tests must not inherit from the machine running them
const CLEARED = ["MODELS_DIR", "EXTRA_MODEL_PATHS", "COMFY_URL", "HF_TOKEN", "CIVITAI_TOKEN", "PRELOAD_KIT"];

/**
 * Runs a command in-process with `env` on top of the process environment; captures stdout and stderr
 * (progress events and logs go straight to process.stderr, the error report through the CLI io).
 */
export async function runCliCaptured(args: string[], env: Record<string, string>) {
  const saved = { ...process.env };
  for (const key of CLEARED) delete process.env[key];
  Object.assign(process.env, { LOG_LEVEL: "error", ...env });
  const out: string[] = [];
  const err: string[] = [];
  const writeOut = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string) => out.push(String(chunk)) > 0) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => err.push(String(chunk)) > 0) as typeof process.stderr.write;
  try {
    const code = await runCli(args, { out: (t) => void out.push(t), err: (t) => void err.push(t) });
    return { code, stdout: out.join(""), stderr: err.join("") };
  } finally {
    process.stdout.write = writeOut;
    process.stderr.write = writeErr;
    process.env = saved;
  }
}

/** JSON-line events (`{"event": …}`) printed on stderr. */
export function events(stderr: string): Array<Record<string, unknown>> {
  return stderr
    .split("\n")
    .filter((line) => line.startsWith('{"event"'))
    .map((line) => JSON.parse(line));
}

/** `bun src/main.ts pull …` as its own process (for kill -9 and cross-process tests). */
export function spawnPull(args: string[], env: Record<string, string>) {
  return Bun.spawn([process.execPath, "src/main.ts", "pull", ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", LOG_LEVEL: "error", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
}

/** Waits for a spawned pull and returns its exit code and output. */
export async function finished(proc: ReturnType<typeof spawnPull>, timeoutMs = 60_000) {
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  try {
    const [stdout, stderr, code] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ]);
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}
