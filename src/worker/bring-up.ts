import type { ComfyClient } from "../comfy/client.ts";
import { importFailuresOf, logImportFailures } from "../comfy/import-failures.ts";
import type { ComfyHandle } from "../comfy/supervisor.ts";
import type { Config } from "../config.ts";
import type { JobDeps } from "../jobs/pipeline.ts";
import type { Logger } from "../log.ts";
import type { WorkerHealth } from "../server/health.ts";
import type { ColdStart } from "./cold-start.ts";
import { publishInventory } from "./inventory.ts";
import { runWarmup } from "./warmup.ts";
import type { WorkerWeights } from "./weights.ts";

export interface BringUpOptions {
  config: Pick<Config, "WARMUP_WORKFLOW" | "RUNPOD_POD_ID" | "MODELS_DIR">;
  log: Logger;
  comfy: ComfyHandle;
  client: ComfyClient;
  health: WorkerHealth;
  deps: JobDeps & { weights: WorkerWeights; coldStart?: ColdStart };
  /** Every ComfyUI's dependencies when there are several (one per GPU): the warmup runs on each ready one. */
  all?: readonly JobDeps[];
  /** Stops everything started so far; called before a failed start rethrows. */
  shutdown: () => Promise<void>;
  /** SIGTERM/SIGINT while starting. */
  signal?: AbortSignal | undefined;
}

/**
 * Serve's start after HTTP is up (SPEC §4): ComfyUI and the preloads at the same time (both take minutes
 * on a cold worker, and neither needs the other), then the warmup once both are done. Resolves when the
 * worker may take jobs. On any failure — a download failed for good (E_DOWNLOAD, exit 4), a preloaded
 * weight with no source (exit 3), ComfyUI not starting (exit 6), the warmup failing — health says
 * `failed`, everything is stopped and the error is rethrown: the process exits non-zero and RunPod (or
 * Kubernetes) replaces the worker, which beats a worker that stays up unable to run its workflow.
 */
export async function bringUp(options: BringUpOptions): Promise<void> {
  const { comfy, client, health, deps, signal } = options;
  const stopping = new AbortController();
  // a signal while starting stops ComfyUI (which makes start() reject) and the preload and warmup waits
  const abort = () => {
    stopping.abort();
    void comfy.stop();
  };
  signal?.addEventListener("abort", abort, { once: true });
  try {
    const cold = deps.coldStart;
    // prefetch reads while ComfyUI boots; it is never waited for
    cold?.startPrefetch();
    stopping.signal.addEventListener("abort", () => cold?.prefetch?.stop("the worker is stopping"), { once: true });
    const comfyUp = _startComfy(comfy, client, health, options.log);
    const preloaded = deps.weights.preload(stopping.signal).then(() => cold?.mark("preloads_done"));
    // whichever fails first decides; the other's rejection after shutdown is expected
    comfyUp.catch(() => {});
    preloaded.catch(() => {});
    await Promise.all([comfyUp, preloaded]);
    // in the background: `check --endpoint` reads it from the volume; it never delays or fails readiness
    void publishInventory({ config: options.config, client, weights: deps.weights, coldStart: cold, log: options.log });
    const warm = (options.all ?? [deps]).filter((each) => each === deps || each.comfy.state === "ready");
    await Promise.all(
      warm.map((each) => runWarmup(each, options.config.WARMUP_WORKFLOW, options.log, stopping.signal)),
    );
    cold?.mark("warmup_done", options.config.WARMUP_WORKFLOW ? {} : { skipped: true });
    cold?.mark("ready");
  } catch (error) {
    stopping.abort();
    health.phase = "failed";
    await options.shutdown();
    throw error;
  } finally {
    signal?.removeEventListener("abort", abort);
  }
}

async function _startComfy(comfy: ComfyHandle, client: ComfyClient, health: WorkerHealth, log?: Logger): Promise<void> {
  // subscribed before the spawn so the import-failure lines of this start are all seen
  const imports = importFailuresOf(comfy);
  await comfy.start();
  if (log) logImportFailures(imports, log);
  const stats = await client.systemStats();
  health.comfyInfo = { version: stats.system.comfyui_version, devices: stats.devices };
}
