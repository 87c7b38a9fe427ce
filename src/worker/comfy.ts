import { existsSync, statSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildComfyCommand, resolveComfyUrl } from "../comfy/command.ts";
import { importFailuresOf } from "../comfy/import-failures.ts";
import { attachComfy, type ComfyHandle, createSupervisor } from "../comfy/supervisor.ts";
import type { Config } from "../config.ts";
import { WorkerError } from "../errors.ts";
import { secondsToTimerMs, timerMs } from "../lib/time.ts";
import type { Logger } from "../log.ts";
import { checkModelPathFiles, modelsDirYaml } from "../weights/roots.ts";
import type { ComfyModels } from "../weights/serve-weights.ts";

export interface StartComfyOptions {
  /** Supervise the built-in emulator instead of ComfyUI (never used unless asked). */
  emulate?: boolean;
  /** Extra environment for the child (a GPU instance's CUDA_VISIBLE_DEVICES). */
  env?: Record<string, string> | undefined;
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
  // a missing YAML is a configuration error, not "ComfyUI exited before it was ready"
  await checkModelPathFiles(config.EXTRA_MODEL_PATHS ?? []);
  if (config.COMFY_URL && !options.emulate) {
    // COMFY_READY_TIMEOUT_S also bounds the wait for an attached ComfyUI to answer at start
    const readyTimeoutMs = secondsToTimerMs(config.COMFY_READY_TIMEOUT_S);
    const comfy = attachComfy({
      url: resolveComfyUrl(config),
      healthIntervalMs,
      healthTimeoutMs,
      readyTimeoutMs,
      logLines: config.COMFY_LOG_LINES,
      log,
    });
    return { comfy, dispose: async () => {}, models: {} };
  }
  if (!options.emulate && !config.COMFY_CMD) _checkComfyDir(config.COMFY_DIR);
  const baseDir = options.emulate ? await mkdtemp(join(tmpdir(), "comfy-worker-emulator-")) : undefined;
  const paths = await _childModelPaths(config, baseDir);
  const command = buildComfyCommand(
    { ...config, EXTRA_MODEL_PATHS: paths.yamls },
    baseDir ? { emulate: { baseDir } } : {},
  );
  const comfy = createSupervisor({
    argv: command.argv,
    cwd: command.cwd,
    env: options.env ? { ...command.env, ...options.env } : command.env,
    url: resolveComfyUrl({ ...config, COMFY_URL: undefined }),
    logLines: config.COMFY_LOG_LINES,
    readyTimeoutMs: secondsToTimerMs(config.COMFY_READY_TIMEOUT_S),
    healthIntervalMs,
    healthTimeoutMs,
    maxRestarts: config.COMFY_MAX_RESTARTS,
    log,
  });
  // read its output from the first line on, so packs that fail to import at start-up are known to jobs
  importFailuresOf(comfy);
  const dispose = async () => {
    for (const dir of [baseDir, paths.tempDir]) if (dir) await rm(dir, { recursive: true, force: true });
  };
  const models: ComfyModels = {
    baseDir: baseDir ?? config.COMFY_DIR,
    comfyDir: config.COMFY_DIR,
    ...(paths.generated ? { extraConfigs: [paths.generated] } : {}),
  };
  return { comfy, dispose, models };
}

/**
 * The extra_model_paths.yaml files a started ComfyUI gets, so it sees what `check` and `pull` see (one rule,
 * weights/roots.ts): EXTRA_MODEL_PATHS plus a generated file for MODELS_DIR. The emulator stands in for the
 * ComfyUI at COMFY_DIR, so it also gets COMFY_DIR's own YAML and COMFY_DIR/models, and the place a missing file
 * should go (MODELS_DIR, else the checkout's models/) comes first, not its throwaway base directory.
 */
async function _childModelPaths(
  config: Config,
  emulatorBase: string | undefined,
): Promise<{ yamls: string[]; generated?: string; tempDir?: string }> {
  const yamls = [...(config.EXTRA_MODEL_PATHS ?? [])];
  const dirs: { dir: string; isDefault?: boolean }[] = [];
  if (emulatorBase) {
    const own = join(config.COMFY_DIR, "extra_model_paths.yaml");
    if (await Bun.file(own).exists()) yamls.unshift(own);
    // only a real checkout's models folder may come first (and receive downloads); without one the
    // emulator's base stays first, as it did, rather than writing into a default /comfyui that isn't ComfyUI
    const checkout = await Bun.file(join(config.COMFY_DIR, "main.py")).exists();
    dirs.push({ dir: join(config.COMFY_DIR, "models"), isDefault: checkout && !config.MODELS_DIR });
  }
  // a COMFY_CMD owns its flags, so it can't be told; weights.ts warns when MODELS_DIR is then invisible.
  // Emulated, MODELS_DIR is where downloads and the "put it in" hint go, so it comes first
  if (config.MODELS_DIR && (emulatorBase || !config.COMFY_CMD))
    dirs.push({ dir: config.MODELS_DIR, isDefault: Boolean(emulatorBase) });
  if (dirs.length === 0) return { yamls };
  const tempDir = emulatorBase ? undefined : await mkdtemp(join(tmpdir(), "comfy-worker-paths-"));
  const generated = join(emulatorBase ?? (tempDir as string), "comfy-worker-model-paths.yaml");
  await writeFile(generated, modelsDirYaml(dirs));
  return { yamls: [...yamls, generated], generated, ...(tempDir ? { tempDir } : {}) };
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

// ComfyUI runs as `COMFY_PYTHON COMFY_DIR/main.py` in COMFY_DIR: say which setting is wrong, not "ENOENT posix_spawn"
function _checkComfyDir(dir: string): void {
  const hint = "set COMFY_DIR to your ComfyUI checkout (the folder with main.py), or COMFY_CMD to a full start command";
  if (!existsSync(dir)) throw new WorkerError("E_CONFIG", `COMFY_DIR ${dir} does not exist; ${hint}`);
  if (!statSync(dir).isDirectory()) throw new WorkerError("E_CONFIG", `COMFY_DIR ${dir} is not a folder; ${hint}`);
  if (!existsSync(join(dir, "main.py")))
    throw new WorkerError("E_CONFIG", `COMFY_DIR ${dir} has no main.py, so it is no ComfyUI checkout; ${hint}`);
}
