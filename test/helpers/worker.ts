import { afterEach } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config.ts";
import { Redactor } from "../../src/lib/redact.ts";
import { createLogger } from "../../src/log.ts";
import { type StartWorkerOptions, startWorker, type WorkerHandle } from "../../src/worker/start.ts";
import { freePort } from "./emulator.ts";

export const MODELS_DIR = mkdtempSync(join(tmpdir(), "cw-models-"));

/** A model file the emulator will list, under a shared extra_model_paths.yaml root. */
export async function addWorkerModel(folder: string, name: string): Promise<void> {
  await Bun.write(join(MODELS_DIR, folder, name), "dummy weights");
}

const EXTRA_PATHS = join(MODELS_DIR, "extra_model_paths.yaml");
await Bun.write(
  EXTRA_PATHS,
  `test:\n  base_path: ${MODELS_DIR}\n  checkpoints: checkpoints\n  loras: loras\n  vae: vae\n`,
);
await addWorkerModel("checkpoints", "dreamshaper_8.safetensors");

/** `serve --emulate` in-process on free ports; the emulator runs as a real supervised process. */
export async function startTestWorker(
  env: Record<string, string> = {},
  options: Omit<StartWorkerOptions, "emulate"> = {},
): Promise<WorkerHandle & { api: (path: string, init?: RequestInit) => Promise<Response> }> {
  const config = loadConfig({
    env: {
      PORT: String(await freePort()),
      COMFY_PORT: String(await freePort()),
      EXTRA_MODEL_PATHS: EXTRA_PATHS,
      COMFY_READY_TIMEOUT_S: "20",
      COMFY_HEALTH_INTERVAL_S: "0.5",
      COMFY_HEALTH_TIMEOUT_S: "2",
      SHUTDOWN_GRACE_S: "2",
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "error",
      ...env,
    },
  });
  const log = createLogger({
    level: config.LOG_LEVEL,
    format: "json",
    redactor: new Redactor(),
    stream: process.stderr,
  });
  const worker = await startWorker(config, log, { ...options, emulate: true });
  const api = (path: string, init?: RequestInit) =>
    fetch(`${worker.url}${path}`, { ...init, signal: AbortSignal.timeout(30_000) });
  return Object.assign(worker, { api });
}

/** `serve` in-process attached (COMFY_URL) to a ComfyUI that runs on its own; `env` adds or overrides settings. */
export async function startAttachedWorker(comfyUrl: string, env: Record<string, string> = {}): Promise<WorkerHandle> {
  const config = loadConfig({
    env: {
      PORT: String(await freePort()),
      COMFY_URL: comfyUrl,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "error",
      ...env,
    },
  });
  const log = createLogger({
    level: config.LOG_LEVEL,
    format: "json",
    redactor: new Redactor(),
    stream: process.stderr,
  });
  return startWorker(config, log);
}

/** POST a JSON body. */
export function jsonPost(body: unknown): RequestInit {
  return { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
}

/** Polls until `check` holds or the time runs out (then throws with `what`). */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await Bun.sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

// biome-ignore lint/suspicious/noExplicitAny: response bodies are navigated freely in assertions
export type Json = Record<string, any>;

/** Returns `track(worker)`: every worker tracked by the calling test file is stopped after each test. */
export function stopAfterEach(): <T extends { stop(): Promise<void> }>(worker: T) => T {
  const started: Array<{ stop(): Promise<void> }> = [];
  afterEach(async () => {
    for (const worker of started.splice(0)) await worker.stop();
  });
  return (worker) => {
    started.push(worker);
    return worker;
  };
}
