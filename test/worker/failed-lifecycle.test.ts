import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { freePort, sd15Workflow } from "../helpers/emulator.ts";
import { startFakeRunpod } from "../helpers/fake-runpod.ts";
import { MODELS_DIR } from "../helpers/worker.ts";
import { within } from "../runpod/_helpers.ts";

// issue 10 point 1: a worker whose ComfyUI failed for good stops taking jobs and exits 6 (SPEC §3 COMFY_MAX_RESTARTS)

const ROOT = join(import.meta.dir, "../..");
const FAKE_COMFY = join(ROOT, "test/fixtures/fake-comfy.ts");
const cleanups: Array<() => unknown> = [];
let proc: Subprocess<"ignore", "pipe", "pipe"> | undefined;
let output = "";

afterEach(async () => {
  if (proc && proc.exitCode === null) {
    proc.kill("SIGKILL");
    await proc.exited;
  }
  proc = undefined;
  output = "";
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** `bun src/main.ts serve …` as a real process, its output collected in `output`. */
function serve(args: string[], env: Record<string, string>) {
  proc = Bun.spawn([process.execPath, "src/main.ts", "serve", ...args], {
    cwd: ROOT,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", LOG_FORMAT: "json", ...env },
  });
  const decoder = new TextDecoder();
  for (const stream of [proc.stdout, proc.stderr])
    void (async () => {
      for await (const chunk of stream) output += decoder.decode(chunk, { stream: true });
    })();
  return proc;
}

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A ComfyUI start command that works once (the emulator, crashing on its first prompt) and dies at once on
 * every later start, like a GPU that fell off the bus: the restart cap is reached while a job is in hand.
 */
async function crashOnceThenDead(comfyPort: number): Promise<string> {
  const dir = tempDir("cw-dead-comfy-");
  const emulate = [process.execPath, join(ROOT, "src/main.ts"), "emulate", "--listen", "127.0.0.1"];
  emulate.push("--port", String(comfyPort), "--base", join(dir, "base"), "--node-ms", "300", "--exit-after", "1");
  emulate.push("--extra-model-paths-config", join(MODELS_DIR, "extra_model_paths.yaml"));
  const script = join(dir, "comfy.sh");
  const marker = join(dir, "started-once");
  await Bun.write(
    script,
    [
      `if [ -e '${marker}' ]; then echo 'RuntimeError: CUDA error: no CUDA-capable device is detected' >&2; exit 1; fi`,
      `: > '${marker}'`,
      `exec ${emulate.map((word) => `'${word}'`).join(" ")}`,
    ].join("\n"),
  );
  return `sh ${script}`;
}

test("RunPod mode: ComfyUI failing for good with 40 jobs queued fails only the job in hand and exits 6", async () => {
  const fake = startFakeRunpod({ holdMs: 500 });
  cleanups.push(() => fake.close());
  const ids = Array.from({ length: 40 }, (_, i) => `queued-${i + 1}`);
  fake.enqueue(...ids.map((id, i) => ({ id, input: { workflow: sd15Workflow(), overrides: { "3.seed": i } } })));
  const comfyPort = await freePort();
  const worker = serve(["--mode", "runpod"], {
    ...fake.env(),
    PORT: String(await freePort()),
    COMFY_PORT: String(comfyPort),
    COMFY_CMD: await crashOnceThenDead(comfyPort),
    EXTRA_MODEL_PATHS: join(MODELS_DIR, "extra_model_paths.yaml"),
    COMFY_MAX_RESTARTS: "1",
    COMFY_READY_TIMEOUT_S: "30",
    RUNPOD_PING_INTERVAL: "1000",
    SHUTDOWN_GRACE_S: "5",
  });
  const code = await within(worker.exited, 45_000, "the worker to exit").catch(() => "timeout");
  if (process.env.TEST_LOG_LEVEL) console.log(output);
  expect(code).toBe(6);
  const reported = ids.filter((id) => fake.results(id).length > 0);
  // the job that was running when ComfyUI died is failed with the reason; no other job was touched
  expect(reported).toEqual(["queued-1"]);
  const result = fake.results("queued-1")[0]?.json;
  expect(result.error).toContain("ComfyUI");
  expect(fake.queued()).toBe(39);
  expect(output).toContain("taking no more jobs");
  expect(output).toContain("ComfyUI kept dying");
}, 60_000);

test("API mode: after the restart cap /ready answers 503, then the process exits 6 after FAILED_EXIT_GRACE_S", async () => {
  const port = await freePort();
  const comfyPort = await freePort();
  const worker = serve(["--mode", "api"], {
    PORT: String(port),
    COMFY_PORT: String(comfyPort),
    COMFY_CMD: `${process.execPath} ${FAKE_COMFY} --port ${comfyPort} --exit-after-ms 300`,
    COMFY_MAX_RESTARTS: "1",
    FAILED_EXIT_GRACE_S: "3",
  });
  const base = `http://127.0.0.1:${port}`;
  const failed = async () => {
    const res = await fetch(`${base}/health`).catch(() => undefined);
    return res ? ((await res.json()) as { status?: string }).status === "failed" : false;
  };
  const deadline = Date.now() + 30_000;
  while (!(await failed())) {
    if (Date.now() > deadline || worker.exitCode !== null) throw new Error(`never reported failed:\n${output}`);
    await Bun.sleep(100);
  }
  const failedAt = Date.now();
  expect((await fetch(`${base}/ready`)).status).toBe(503);
  expect((await fetch(`${base}/ping`)).status).toBe(503);
  expect(await within(worker.exited, 20_000, "the worker to exit")).toBe(6);
  // it kept answering for the grace period instead of vanishing at once
  expect(Date.now() - failedAt).toBeGreaterThanOrEqual(1_500);
  expect(output).toContain("ComfyUI failed for good");
}, 60_000);
