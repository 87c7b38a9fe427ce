// Processes for bench/job-overhead.ts: the emulator and the worker, both the compiled binary, plus what
// /proc says about a process (RSS, CPU time).
import { mkdtempSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { ensureBinary } from "../test/helpers/binary.ts";
import { freePort } from "../test/helpers/emulator.ts";

const READY_TIMEOUT_MS = 20_000;
const CLOCK_TICKS_PER_S = 100;
const RSS_SAMPLE_MS = 20;

/** A spawned binary with its URL (when it serves HTTP) and a stop that waits for the exit. */
export interface Spawned {
  url: string;
  proc: Subprocess;
  stop(): Promise<void>;
}

/** `comfy-worker emulate` on a free port with a model in its models folder. */
export async function spawnEmulator(nodeMs: number): Promise<Spawned> {
  const binary = await ensureBinary();
  const port = await freePort();
  const base = mkdtempSync(join(tmpdir(), "cw-bench-emu-"));
  await Bun.write(join(base, "models/checkpoints/bench.safetensors"), "dummy weights");
  const argv = [binary, "emulate", "--port", String(port), "--base", base, "--node-ms", String(nodeMs)];
  const proc = Bun.spawn(argv, { stdout: "ignore", stderr: "ignore" });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(() => fetch(`${url}/system_stats`).then((r) => r.ok), `emulator on ${url}`, proc);
  return { url, proc, stop: () => _stop(proc) };
}

/** `comfy-worker serve` attached to `comfyUrl`, with `env` on top of a quiet default; ready when /ready is 200. */
export async function spawnWorker(comfyUrl: string, env: Record<string, string> = {}): Promise<Spawned> {
  const binary = await ensureBinary();
  const port = await freePort();
  const proc = Bun.spawn([binary, "serve"], {
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      PORT: String(port),
      COMFY_URL: comfyUrl,
      LOG_LEVEL: "error",
      SERVE_MODE: "api",
      ...env,
    },
    stdout: "ignore",
    stderr: "inherit",
  });
  const url = `http://127.0.0.1:${port}`;
  if (env.SERVE_MODE !== "runpod")
    await waitFor(() => fetch(`${url}/ready`).then((r) => r.ok), `worker on ${url}`, proc);
  return { url, proc, stop: () => _stop(proc) };
}

/** Resident set size of a process, in MiB. */
export async function rssMiB(pid: number): Promise<number> {
  return (await memoryMiB(pid)).rss;
}

/** A process's resident memory in MiB: all of it, and its own (RssAnon; the rest is mapped files, the binary's pages). */
export async function memoryMiB(pid: number): Promise<{ rss: number; anon: number }> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const mib = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
  return { rss: mib("VmRSS"), anon: mib("RssAnon") };
}

/** Samples a process's RSS every RSS_SAMPLE_MS until stopped; resolves the highest value seen. */
export function sampleRss(pid: number): { stop(): Promise<number> } {
  let highest = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      highest = Math.max(highest, await rssMiB(pid));
      await Bun.sleep(RSS_SAMPLE_MS);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return highest;
    },
  };
}

/** User + system CPU time a process has used so far, in ms. */
export async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // fields after the command name (which may hold spaces) start at state, field 3; utime/stime are 14 and 15
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
}

/** Polls `check` until true; fails when `proc` exits first or after READY_TIMEOUT_MS. */
export async function waitFor(check: () => Promise<boolean>, what: string, proc?: Subprocess): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (proc?.exitCode !== null && proc?.exitCode !== undefined) throw new Error(`${what}: exited ${proc.exitCode}`);
    if (await check().catch(() => false)) return;
    await Bun.sleep(10);
  }
  throw new Error(`${what}: not ready within ${READY_TIMEOUT_MS} ms`);
}

async function _stop(proc: Subprocess): Promise<void> {
  proc.kill("SIGTERM");
  const exited = await Promise.race([proc.exited, Bun.sleep(5_000).then(() => "late")]);
  if (exited === "late") proc.kill("SIGKILL");
}
