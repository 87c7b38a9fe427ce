import { afterEach, expect } from "bun:test";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import type { ComfyExit, ComfyHandle } from "../../src/comfy/supervisor.ts";
import { isWorkerError, type WorkerError } from "../../src/errors.ts";
import type { Logger } from "../../src/log.ts";

// shared by the supervisor, emulator-supervisor and attach tests

export const ROOT = resolve(import.meta.dir, "../..");
export const FAKE_COMFY = join(ROOT, "test/fixtures/fake-comfy.ts");

export interface LogEntry {
  level: string;
  message: string;
  tag?: string;
}

/** A Logger that keeps every entry (with its tag) in memory. */
export function memoryLogger(entries: LogEntry[] = [], tag?: string): Logger & { entries: LogEntry[] } {
  const at = (level: string) => (message: string) => void entries.push({ level, message, ...(tag ? { tag } : {}) });
  return {
    entries,
    error: at("error"),
    warn: at("warn"),
    info: at("info"),
    debug: at("debug"),
    trace: at("trace"),
    child: (bindings) => memoryLogger(entries, bindings.tag ?? tag),
  };
}

/** A port nothing listens on right now (listen on 0, read the port, close). */
export async function freePort(): Promise<number> {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = server.port as number;
  await server.stop(true);
  return port;
}

/**
 * True while `pid` runs; a zombie (killed, not yet reaped; here PID 1 reaps lazily) counts as gone. Every thread
 * counts: a killed multi-threaded process (Bun, Python) shows its main thread as a zombie while the others are
 * still exiting, and its sockets stay open until the last one has.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    expect((error as NodeJS.ErrnoException).code).toBe("ESRCH");
    return false;
  }
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return true; // no /proc here, or gone this instant: the signal's answer stands and the next poll decides
  }
  return tasks.some((tid) => _state(`/proc/${pid}/task/${tid}/stat`) !== "Z");
}

// a thread gone between readdir and read counts as a zombie
function _state(statFile: string): string {
  let stat: string;
  try {
    stat = readFileSync(statFile, "utf8");
  } catch {
    return "Z";
  }
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
}

export async function goneWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await Bun.sleep(20);
  }
  return !isAlive(pid);
}

export async function until(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && !check()) await Bun.sleep(10);
  return check();
}

/** The next onExit event, stamped with when it fired. */
export function nextExit(handle: ComfyHandle): Promise<ComfyExit & { at: number }> {
  return new Promise((resolveExit) => {
    const off = handle.onExit((exit) => {
      off();
      resolveExit({ ...exit, at: Date.now() });
    });
  });
}

/** The WorkerError `promise` rejects with (fails the test when it resolves or rejects otherwise). */
export async function rejection(promise: Promise<unknown>): Promise<WorkerError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isWorkerError(error)) throw new Error(`expected a WorkerError, got ${String(error)}`);
  return error;
}

/** Things a test started; everything is stopped, killed or removed after each test. */
export const cleanup = {
  handles: [] as ComfyHandle[],
  servers: [] as { stop(force?: boolean): Promise<void> | void }[],
  pids: [] as number[],
  dirs: [] as string[],
};

/** Registers the afterEach that empties `cleanup`; call once per test file. */
export function cleanUpAfterEach(): void {
  afterEach(async () => {
    await Promise.all(cleanup.handles.splice(0).map((handle) => handle.stop(200)));
    await Promise.all(cleanup.servers.splice(0).map((server) => server.stop(true)));
    for (const pid of cleanup.pids.splice(0)) if (isAlive(pid)) process.kill(pid, "SIGKILL");
    for (const dir of cleanup.dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
}
