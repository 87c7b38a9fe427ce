import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { isListening } from "../../src/comfy/_port.ts";
import { freePort } from "../helpers/emulator.ts";
import { MODELS_DIR } from "../helpers/worker.ts";
import { goneWithin, isAlive } from "./_supervisor-helpers.ts";

// issue 10 point 3: `kill -9` of the worker must not leave ComfyUI running, and a ComfyUI left by a dead
// predecessor is recognised (pid file + identity) and stopped instead of making the next worker refuse to start

const ROOT = join(import.meta.dir, "../..");
const procs: Subprocess[] = [];
const pids: number[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const proc of procs.splice(0)) {
    if (proc.exitCode === null) proc.kill("SIGKILL");
    await proc.exited;
  }
  // an emulator orphaned on purpose (or by a failing test) must not outlive the test
  for (const pid of pids.splice(0)) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {}
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

interface Worker {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  base: string;
  output: () => string;
}

/** `serve --emulate --mode api` as a real process; PATH without setpriv turns the parent-death signal off. */
function startWorker(env: Record<string, string>, options: { withoutSetpriv?: boolean } = {}): Worker {
  const proc = Bun.spawn([process.execPath, "src/main.ts", "serve", "--emulate", "--mode", "api"], {
    cwd: ROOT,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: {
      PATH: options.withoutSetpriv ? "/nonexistent" : (process.env.PATH ?? ""),
      HOME: process.env.HOME ?? "/tmp",
      LOG_FORMAT: "json",
      EXTRA_MODEL_PATHS: join(MODELS_DIR, "extra_model_paths.yaml"),
      ...env,
    },
  });
  procs.push(proc);
  let output = "";
  const decoder = new TextDecoder();
  for (const stream of [proc.stdout, proc.stderr])
    void (async () => {
      for await (const chunk of stream) output += decoder.decode(chunk, { stream: true });
    })();
  return { proc, base: `http://127.0.0.1:${env.PORT}`, output: () => output };
}

/** Waits until /health says ready; returns the supervised ComfyUI's pid. */
async function comfyPid(worker: Worker): Promise<number> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && worker.proc.exitCode === null) {
    const health = await fetch(`${worker.base}/health`)
      .then((res) => res.json() as Promise<{ status: string; comfy: { pid: number | null } }>)
      .catch(() => undefined);
    if (health?.status === "ready" && health.comfy.pid) {
      pids.push(health.comfy.pid);
      return health.comfy.pid;
    }
    await Bun.sleep(100);
  }
  throw new Error(`worker never became ready (exit ${worker.proc.exitCode}):\n${worker.output()}`);
}

async function ports(tmp: string) {
  return { PORT: String(await freePort()), COMFY_PORT: String(await freePort()), TMPDIR: tmp };
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "cw-orphans-"));
  dirs.push(dir);
  return dir;
}

test("kill -9 of the worker takes its ComfyUI down with it (parent-death signal)", async () => {
  const env = await ports(tempDir());
  const worker = startWorker(env);
  const pid = await comfyPid(worker);
  // it ran a while first: the signal is tied to the thread that spawned it, which must still be alive
  await Bun.sleep(1_500);
  expect(isAlive(pid)).toBe(true);
  worker.proc.kill("SIGKILL");
  expect(await goneWithin(pid, 5_000)).toBe(true);
  expect(await isListening("127.0.0.1", Number(env.COMFY_PORT), 1_000)).toBe(false);
}, 60_000);

test("a ComfyUI left running by a worker killed with -9 is recognised and stopped by the next worker", async () => {
  const env = await ports(tempDir());
  // without setpriv nothing kills the child with its parent: the leftover the pid file is for
  const first = startWorker(env, { withoutSetpriv: true });
  const orphan = await comfyPid(first);
  first.proc.kill("SIGKILL");
  await first.proc.exited;
  await Bun.sleep(300);
  expect(isAlive(orphan)).toBe(true);
  expect(await isListening("127.0.0.1", Number(env.COMFY_PORT), 1_000)).toBe(true);

  const second = startWorker({ ...env, PORT: String(await freePort()) });
  const fresh = await comfyPid(second);
  expect(fresh).not.toBe(orphan);
  expect(isAlive(orphan)).toBe(false);
  expect(second.output()).toContain(`stopping ComfyUI (pid ${orphan}`);
  expect(second.output()).toContain("left running by a worker that died");
}, 90_000);

test("a ComfyUI whose worker is still alive is not touched: the second worker refuses the port (exit 2)", async () => {
  const env = await ports(tempDir());
  const first = startWorker(env);
  const pid = await comfyPid(first);
  const second = startWorker({ ...env, PORT: String(await freePort()) });
  expect(await second.proc.exited).toBe(2);
  expect(second.output()).toContain(`port ${env.COMFY_PORT} (COMFY_PORT) is already in use`);
  expect(isAlive(pid)).toBe(true);
  expect((await fetch(`${first.base}/ready`)).status).toBe(200);
}, 60_000);
