import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

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
  if (built < _newestSource(join(ROOT, "src"))) {
    const proc = Bun.spawn([process.execPath, "scripts/build.ts"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    if ((await proc.exited) !== 0) throw new Error(`build failed: ${await new Response(proc.stderr).text()}`);
  }
  return BINARY;
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
    timeout: options.timeoutMs ?? 20_000,
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, stdout, stderr };
}
