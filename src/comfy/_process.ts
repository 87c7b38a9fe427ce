import { existsSync, readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Subprocess } from "bun";
import { WorkerError } from "../errors.ts";
import { readLines } from "../lib/lines.ts";
import { delay, settlesWithin } from "../lib/time.ts";
import { programName } from "./command.ts";

/** How a spawned process ended. */
export interface ProcessEnd {
  code: number | null;
  signal: string | null;
}

/** One spawned ComfyUI process group and its output pumps. */
export interface GroupRun {
  readonly pid: number;
  /** Resolves (never rejects) when the group leader has exited. */
  readonly ended: Promise<ProcessEnd>;
  /** How the leader ended, once it has; undefined while it runs. */
  result(): ProcessEnd | undefined;
  /** Resolves when both output streams have been read to the end (or cancelled). */
  readonly drained: Promise<void>;
  /** Stops reading output, e.g. when a grandchild outside the group keeps a pipe open. */
  cancelOutput(): void;
}

export interface SpawnGroupOptions {
  argv: string[];
  cwd?: string;
  env?: Record<string, string>;
  onLine: (line: string, stream: "stdout" | "stderr") => void;
}

// after the leader exits, its output normally ends at once; a grandchild still holding the pipe must not stall us
const DRAIN_WAIT_MS = 1000;
// SIGKILL cannot be ignored, but a process in uninterruptible sleep (D state, e.g. a stuck GPU driver) takes a while
const KILL_WAIT_MS = 5000;
const GROUP_POLL_MS = 50;
const PID_RE = /^\d+$/;

/**
 * Spawns `argv` (no shell) as the leader of a new session and process group (`detached: true` is setsid(2)
 * on POSIX in Bun 1.4.5), so the whole tree can be signalled at once. On Linux it is started through
 * util-linux's `setpriv --pdeathsig KILL` when present, so it dies with us even on `kill -9` (Bun.spawn has
 * no parent-death option). Throws E_COMFY_START when it cannot be spawned at all (program or cwd missing).
 */
export function spawnGroup(options: SpawnGroupOptions): GroupRun {
  let proc: Subprocess<"ignore", "pipe", "pipe">;
  const env = { ...process.env, ...options.env };
  try {
    // found first, so a missing program is reported as such and not as setpriv's exit 127
    _checkProgram(options.argv[0] ?? "", env.PATH, options.cwd);
    proc = Bun.spawn([...deathSignalPrefix(), ...options.argv], {
      cwd: options.cwd,
      env,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      detached: true,
    });
  } catch (error) {
    const where = options.cwd ? ` in ${options.cwd}` : "";
    const message = `could not start ComfyUI (${programName(options.argv)}${where}): ${(error as Error).message}; check COMFY_CMD, COMFY_PYTHON and COMFY_DIR`;
    throw new WorkerError("E_COMFY_START", message, { cause: error, details: { argv0: options.argv[0] } });
  }
  const output = new AbortController();
  const pump = async (stream: ReadableStream<Uint8Array>, name: "stdout" | "stderr") => {
    for await (const line of readLines(stream, { signal: output.signal })) options.onLine(line, name);
  };
  const drained = Promise.all([pump(proc.stdout, "stdout"), pump(proc.stderr, "stderr")]).then(
    () => undefined,
    () => undefined, // a pipe error only means no more output
  );
  let result: ProcessEnd | undefined;
  const settle = (): ProcessEnd => {
    const signal = proc.signalCode;
    result = { code: proc.exitCode, signal: signal === null ? null : String(signal) };
    return result;
  };
  const ended = proc.exited.then(settle, settle);
  return { pid: proc.pid, ended, drained, result: () => result, cancelOutput: () => output.abort() };
}

let prefix: string[] | undefined;

/**
 * `setpriv --pdeathsig KILL --` (util-linux, essential on Debian and Ubuntu) or nothing. The kernel sends the
 * signal when the *thread* that forked the child exits; Bun spawns from its JS thread, which lives as long
 * as the process, so in practice: when this process dies, however it dies.
 */
export function deathSignalPrefix(): string[] {
  if (prefix) return prefix;
  const setpriv = process.platform === "linux" ? Bun.which("setpriv") : null;
  prefix = setpriv ? [setpriv, "--pdeathsig", "KILL", "--"] : [];
  return prefix;
}

function _checkProgram(program: string, path: string | undefined, cwd: string | undefined): void {
  if (cwd !== undefined && !existsSync(cwd)) throw new Error(`folder ${cwd} does not exist`);
  const found = program.includes("/")
    ? existsSync(resolve(cwd ?? ".", program))
    : Bun.which(program, { PATH: path ?? "" });
  if (!found) throw new Error(`program ${program} not found${program.includes("/") ? "" : " on PATH"}`);
}

/** Sends `signal` to every process of the group led by `pid`; false when the group no longer exists. */
export function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw error;
  }
}

/** Waits (bounded) for the leader's output to end after it exited, then stops reading. */
export async function settleOutput(run: GroupRun): Promise<void> {
  if (!(await settlesWithin(run.drained, DRAIN_WAIT_MS))) run.cancelOutput();
}

/** SIGKILLs the whole group at once and waits (bounded) for the leader and its output; for hangs and leftovers. */
export async function killGroup(run: GroupRun): Promise<ProcessEnd> {
  signalGroup(run.pid, "SIGKILL");
  await settlesWithin(run.ended, KILL_WAIT_MS);
  await settleOutput(run);
  return run.result() ?? { code: null, signal: null };
}

/**
 * Graceful stop: SIGTERM to the group, up to `graceMs` for every member to leave, then SIGKILL to whatever
 * is left. Grandchildren count too, so nothing outlives the stop.
 */
export async function terminateGroup(run: GroupRun, graceMs: number): Promise<void> {
  const deadline = Date.now() + graceMs;
  if (signalGroup(run.pid, "SIGTERM")) {
    await settlesWithin(run.ended, graceMs);
    // the leader is gone; its children may still be shutting down (there is no event for a group emptying)
    while (Date.now() < deadline && isGroupAlive(run.pid)) await delay(GROUP_POLL_MS);
  }
  await killGroup(run);
}

/**
 * True while a process of the group is still running. kill(-pgid, 0) alone also counts zombies nobody has
 * reaped yet (orphans when PID 1 is not an init like tini), so on Linux /proc decides.
 */
export function isGroupAlive(pgid: number): boolean {
  if (!signalGroup(pgid, 0)) return false;
  if (process.platform !== "linux") return true;
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return true;
  }
  return entries.some((entry) => _isLiveMember(entry, pgid));
}

function _isLiveMember(entry: string, pgid: number): boolean {
  if (!PID_RE.test(entry)) return false;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${entry}/stat`, "utf8");
  } catch {
    return false; // gone between readdir and read
  }
  // "pid (comm) state ppid pgrp …"; comm may contain spaces and parentheses, so split after the last ")"
  const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(pgrp) === pgid && state !== "Z";
}
