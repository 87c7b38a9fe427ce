import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ComfyExit,
  type ComfyHandle,
  createSupervisor,
  type SupervisorOptions,
} from "../../src/comfy/supervisor.ts";
import {
  cleanUpAfterEach,
  cleanup,
  FAKE_COMFY,
  freePort,
  goneWithin,
  memoryLogger,
  nextExit,
  ROOT,
  rejection,
  until,
} from "./_supervisor-helpers.ts";

cleanUpAfterEach();

async function fake(args: string[], overrides: Partial<SupervisorOptions> = {}) {
  const port = await freePort();
  const log = memoryLogger();
  const handle = createSupervisor({
    argv: [process.execPath, FAKE_COMFY, "--port", String(port), ...args],
    cwd: ROOT,
    url: `http://127.0.0.1:${port}/`,
    logLines: 100,
    readyTimeoutMs: 5000,
    healthIntervalMs: 200,
    healthTimeoutMs: 500,
    maxRestarts: 3,
    backoffInitialMs: 100,
    backoffMaxMs: 400,
    log,
    ...overrides,
  });
  cleanup.handles.push(handle);
  return { handle, log, port };
}

function grandchildPid(handle: ComfyHandle): number {
  const line = handle.logs().find((l) => l.startsWith("grandchild pid "));
  if (!line) throw new Error(`no grandchild line in ${handle.logs().join(" | ")}`);
  const pid = Number(line.slice("grandchild pid ".length));
  cleanup.pids.push(pid);
  return pid;
}

describe("createSupervisor", () => {
  test("starts ComfyUI as its own process group and is ready once /system_stats answers", async () => {
    const { handle, log } = await fake(["--lines", "3"]);
    const states: string[] = [];
    handle.onState((state) => states.push(state));
    expect(handle.state).toBe("starting");
    await handle.start();
    expect(handle.state).toBe("ready");
    expect(handle.url).not.toEndWith("/");
    expect(handle.supervised).toBe(true);
    expect(handle.generation).toBe(1);
    expect(handle.restarts).toBe(0);
    const pid = handle.pid as number;
    cleanup.pids.push(pid);
    // detached: true is setsid(2): the child leads its own session and process group
    const ps = Bun.spawnSync(["ps", "-o", "pgid=,sid=", "-p", String(pid)]);
    expect(ps.stdout.toString().trim().split(/\s+/).map(Number)).toEqual([pid, pid]);
    await handle.waitReady();
    expect(handle.logs()).toEqual(expect.arrayContaining([`fake-comfy pid ${pid}`, "line 3", "Starting server"]));
    expect(log.entries).toContainEqual({ level: "info", message: "line 2", tag: "comfy" });
    expect(states).toEqual(["ready"]);
  });

  test("decides readiness by probing even when the GUI line never comes", async () => {
    const { handle } = await fake(["--no-gui", "--delay-ms", "300"]);
    await handle.start();
    expect(handle.state).toBe("ready");
    expect(handle.logs().some((line) => line.includes("To see the GUI"))).toBe(false);
  });

  test("fails at once with E_COMFY_START, the exit code and the last lines when ComfyUI exits before ready", async () => {
    const { handle, log } = await fake(["--lines", "80", "--exit-early", "7"], { readyTimeoutMs: 10_000 });
    const started = Date.now();
    const error = await rejection(handle.start());
    expect(Date.now() - started).toBeLessThan(3000);
    expect(error.code).toBe("E_COMFY_START");
    expect(error.message).toContain("exit code 7");
    expect(error.message).toContain("RuntimeError: fake-comfy failed on purpose");
    const lines = error.details.last_log_lines as string[];
    expect(lines).toHaveLength(50);
    expect(lines.at(-1)).toBe("RuntimeError: fake-comfy failed on purpose");
    expect(handle.state).toBe("failed");
    expect(handle.lastExit).toMatchObject({ reason: "exit", code: 7, signal: null });
    expect((await rejection(handle.waitReady())).code).toBe("E_COMFY_START");
    expect(log.entries).toContainEqual({ level: "warn", message: "Traceback (most recent call last):", tag: "comfy" });
  });

  test("fails with E_COMFY_START when a program cannot be spawned at all", async () => {
    const handle = createSupervisor({
      argv: ["/nonexistent/python3", "main.py"],
      url: "http://127.0.0.1:9",
      logLines: 10,
      readyTimeoutMs: 5000,
      healthIntervalMs: 200,
      healthTimeoutMs: 500,
      maxRestarts: 1,
      log: memoryLogger(),
    });
    cleanup.handles.push(handle);
    const error = await rejection(handle.start());
    expect(error.code).toBe("E_COMFY_START");
    expect(error.message).toContain("python3");
    expect(handle.state).toBe("failed");
  });

  test("refuses to start when another ComfyUI already answers on its port", async () => {
    const { handle, port } = await fake([]);
    const other = Bun.serve({ port, hostname: "127.0.0.1", fetch: () => Response.json({ devices: [] }) });
    cleanup.servers.push(other);
    const error = await rejection(handle.start());
    // a port taken by someone else is this machine's configuration (exit 2), not ComfyUI failing (6)
    expect(error.code).toBe("E_CONFIG");
    expect(error.message).toContain(`port ${port} (COMFY_PORT) is already in use`);
    expect(error.message).toContain("already answers");
    expect(error.message).toContain("COMFY_URL");
    expect(handle.generation).toBe(0);
    expect(handle.state).toBe("failed");
  });

  test("refuses to start when a program that is not ComfyUI holds its port", async () => {
    const { handle, port } = await fake([]);
    const other = Bun.listen({
      hostname: "127.0.0.1",
      port,
      socket: { open: (socket) => void socket.end(), data() {} },
    });
    const error = await rejection(handle.start()).finally(() => other.stop(true));
    expect(error.code).toBe("E_CONFIG");
    expect(error.message).toContain(`another program already listens on port ${port}`);
    expect(error.message).not.toContain("COMFY_URL");
    expect(handle.generation).toBe(0);
  });

  test("kills the whole group and fails with E_COMFY_START when not ready within the ready timeout", async () => {
    const { handle } = await fake(["--grandchild", "--delay-ms", "20000"], { readyTimeoutMs: 700 });
    const exited = nextExit(handle);
    const started = Date.now();
    const error = await rejection(handle.start());
    expect(Date.now() - started).toBeGreaterThanOrEqual(650);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(error.code).toBe("E_COMFY_START");
    expect(error.message).toContain("COMFY_READY_TIMEOUT_S");
    expect((await exited).reason).toBe("ready-timeout");
    expect(await goneWithin(grandchildPid(handle), 2000)).toBe(true);
  });

  test("keeps exactly the last N lines in its ring buffer, CRLF stripped, a partial final line included", async () => {
    const { handle } = await fake(["--lines", "30", "--crlf", "--partial", "tail without newline"], { logLines: 10 });
    await handle.start();
    await handle.stop(1000);
    const lines = handle.logs();
    expect(lines).toHaveLength(10);
    expect(lines.at(-1)).toBe("tail without newline");
    expect(lines).toContain("line 30");
    expect(lines.some((line) => line.includes("\r"))).toBe(false);
    expect(handle.logs(3)).toEqual(lines.slice(-3));
  });

  test("real 0.28.2 output: colour codes removed everywhere, tagged lines relayed at their level without the tag", async () => {
    // app/logger.py colours its [LEVEL] tag even into a pipe; these lines were recorded from a real ComfyUI 0.28.2
    const { handle, log } = await fake(["--print-file", join(ROOT, "test/fixtures/comfy-0.28.2-lines.txt")]);
    await handle.start();
    expect(handle.logs().some((line) => line.includes("\u001b"))).toBe(false);
    expect(handle.logs()).toContain("[WARNING] WARNING: blake3 package not installed");
    const relayed = log.entries.filter((entry) => entry.tag === "comfy");
    expect(
      relayed.some((entry) => entry.message.includes("\u001b") || /^\[(INFO|WARNING|ERROR)\]/.test(entry.message)),
    ).toBe(false);
    const levelOf = (start: string) => relayed.find((entry) => entry.message.startsWith(start))?.level;
    expect(levelOf("WARNING: blake3 package not installed")).toBe("warn");
    expect(levelOf("Failed to import comfy_kitchen")).toBe("error");
    expect(levelOf("!!! Exception during processing !!!")).toBe("error");
    expect(levelOf("Total VRAM 24105 MB")).toBe("info");
    expect(levelOf("ModuleNotFoundError: No module named 'definitely_missing_dep'")).toBe("warn");
    await handle.stop(1000);
  });

  test("notices a crash at once, restarts with backoff, and is ready again as a new generation", async () => {
    const { handle } = await fake([], { backoffInitialMs: 400, backoffMaxMs: 400 });
    await handle.start();
    const firstPid = handle.pid as number;
    const exited = nextExit(handle);
    const killedAt = Date.now();
    process.kill(firstPid, "SIGKILL");
    const exit = await exited;
    expect(exit.at - killedAt).toBeLessThan(300);
    expect(exit).toMatchObject({ reason: "exit", code: null, signal: "SIGKILL" });
    expect(exit.lastLines).toContain("Starting server");
    expect(handle.state).not.toBe("ready");
    await handle.waitReady(AbortSignal.timeout(5000));
    // jitter takes off at most half of the 400 ms backoff
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(200);
    expect(handle.generation).toBe(2);
    expect(handle.restarts).toBe(1);
    expect(handle.pid).not.toBe(firstPid);
    expect(handle.state).toBe("ready");
  });

  test("with hang detection off (interval 0) it still notices a crash at once and ignores a hang", async () => {
    const { handle } = await fake(["--hang-after-ms", "300"], { healthIntervalMs: 0 });
    await handle.start();
    const exited = nextExit(handle);
    // hung from 300 ms on; with detection on (200 + 500 ms) it would be killed by 1000 ms
    await Bun.sleep(1100);
    expect(handle.state).toBe("ready");
    const killedAt = Date.now();
    process.kill(handle.pid as number, "SIGKILL");
    expect((await exited).at - killedAt).toBeLessThan(300);
  });

  test("detects a hang within interval + timeout, kills the group and restarts", async () => {
    const { handle, log } = await fake(["--grandchild", "--hang-after-ms", "300"]);
    await handle.start();
    const grandchild = grandchildPid(handle);
    const readyAt = Date.now();
    const exit = await nextExit(handle);
    // it hangs again 300 ms after each restart, so catch the next ready moment now
    const readyAgain = handle.waitReady(AbortSignal.timeout(3000)).then(() => handle.generation);
    expect(exit.reason).toBe("hang");
    expect(exit.signal).toBe("SIGKILL");
    // hang starts at 300 ms; probes every 200 ms time out after 500 ms (+ slack for a loaded machine)
    expect(exit.at - readyAt).toBeGreaterThanOrEqual(300 + 500);
    expect(exit.at - readyAt).toBeLessThan(300 + 200 + 500 + 400);
    expect(await goneWithin(grandchild, 2000)).toBe(true);
    expect(log.entries.some((e) => e.level === "error" && e.message.includes("stopped answering"))).toBe(true);
    expect(await readyAgain).toBe(2);
  });

  test("gives up after maxRestarts restarts in the window: state failed, waitReady rejects E_COMFY_DIED", async () => {
    const { handle } = await fake(["--exit-after-ms", "150"], { maxRestarts: 2, backoffInitialMs: 50 });
    const exits: ComfyExit[] = [];
    handle.onExit((exit) => exits.push(exit));
    await handle.start();
    expect(await until(() => handle.state === "failed", 5000)).toBe(true);
    const error = await rejection(handle.waitReady());
    expect(error.code).toBe("E_COMFY_DIED");
    expect(error.message).toContain("COMFY_MAX_RESTARTS");
    expect(error.details.last_log_lines).toContain("fake-comfy: crashing on purpose");
    expect(handle.state).toBe("failed");
    expect(handle.restarts).toBe(2);
    expect(handle.generation).toBe(3);
    expect(exits.map((exit) => exit.code)).toEqual([3, 3, 3]);
  });

  test("stop() terminates the whole group, grandchild included, and is idempotent", async () => {
    const { handle } = await fake(["--grandchild"]);
    await handle.start();
    const pid = handle.pid as number;
    const grandchild = grandchildPid(handle);
    const started = Date.now();
    const stopping = handle.stop(5000);
    expect(handle.stop()).toBe(stopping);
    expect(handle.state).toBe("stopping");
    await stopping;
    expect(Date.now() - started).toBeLessThan(2000);
    expect(handle.state).toBe("stopped");
    expect(handle.pid).toBeUndefined();
    expect(await goneWithin(pid, 1000)).toBe(true);
    expect(await goneWithin(grandchild, 1000)).toBe(true);
    expect(handle.lastExit).toBeUndefined();
    expect((await rejection(handle.waitReady())).code).toBe("E_INTERRUPTED");
  });

  test("stop() escalates to SIGKILL after the grace when SIGTERM is ignored", async () => {
    const { handle } = await fake(["--ignore-term", "--grandchild"]);
    await handle.start();
    const pid = handle.pid as number;
    const grandchild = grandchildPid(handle);
    const started = Date.now();
    await handle.stop(400);
    expect(Date.now() - started).toBeGreaterThanOrEqual(380);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(handle.logs()).toContain("fake-comfy: ignoring SIGTERM");
    expect(await goneWithin(pid, 1000)).toBe(true);
    expect(await goneWithin(grandchild, 1000)).toBe(true);
  });

  test("stop() during start makes start() reject with E_INTERRUPTED and leaves no process", async () => {
    const { handle } = await fake(["--delay-ms", "20000"]);
    const starting = rejection(handle.start());
    await until(() => handle.pid !== undefined, 2000);
    const pid = handle.pid as number;
    await handle.stop(500);
    expect((await starting).code).toBe("E_INTERRUPTED");
    expect(await goneWithin(pid, 1000)).toBe(true);
    expect(handle.state).toBe("stopped");
  });

  test("leaves no timer or socket that keeps the process alive after stop()", async () => {
    const dir = mkdtempSync(join(tmpdir(), "supervisor-exit-"));
    const port = await freePort();
    const script = join(dir, "script.ts");
    writeFileSync(
      script,
      `import { createSupervisor } from ${JSON.stringify(join(ROOT, "src/comfy/supervisor.ts"))};
const log = { error() {}, warn() {}, info() {}, debug() {}, trace() {}, child() { return log; } };
const handle = createSupervisor({ argv: [process.execPath, ${JSON.stringify(FAKE_COMFY)}, "--port", "${port}"],
  url: "http://127.0.0.1:${port}", logLines: 10, readyTimeoutMs: 5000, healthIntervalMs: 50,
  healthTimeoutMs: 30000, maxRestarts: 3, log });
await handle.start();
await Bun.sleep(200);
await handle.stop();
console.log("stopped");
`,
    );
    try {
      const proc = Bun.spawn([process.execPath, script], { stdout: "pipe", stderr: "pipe" });
      const started = Date.now();
      const code = await Promise.race([proc.exited, Bun.sleep(5000).then(() => "timeout" as const)]);
      if (code === "timeout") proc.kill("SIGKILL");
      expect(code).toBe(0);
      expect(Date.now() - started).toBeLessThan(4000);
      expect(await new Response(proc.stdout).text()).toBe("stopped\n");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
