import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildComfyCommand, resolveComfyUrl } from "../comfy/command.ts";
import { attachComfy, type ComfyHandle, createSupervisor } from "../comfy/supervisor.ts";
import type { Config } from "../config.ts";
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
  const healthIntervalMs = config.COMFY_HEALTH_INTERVAL_S * 1000;
  const healthTimeoutMs = config.COMFY_HEALTH_TIMEOUT_S * 1000;
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
    readyTimeoutMs: config.COMFY_READY_TIMEOUT_S * 1000,
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
