import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");

/** Starts `comfy-worker sync …` from source as its own process (so it can be killed -9 and its memory read). */
export function spawnSync(args: string[], env: Record<string, string>) {
  return Bun.spawn([process.execPath, join(ROOT, "src/main.ts"), "sync", ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", LOG_LEVEL: "error", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
}

/** Peak resident memory of a running process in bytes (VmHWM), or undefined once it is gone. */
export async function peakRss(pid: number): Promise<number | undefined> {
  try {
    const status = await Bun.file(`/proc/${pid}/status`).text();
    const kb = status.match(/VmHWM:\s+(\d+) kB/)?.[1];
    return kb ? Number(kb) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Polls `check` every 50 ms until it returns true or `ms` pass; throws naming `what` on timeout. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await Bun.sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}
