import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";

const ROOT = join(import.meta.dir, "../..");
export const BINARY = join(ROOT, "dist/comfy-worker");

function _newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? _newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Path of the compiled binary, building it first when it is missing or older than src/. */
export async function ensureBinary(): Promise<string> {
  const built = (() => {
    try {
      return statSync(BINARY).mtimeMs;
    } catch {
      return 0;
    }
  })();
  if (built < _newestSource(join(ROOT, "src"))) await _build();
  return BINARY;
}

// Built in a folder of its own, then renamed into place: a binary another test run is starting at that moment
// is never a half-written file, and two runs that build at once each install a whole one.
async function _build(): Promise<void> {
  mkdirSync(join(ROOT, "dist"), { recursive: true });
  const outdir = mkdtempSync(join(ROOT, "dist", ".build-"));
  try {
    const proc = Bun.spawn([process.execPath, "scripts/build.ts", "--outdir", outdir], {
      cwd: ROOT,
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
    if (code !== 0) throw new Error(`build failed: ${stderr}`);
    // the binary and its source map
    for (const name of readdirSync(outdir)) renameSync(join(outdir, name), join(ROOT, "dist", name));
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** A long-running binary (serve, emulate): its output is read as it comes, so a full pipe never blocks it. */
export interface RunningBinary {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** stdout and stderr so far. */
  output(): { stdout: string; stderr: string };
  /** The exit code and the whole output, once it has exited. */
  done: Promise<{ code: number; stdout: string; stderr: string }>;
}

export function spawnBinary(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}) {
  const proc = Bun.spawn([BINARY, ...args], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...options.env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const text = { stdout: "", stderr: "" };
  const collect = async (name: "stdout" | "stderr") => {
    const decoder = new TextDecoder();
    for await (const chunk of proc[name]) text[name] += decoder.decode(chunk, { stream: true });
  };
  const done = Promise.all([collect("stdout"), collect("stderr"), proc.exited]).then(([, , code]) => ({
    code,
    ...text,
  }));
  return { proc, output: () => ({ ...text }), done } satisfies RunningBinary;
}

/**
 * Polls `probe` until it is true. Fails at once, with the binary's output, when the binary exits first,
 * and after `timeoutMs` (generous: a loaded 2-core machine starts two 100 MB binaries slowly).
 */
export async function waitForBinary(
  running: RunningBinary,
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (running.proc.exitCode !== null || running.proc.signalCode !== null) break;
    if (await probe().catch(() => false)) return;
    await Bun.sleep(100);
  }
  const { stdout, stderr } = running.output();
  const exit = running.proc.exitCode ?? running.proc.signalCode;
  const state = exit === null ? `not within ${timeoutMs} ms` : `the binary exited first (${exit})`;
  throw new Error(`${what}: ${state}\n--- stdout\n${stdout.slice(-4000)}\n--- stderr\n${stderr.slice(-4000)}`);
}

/** Runs the binary to completion and returns its exit code and output. */
export async function runBinary(
  args: string[],
  options: { env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {},
) {
  const proc = Bun.spawn([BINARY, ...args], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...options.env },
    stdout: "pipe",
    stderr: "pipe",
    timeout: options.timeoutMs ?? 60_000,
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, stdout, stderr };
}
