import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { delay } from "../lib/time.ts";
import type { Logger } from "../log.ts";
import { isGroupAlive, signalGroup } from "./_process.ts";

/** A process as the kernel knows it: pid plus start time (clock ticks since boot), which a reused pid never repeats. */
const ProcessId = z.object({ pid: z.number().int().positive(), startTicks: z.number().int().nonnegative() });
type ProcessId = z.infer<typeof ProcessId>;

// read back from disk, so validated like any other outside input
const PidRecord = z.object({
  comfy: ProcessId,
  argv: z.array(z.string()),
  owner: ProcessId,
  bootId: z.string(),
});
type PidRecord = z.infer<typeof PidRecord>;

const TERM_WAIT_MS = 5000;
const POLL_MS = 50;

/**
 * Which ComfyUI this worker started on a port, so that after a `kill -9` of the worker (no cleanup ran) the
 * next worker can tell its predecessor's ComfyUI — same pid and start time, same boot, its worker dead —
 * from anything else on the port, and stop it instead of refusing to start. Linux only (/proc); elsewhere a
 * no-op. Kept per user and port under the temp folder: `comfy-worker-<uid>/comfy-<port>.json`.
 */
export class PidFile {
  readonly path: string;

  constructor(port: number, dir = join(tmpdir(), `comfy-worker-${process.getuid?.() ?? "user"}`)) {
    this.path = join(dir, `comfy-${port}.json`);
  }

  /** Notes the ComfyUI just spawned (best effort: a read-only temp folder only loses the recovery). */
  record(pid: number, argv: string[]): void {
    const comfy = _identify(pid);
    const owner = _identify(process.pid);
    const bootId = _bootId();
    if (!comfy || !owner || !bootId) return;
    try {
      mkdirSync(join(this.path, ".."), { recursive: true, mode: 0o700 });
      const record: PidRecord = { comfy, argv, owner, bootId };
      writeFileSync(`${this.path}.tmp`, JSON.stringify(record), { mode: 0o600 });
      renameSync(`${this.path}.tmp`, this.path);
    } catch {
      // not fatal: only the recovery after a kill -9 is lost
    }
  }

  /** Forgets the ComfyUI `pid` once it is gone; a record of another worker's ComfyUI on this port is kept. */
  clear(pid: number): void {
    if (this.#read()?.comfy.pid === pid) rmSync(this.path, { force: true });
  }

  /**
   * Stops the recorded ComfyUI's whole process group when it is a leftover of a worker that died; true when it
   * did (and the group is gone). False when there is no record, the process is not the one recorded, or the
   * worker that started it still runs.
   */
  async stopLeftover(log: Logger): Promise<boolean> {
    const record = this.#read();
    if (!record || !_isLeftover(record)) return false;
    const { pid } = record.comfy;
    const what = `ComfyUI (pid ${pid}, ${record.argv.slice(0, 2).join(" ")})`;
    log.warn(`stopping ${what} left running by a worker that died (pid ${record.owner.pid})`);
    signalGroup(pid, "SIGTERM");
    const deadline = Date.now() + TERM_WAIT_MS;
    while (isGroupAlive(pid) && Date.now() < deadline) await delay(POLL_MS);
    if (isGroupAlive(pid)) signalGroup(pid, "SIGKILL");
    while (isGroupAlive(pid) && Date.now() < deadline + TERM_WAIT_MS) await delay(POLL_MS);
    this.clear(pid);
    return !isGroupAlive(pid);
  }

  #read(): PidRecord | undefined {
    try {
      // another user's file in a shared folder is not to be trusted with what we kill
      if (statSync(this.path).uid !== process.getuid?.()) return undefined;
      const parsed = PidRecord.safeParse(JSON.parse(readFileSync(this.path, "utf8")));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }
}

function _isLeftover(record: PidRecord): boolean {
  if (record.bootId !== _bootId()) return false;
  // pid and start time name one process per boot; its command line may differ from argv (a wrapper that execs)
  if (!_same(record.comfy)) return false;
  // still the leader of its own group (we spawn it with setsid), so signalling the group reaches only its tree
  if (_stat(record.comfy.pid)?.[2] !== String(record.comfy.pid)) return false;
  // the worker that started it is gone (or its pid now belongs to another process)
  return !_same(record.owner);
}

function _same(id: ProcessId): boolean {
  return _identify(id.pid)?.startTicks === id.startTicks;
}

function _identify(pid: number): ProcessId | undefined {
  const ticks = Number(_stat(pid)?.[19]);
  return Number.isInteger(ticks) ? { pid, startTicks: ticks } : undefined;
}

// /proc/<pid>/stat after "(comm) ": [state, ppid, pgrp, …]; field 22 (starttime) is index 19
function _stat(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

function _bootId(): string | undefined {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return undefined;
  }
}
