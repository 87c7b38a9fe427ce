import { join } from "node:path";
import { stringify } from "yaml";
import { runCliCaptured } from "./cli.ts";

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

/** Runs a command in-process, capturing stdout and stderr (progress events and logs go to process.stderr). */
export function runPullCli(args: string[], env: Record<string, string>) {
  return runCliCaptured(args, env, { captureStderr: true });
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
