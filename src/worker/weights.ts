import { resolve, sep } from "node:path";
import type { ComfyClient } from "../comfy/client.ts";
import type { ObjectInfo } from "../comfy/object-info.ts";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import { createWeightFetcher } from "../preload/fetcher.ts";
import { createJobDownload } from "../preload/job-download.ts";
import { runPreloads } from "../preload/preload.ts";
import { cliModelRoots, downloadSettings } from "../preload/pull.ts";
import { createWeightTracker } from "../preload/tracker.ts";
import type { WeightsCheck } from "../weights/job-check.ts";
import { createModelIndex } from "../weights/model-index.ts";
import { type ComfyModels, createLocalModels, createServeWeights, type LocalModels } from "../weights/serve-weights.ts";
import { createWeightsState, type WeightsState } from "../weights/weight-state.ts";

/** The weights side of a worker: /health state, the job check, preloads, and the transfers behind them. */
export interface WorkerWeights {
  health: WeightsState;
  check?: WeightsCheck;
  /**
   * Readies what the first job's check reads (an attached ComfyUI's folder listings: `folders`, or all); absent
   * when nothing to do.
   */
  prime?: (folders?: readonly string[]) => Promise<void>;
  /** PRELOAD_KIT and PRELOAD_WORKFLOW; resolves at once when neither is set. */
  preload(signal?: AbortSignal): Promise<void>;
  /** Aborts running transfers (their `.part` files stay for the next start to resume). */
  close(): void;
  /** ComfyUI's model roots on this disk; undefined when attached to a ComfyUI we can't see. */
  local?: (() => Promise<LocalModels>) | undefined;
}

export interface WorkerWeightsOptions {
  config: Config;
  log: Logger;
  client: ComfyClient;
  /** Where ComfyUI keeps its models; undefined = jobs are not checked. */
  models?: ComfyModels | undefined;
  objectInfo: () => Promise<ObjectInfo>;
  /** Bytes fetched, per finished transfer (/metrics). */
  onFetched?: (bytes: number) => void;
  /** Tests only: job weight URLs may be plain http to loopback (see createJobDownload). */
  allowPrivateDownloads?: boolean | undefined;
  /** Every weight of a job that passed the check (prefetch's usage history). */
  onPresent?: ((weights: readonly { folder: string; name: string }[]) => void) | undefined;
}

/**
 * Builds the worker's weights: one fetcher (DOWNLOAD_CONCURRENCY, shared by preloads and jobs), the
 * per-weight /health state and log lines, and WEIGHTS_MODE=download when ComfyUI's disk is ours to see.
 */
export function createWorkerWeights(options: WorkerWeightsOptions): WorkerWeights {
  const { config, log } = options;
  const health = createWeightsState();
  const downloads = new AbortController();
  const fetcher = createWeightFetcher({
    concurrency: config.DOWNLOAD_CONCURRENCY,
    download: downloadSettings(config),
    log: log.child({ tag: "download" }),
    signal: downloads.signal,
    ...(options.onFetched ? { onFetched: options.onFetched } : {}),
  });
  const onState = createWeightTracker(health, log.child({ tag: "weights" }));
  const comfyLocal = options.models
    ? createLocalModels(options.models, config.EXTRA_MODEL_PATHS ?? [], config.env)
    : undefined;
  const local = _warnInvisible(comfyLocal ?? _pullLocal(config), config.MODELS_DIR, log);
  if (config.WEIGHTS_MODE === "download" && options.models && !comfyLocal)
    log.warn("WEIGHTS_MODE=download needs ComfyUI's model folders on this machine; with COMFY_URL it fails like fail");
  const download = comfyLocal
    ? createJobDownload({
        local,
        fetcher,
        modelsDir: config.MODELS_DIR,
        allowHosts: config.DOWNLOAD_ALLOW_HOSTS,
        kits: config.PRELOAD_KIT,
        allowPrivate: options.allowPrivateDownloads,
        onState,
      })
    : undefined;
  const serve = options.models
    ? createServeWeights({ ...options, models: options.models, env: config.env, health, local: comfyLocal, download })
    : { health };
  const preload = (signal?: AbortSignal) =>
    runPreloads({
      kits: config.PRELOAD_KIT ?? [],
      workflows: config.PRELOAD_WORKFLOW ?? [],
      local,
      modelsDir: config.MODELS_DIR,
      fetcher,
      onState,
      log,
      ...(signal ? { signal } : {}),
    });
  return {
    health,
    ...("check" in serve && serve.check ? { check: serve.check } : {}),
    ...("prime" in serve && serve.prime ? { prime: serve.prime } : {}),
    preload,
    close: () => downloads.abort(),
    local: comfyLocal,
  };
}

// attached to a ComfyUI we can't see the disk of: preloads go where `pull` on this machine would put them
function _pullLocal(config: Config): () => Promise<LocalModels> {
  let local: Promise<LocalModels> | undefined;
  return () => {
    local ??= cliModelRoots(config).then((roots) => ({ roots, index: createModelIndex(roots) }));
    return local;
  };
}

// MODELS_DIR outside every root ComfyUI searches: downloads would land where ComfyUI never looks
function _warnInvisible(
  local: () => Promise<LocalModels>,
  modelsDir: string | undefined,
  log: Logger,
): () => Promise<LocalModels> {
  let warned = false;
  return async () => {
    const models = await local();
    if (modelsDir && !warned) {
      warned = true;
      const dir = resolve(modelsDir) + sep;
      const seen = [...models.roots.values()].some((entry) => entry.paths.some((path) => path.startsWith(dir)));
      if (!seen)
        log.warn(
          `MODELS_DIR ${modelsDir} is not among ComfyUI's model folders: files downloaded there are invisible to it; add it to an extra_model_paths.yaml (EXTRA_MODEL_PATHS)`,
        );
    }
    return models;
  };
}
