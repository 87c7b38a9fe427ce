import { join } from "node:path";
import { loadConfig } from "../../src/config.ts";
import { Redactor } from "../../src/lib/redact.ts";
import { createLogger } from "../../src/log.ts";
import { createRunpodClient } from "../../src/runpod/client.ts";
import { resolveRunpodUrls } from "../../src/runpod/urls.ts";
import type { WorkerTiming } from "../../src/runpod/worker.ts";
import { createRunpodService, type RunpodExecute } from "../../src/worker/runpod-jobs.ts";
import { startRunpodWorker } from "../../src/worker/start-runpod.ts";
import { freePort } from "../helpers/emulator.ts";
import type { FakeRunpod } from "../helpers/fake-runpod.ts";
import { MODELS_DIR } from "../helpers/worker.ts";

export const testLog = createLogger({
  level: (process.env.TEST_LOG_LEVEL as "error" | undefined) ?? "error",
  format: "json",
  redactor: new Redactor(),
  stream: process.stderr,
});

/** The RunPod loop over a JobStore whose jobs run `execute` (no ComfyUI), talking to `fake`. */
export function stubWorker(
  fake: FakeRunpod,
  execute: RunpodExecute,
  env: Record<string, string> = {},
  timing: Partial<WorkerTiming> = {},
) {
  const config = loadConfig({ env: { SHUTDOWN_GRACE_S: "5", RUNPOD_PING_INTERVAL: "1000", ...fake.env(), ...env } });
  const urls = resolveRunpodUrls(config, config.RUNPOD_POD_ID as string);
  const client = createRunpodClient({ urls, apiKey: config.RUNPOD_AI_API_KEY, log: testLog });
  return createRunpodService({ config, client, execute, logs: () => ["last line"], log: testLog, timing });
}

/** `serve --emulate --mode runpod` in-process: health on a free port, the emulator as a real process. */
export async function startRunpodTestWorker(fake: FakeRunpod, env: Record<string, string> = {}) {
  const config = loadConfig({
    env: {
      PORT: String(await freePort()),
      COMFY_PORT: String(await freePort()),
      EXTRA_MODEL_PATHS: join(MODELS_DIR, "extra_model_paths.yaml"),
      COMFY_READY_TIMEOUT_S: "20",
      COMFY_HEALTH_INTERVAL_S: "0.5",
      COMFY_HEALTH_TIMEOUT_S: "5",
      SHUTDOWN_GRACE_S: "5",
      RUNPOD_PING_INTERVAL: "1000",
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "error",
      ...fake.env(),
      ...env,
    },
  });
  return startRunpodWorker(config, testLog, { emulate: true });
}

/** Resolves after `promise`, or rejects after `ms` saying what did not happen. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
