import { afterEach, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config.ts";
import { startWorker } from "../../src/worker/start.ts";
import { memoryLogger } from "../comfy/_supervisor-helpers.ts";
import { freePort } from "../helpers/emulator.ts";
import { startFakeRunpod } from "../helpers/fake-runpod.ts";
import { MODELS_DIR } from "../helpers/worker.ts";

// issue 10 points 9 and 10: HOST and the real bound address; ports in use and a missing COMFY_DIR are
// configuration errors (exit 2) that name the setting, and leave no temp folder behind

const ROOT = join(import.meta.dir, "../..");
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** `bun src/main.ts serve …` run to its end with a private TMPDIR; returns its exit code, output and TMPDIR. */
async function serveUntilExit(args: string[], env: Record<string, string>) {
  const tmp = tempDir("cw-listen-tmp-");
  const proc = Bun.spawn([process.execPath, "src/main.ts", "serve", ...args], {
    cwd: ROOT,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    timeout: 30_000,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      TMPDIR: tmp,
      LOG_FORMAT: "json",
      PORT: String(await freePort()),
      COMFY_PORT: String(await freePort()),
      EXTRA_MODEL_PATHS: join(MODELS_DIR, "extra_model_paths.yaml"),
      ...env,
    },
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, output: stdout + stderr, stderr, leftInTmp: readdirSync(tmp) };
}

/** A TCP listener on loopback that is no HTTP server at all. */
function tcpListener(port: number): void {
  const listener = Bun.listen({
    hostname: "127.0.0.1",
    port,
    socket: { open: (socket) => void socket.end(), data() {} },
  });
  cleanups.push(() => listener.stop(true));
}

test("HOST defaults to 127.0.0.1 by hand and to 0.0.0.0 when RunPod's variables are present; HOST wins", () => {
  expect(loadConfig({ env: {} }).HOST).toBe("127.0.0.1");
  for (const key of ["RUNPOD_POD_ID", "RUNPOD_ENDPOINT_ID", "RUNPOD_WEBHOOK_GET_JOB"])
    expect(loadConfig({ env: { [key]: "x" } }).HOST).toBe("0.0.0.0");
  expect(loadConfig({ env: { RUNPOD_POD_ID: "x", HOST: "127.0.0.1" } }).HOST).toBe("127.0.0.1");
  expect(loadConfig({ env: { HOST: "::1" } }).HOST).toBe("::1");
});

test("serve binds HOST and logs the address it really bound", async () => {
  const log = memoryLogger();
  const config = loadConfig({
    env: {
      PORT: String(await freePort()),
      COMFY_PORT: String(await freePort()),
      EXTRA_MODEL_PATHS: join(MODELS_DIR, "extra_model_paths.yaml"),
      LOG_LEVEL: "error",
    },
  });
  const worker = await startWorker(config, log, { emulate: true });
  cleanups.push(() => worker.stop());
  const line = log.entries.find((entry) => entry.message.startsWith("HTTP API listening on"));
  expect(line?.message).toContain(`http://127.0.0.1:${config.PORT}`);
  expect(line?.message).not.toContain("all interfaces");
  expect((await fetch(`${worker.url}/ping`)).status).toBe(200);
  // loopback only: another address of this machine is refused
  const other = Object.values(networkInterfaces())
    .flat()
    .find((address) => address && address.family === "IPv4" && !address.internal)?.address;
  if (other) expect(await fetch(`http://${other}:${config.PORT}/ping`).catch(() => "refused")).toBe("refused");
}, 30_000);

test("HOST=0.0.0.0 is logged as all interfaces, and a client here reaches it on loopback", async () => {
  const log = memoryLogger();
  const env = { HOST: "0.0.0.0", PORT: String(await freePort()), COMFY_PORT: String(await freePort()) };
  const config = loadConfig({ env: { ...env, EXTRA_MODEL_PATHS: join(MODELS_DIR, "extra_model_paths.yaml") } });
  const worker = await startWorker(config, log, { emulate: true });
  cleanups.push(() => worker.stop());
  const line = log.entries.find((entry) => entry.message.startsWith("HTTP API listening on"));
  expect(line?.message).toContain(`http://0.0.0.0:${config.PORT} (all interfaces)`);
  expect(worker.url).toBe(`http://127.0.0.1:${config.PORT}`);
  expect((await fetch(`${worker.url}/ping`)).status).toBe(200);
}, 30_000);

test("PORT already in use: exit 2 naming the port and PORT, no stack, no temp folder left", async () => {
  const port = await freePort();
  tcpListener(port);
  for (const mode of ["api", "runpod"]) {
    const env: Record<string, string> = { PORT: String(port) };
    if (mode === "runpod") {
      const fake = startFakeRunpod();
      cleanups.push(() => fake.close());
      Object.assign(env, fake.env());
    }
    const run = await serveUntilExit(["--emulate", "--mode", mode], env);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`port ${port} (PORT) is already in use`);
    expect(run.stderr).not.toContain("unexpected error");
    expect(run.stderr).not.toContain("    at ");
    expect(run.leftInTmp).toEqual([]);
  }
}, 60_000);

test("COMFY_PORT held by another program: exit 2 naming the port and COMFY_PORT, no temp folder left", async () => {
  const comfyPort = await freePort();
  tcpListener(comfyPort);
  const run = await serveUntilExit(["--emulate", "--mode", "api"], { COMFY_PORT: String(comfyPort) });
  expect(run.code).toBe(2);
  expect(run.stderr).toContain(`port ${comfyPort} (COMFY_PORT) is already in use: another program`);
  expect(run.stderr).toContain("set COMFY_PORT to a free port");
  expect(run.leftInTmp).toEqual([]);
}, 30_000);

test("COMFY_PORT held by a ComfyUI we did not start: exit 2 that also offers COMFY_URL", async () => {
  const comfyPort = await freePort();
  const other = Bun.serve({
    port: comfyPort,
    hostname: "127.0.0.1",
    fetch: () => Response.json({ system: { comfyui_version: "0.3.0" }, devices: [] }),
  });
  cleanups.push(() => other.stop(true));
  const run = await serveUntilExit(["--emulate", "--mode", "api"], { COMFY_PORT: String(comfyPort) });
  expect(run.code).toBe(2);
  expect(run.stderr).toContain(`port ${comfyPort} (COMFY_PORT) is already in use: a ComfyUI`);
  expect(run.stderr).toContain(`COMFY_URL=http://127.0.0.1:${comfyPort}`);
  expect(run.leftInTmp).toEqual([]);
}, 30_000);

test("a missing COMFY_DIR (or one without main.py) is a configuration error that says so", async () => {
  const missing = join(tempDir("cw-no-comfy-"), "ComfyUI");
  const run = await serveUntilExit(["--mode", "api"], { COMFY_DIR: missing });
  expect(run.code).toBe(2);
  expect(run.stderr).toContain(`COMFY_DIR ${missing} does not exist`);
  expect(run.stderr).not.toContain("posix_spawn");
  mkdirSync(missing);
  const empty = await serveUntilExit(["--mode", "api"], { COMFY_DIR: missing });
  expect(empty.code).toBe(2);
  expect(empty.stderr).toContain("has no main.py");
  expect(empty.leftInTmp).toEqual([]);
}, 30_000);

test("emulate --port and proxy --listen on a taken port: exit 2 naming the flag, no stack", async () => {
  const port = await freePort();
  tcpListener(port);
  const cases: Array<[args: string[], flag: string]> = [
    [["emulate", "--port", String(port)], "--port"],
    [
      [
        "proxy",
        "--listen",
        `127.0.0.1:${port}`,
        "--comfy-url",
        "http://127.0.0.1:9",
        "--endpoint",
        "http://127.0.0.1:9/v2/x",
      ],
      "--listen",
    ],
  ];
  for (const [args, flag] of cases) {
    const proc = Bun.spawn([process.execPath, "src/main.ts", ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: tempDir("cw-listen-home-") },
      stdout: "pipe",
      stderr: "pipe",
      timeout: 30_000,
    });
    const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
    expect([args[0], code]).toEqual([args[0], 2]);
    expect(stderr).toContain(`port ${port} (${flag}) is already in use on 127.0.0.1`);
    expect(stderr).not.toContain("unexpected error");
    expect(stderr).not.toContain("    at ");
  }
}, 60_000);
