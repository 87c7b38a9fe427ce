import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildComfyCommand, resolveComfyUrl } from "../comfy/command.ts";
import { attachComfy, type ComfyHandle, createSupervisor } from "../comfy/supervisor.ts";
import type { Config } from "../config.ts";
import { secondsToTimerMs, timerMs } from "../lib/time.ts";
import type { Logger } from "../log.ts";
import type { ComfyModels } from "../weights/serve-weights.ts";

export interface StartComfyOptions {
  /** Supervise the built-in emulator instead of ComfyUI (never used unless asked). */
  emulate?: boolean;
}

/**
 * The ComfyUI this worker talks to, not yet started: attached when COMFY_URL is set, else supervised
 * (ComfyUI, or the emulator in a fresh temp base directory that `dispose` removes).
 */
export async function createComfy(
  config: Config,
  log: Logger,
  options: StartComfyOptions = {},
): Promise<{ comfy: ComfyHandle; dispose: () => Promise<void>; models: ComfyModels }> {
  const healthIntervalMs = secondsToTimerMs(config.COMFY_HEALTH_INTERVAL_S);
  const healthTimeoutMs = secondsToTimerMs(config.COMFY_HEALTH_TIMEOUT_S);
  if (config.COMFY_URL && !options.emulate) {
    const comfy = attachComfy({ url: resolveComfyUrl(config), healthIntervalMs, healthTimeoutMs, log });
    return { comfy, dispose: async () => {}, models: {} };
  }
  const baseDir = options.emulate ? await mkdtemp(join(tmpdir(), "comfy-worker-emulator-")) : undefined;
  const command = buildComfyCommand(config, baseDir ? { emulate: { baseDir } } : {});
  const comfy = createSupervisor({
    argv: command.argv,
    cwd: command.cwd,
    env: command.env,
    url: resolveComfyUrl({ ...config, COMFY_URL: undefined }),
    logLines: config.COMFY_LOG_LINES,
    readyTimeoutMs: secondsToTimerMs(config.COMFY_READY_TIMEOUT_S),
    healthIntervalMs,
    healthTimeoutMs,
    maxRestarts: config.COMFY_MAX_RESTARTS,
    log,
  });
  const dispose = async () => {
    if (baseDir) await rm(baseDir, { recursive: true, force: true });
  };
  // the emulator reads only --extra-model-paths-config; ComfyUI also reads its checkout's own YAML
  const models: ComfyModels = baseDir ? { baseDir } : { baseDir: config.COMFY_DIR, comfyDir: config.COMFY_DIR };
  return { comfy, dispose, models };
}

/**
 * Resolves with ComfyUI's failure `graceMs` after it failed for good (its restart limit reached), so a
 * worker that can no longer run jobs exits and its platform replaces it; never when `signal` aborts first.
 */
export function failedFor(comfy: ComfyHandle, graceMs: number, signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const off = comfy.onState((state) => {
      if (state !== "failed" || timer) return;
      // waitReady rejects with the failure (E_COMFY_DIED) once the handle has failed
      void comfy.waitReady().catch((error: unknown) => {
        if (!signal.aborted) timer = setTimeout(() => resolve(error), timerMs(graceMs));
      });
    });
    signal.addEventListener(
      "abort",
      () => {
        off();
        clearTimeout(timer);
      },
      { once: true },
    );
  });
}
