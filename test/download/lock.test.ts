import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { acquireFileLock, isProcessAlive, type LockInfo } from "../../src/download/lock.ts";
import { tempDir } from "../helpers/download.ts";

const FAST = { pollMs: 20 } as const;

/** The pid of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const proc = Bun.spawn([process.execPath, "-e", ""], { stdout: "ignore", stderr: "ignore" });
  await proc.exited;
  return proc.pid;
}

function writeLock(path: string, info: Partial<LockInfo>, ageMs = 0): void {
  writeFileSync(path, JSON.stringify({ pid: 1, hostname: hostname(), nonce: "n", since: "t", ...info }));
  const at = new Date(Date.now() - ageMs);
  utimesSync(path, at, at);
}

describe("acquireFileLock", () => {
  test("a second taker waits for the holder, then gets the lock when it is released", async () => {
    using tmp = tempDir();
    const path = join(tmp.dir, "x.part.lock");
    const first = await acquireFileLock(path, FAST);
    const { promise: waiting, resolve: onWait } = Promise.withResolvers<LockInfo>();
    const second = acquireFileLock(path, { ...FAST, onWait });
    const holder = await waiting;
    expect(holder.pid).toBe(process.pid);
    await first.release();
    const lock = await second;
    expect(JSON.parse(readFileSync(path, "utf8")).nonce).not.toBe(holder.nonce);
    await lock.release();
    expect(existsSync(path)).toBe(false);
  });

  test("takes over at once a lock left by a dead process on this host (a kill -9)", async () => {
    using tmp = tempDir();
    const path = join(tmp.dir, "x.part.lock");
    const pid = await deadPid();
    expect(isProcessAlive(pid)).toBe(false);
    writeLock(path, { pid });
    let waited = false;
    const lock = await acquireFileLock(path, { ...FAST, onWait: () => (waited = true) });
    expect(waited).toBe(false);
    expect(JSON.parse(readFileSync(path, "utf8")).pid).toBe(process.pid);
    await lock.release();
  });

  test("waits for a live holder on another host, and takes over once its heartbeat is stale", async () => {
    using tmp = tempDir();
    const path = join(tmp.dir, "x.part.lock");
    writeLock(path, { hostname: "another-host", pid: 4242 });
    const controller = new AbortController();
    const run = acquireFileLock(path, { ...FAST, signal: controller.signal, onWait: () => controller.abort() });
    await expect(run).rejects.toMatchObject({ code: "E_INTERRUPTED" });
    writeLock(path, { hostname: "another-host", pid: 4242 }, 120_000);
    const lock = await acquireFileLock(path, FAST);
    expect(JSON.parse(readFileSync(path, "utf8")).hostname).toBe(hostname());
    await lock.release();
  });

  test("release leaves alone a lock that is no longer ours", async () => {
    using tmp = tempDir();
    const path = join(tmp.dir, "x.part.lock");
    const lock = await acquireFileLock(path, FAST);
    writeLock(path, { nonce: "someone-else" });
    await lock.release();
    expect(existsSync(path)).toBe(true);
  });
});
