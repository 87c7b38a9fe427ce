import { constants } from "node:fs";
import { open, readFile, stat, unlink, utimes } from "node:fs/promises";
import { hostname } from "node:os";
import { z } from "zod";
import { delay } from "../lib/time.ts";
import { abortError } from "./retry.ts";

// the holder touches its lock this often; a lock untouched for LOCK_STALE_MS belongs to a dead or frozen holder
export const LOCK_HEARTBEAT_MS = 5_000;
export const LOCK_STALE_MS = 60_000;
export const LOCK_POLL_MS = 500;

/** Who holds a lock file: enough to tell a live holder from a crashed one. */
export const LockInfo = z.object({ pid: z.number().int(), hostname: z.string(), nonce: z.string(), since: z.string() });
export type LockInfo = z.infer<typeof LockInfo>;

/** A held lock; `release` is idempotent and removes the file only while it is still ours. */
export interface FileLock {
  path: string;
  release(): Promise<void>;
}

/** Options for {@link acquireFileLock}. */
export interface LockOptions {
  signal?: AbortSignal | undefined;
  /** Called once when another live process holds the lock and we start waiting. */
  onWait?: (holder: LockInfo) => void;
  staleMs?: number;
  pollMs?: number;
}

/**
 * Takes `path` as a lock file shared by every process on this volume: created with O_EXCL, holding our
 * pid, host and a nonce, its mtime refreshed as a heartbeat. Waits while a live holder has it; takes
 * over a lock whose holder is dead (same host, pid gone, e.g. after kill -9) or whose heartbeat stopped.
 */
export async function acquireFileLock(path: string, options: LockOptions = {}): Promise<FileLock> {
  const info: LockInfo = {
    pid: process.pid,
    hostname: hostname(),
    nonce: crypto.randomUUID(),
    since: new Date().toISOString(),
  };
  let waited = false;
  for (;;) {
    if (await _tryCreate(path, info)) return _held(path, info);
    const holder = await _readHolder(path);
    if (holder === "gone") continue;
    if (await _isStale(path, holder, options.staleMs ?? LOCK_STALE_MS)) {
      await _takeOver(path, holder);
      continue;
    }
    if (!waited && holder !== "unreadable") options.onWait?.(holder);
    waited = true;
    if (!(await delay(options.pollMs ?? LOCK_POLL_MS, options.signal)))
      throw abortError(options.signal, `waiting for ${path}`);
  }
}

/** True when `pid` is a live process on this host (EPERM means alive but not ours). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function _tryCreate(path: string, info: LockInfo): Promise<boolean> {
  try {
    const handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
    await handle.writeFile(JSON.stringify(info));
    await handle.close();
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
}

async function _readHolder(path: string): Promise<LockInfo | "gone" | "unreadable"> {
  try {
    const parsed = LockInfo.safeParse(JSON.parse(await readFile(path, "utf8")));
    return parsed.success ? parsed.data : "unreadable";
  } catch (error) {
    // a holder between O_EXCL create and its write leaves an empty file for a moment: unreadable, not stale
    return (error as NodeJS.ErrnoException).code === "ENOENT" ? "gone" : "unreadable";
  }
}

async function _isStale(path: string, holder: LockInfo | "unreadable", staleMs: number): Promise<boolean> {
  if (holder !== "unreadable" && holder.hostname === hostname() && !isProcessAlive(holder.pid)) return true;
  const mtimeMs = await stat(path).then(
    (info) => info.mtimeMs,
    () => Date.now(),
  );
  return Date.now() - mtimeMs > staleMs;
}

// Two waiters may judge the same lock stale; a short-lived O_EXCL `.takeover` file lets one of them
// remove it, and the nonce check stops a waiter from removing a fresh lock another one just created.
async function _takeOver(path: string, holder: LockInfo | "unreadable"): Promise<void> {
  const guard = `${path}.takeover`;
  if (!(await _tryCreate(guard, { pid: process.pid, hostname: hostname(), nonce: "", since: "" }))) {
    const age = await stat(guard).then(
      (info) => Date.now() - info.mtimeMs,
      () => 0,
    );
    if (age > LOCK_HEARTBEAT_MS) await unlink(guard).catch(() => {});
    else await delay(LOCK_POLL_MS / 5);
    return;
  }
  try {
    const current = await _readHolder(path);
    const same =
      current === "unreadable"
        ? holder === "unreadable"
        : current !== "gone" && holder !== "unreadable" && current.nonce === holder.nonce;
    if (same) await unlink(path).catch(() => {});
  } finally {
    await unlink(guard).catch(() => {});
  }
}

function _held(path: string, info: LockInfo): FileLock {
  const beat = setInterval(() => {
    const now = new Date();
    // a failed touch (the lock removed by hand) just lets others take over after LOCK_STALE_MS
    utimes(path, now, now).catch(() => {});
  }, LOCK_HEARTBEAT_MS);
  beat.unref();
  let released = false;
  return {
    path,
    async release() {
      if (released) return;
      released = true;
      clearInterval(beat);
      const current = await _readHolder(path);
      if (current !== "gone" && current !== "unreadable" && current.nonce === info.nonce)
        await unlink(path).catch(() => {});
    },
  };
}
