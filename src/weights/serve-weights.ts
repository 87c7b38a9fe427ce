/**
 * Composition of the `serve` weights check: which model roots ComfyUI sees (the same roots it computes
 * itself, or its `/models` listings when we are attached to a ComfyUI on another machine).
 */
import type { ComfyClient } from "../comfy/client.ts";
import type { ObjectInfo } from "../comfy/object-info.ts";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import type { FolderRoots } from "./folders.ts";
import { createWeightsCheck, type JobWeightsDownload, type WeightsCheck } from "./job-check.ts";
import { createModelIndex, type ModelIndex } from "./model-index.ts";
import { createRemoteSnapshots } from "./remote-snapshot.ts";
import { loadModelRoots } from "./roots.ts";
import { createWeightsState, type WeightsState } from "./weight-state.ts";

/** Where the ComfyUI we run jobs on keeps its models, as far as this machine can see. */
export interface ComfyModels {
  /** Its base directory (`<base>/models`); undefined when attached to a ComfyUI we can't see the disk of. */
  baseDir?: string;
  /** Its checkout, whose own extra_model_paths.yaml it reads. */
  comfyDir?: string;
  /** extra_model_paths.yaml files it is given besides EXTRA_MODEL_PATHS (the generated MODELS_DIR one). */
  extraConfigs?: string[];
}

/** ComfyUI's model roots on this disk and an index over them, shared by the job check and downloads. */
export interface LocalModels {
  roots: FolderRoots;
  index: ModelIndex;
}

export interface ServeWeightsOptions {
  config: Pick<Config, "WEIGHTS_MODE" | "EXTRA_MODEL_PATHS">;
  log: Logger;
  client: ComfyClient;
  models: ComfyModels;
  objectInfo: () => Promise<ObjectInfo>;
  /** For `$VARS`/`~` in extra_model_paths.yaml, as ComfyUI (our child) expands them. */
  env: Record<string, string | undefined>;
  /** The /health state to keep current (a fresh one by default). */
  health?: WeightsState;
  /** ComfyUI's local roots (see createLocalModels); built here when absent. */
  local?: (() => Promise<LocalModels>) | undefined;
  /** WEIGHTS_MODE=download: fetches a job's missing weights. */
  download?: JobWeightsDownload | undefined;
  /** Every weight of a job that passed the check. */
  onPresent?: ((weights: readonly { folder: string; name: string }[]) => void) | undefined;
}

/**
 * The roots ComfyUI computes for `models`, loaded once (a bad YAML fails the caller with its E_CONFIG
 * message and is read again next time); undefined when its disk is not ours to see.
 */
export function createLocalModels(
  models: ComfyModels,
  extraConfigs: readonly string[],
  env: Record<string, string | undefined>,
): (() => Promise<LocalModels>) | undefined {
  const { baseDir, comfyDir } = models;
  if (!baseDir) return undefined;
  const yamls = [...extraConfigs, ...(models.extraConfigs ?? [])];
  let local: Promise<LocalModels> | undefined;
  return () => {
    local ??= loadModelRoots({ baseDir, ...(comfyDir ? { comfyDir } : {}), extraConfigs: yamls, env }).then(
      (roots) => ({
        roots,
        index: createModelIndex(roots),
      }),
    );
    local.catch(() => (local = undefined));
    return local;
  };
}

/**
 * The /health weights state plus the job hook (undefined with WEIGHTS_MODE=skip), and `prime`, which readies
 * what the first job's check reads (an attached ComfyUI's folder listings: `folders`, or all) while it starts.
 */
export function createServeWeights(options: ServeWeightsOptions): {
  health: WeightsState;
  check?: WeightsCheck;
  prime?: (folders?: readonly string[]) => Promise<void>;
} {
  const health = options.health ?? createWeightsState();
  const local = options.local ?? createLocalModels(options.models, options.config.EXTRA_MODEL_PATHS ?? [], options.env);
  // the local index revalidates with a stat per folder; an attached ComfyUI's listings are kept between jobs
  const snapshots = local
    ? { snapshot: async () => (await local()).index.snapshot() }
    : createRemoteSnapshots(options.client);
  const check = createWeightsCheck({
    mode: options.config.WEIGHTS_MODE,
    snapshot: snapshots.snapshot,
    objectInfo: options.objectInfo,
    health,
    log: options.log,
    ...(options.download ? { download: options.download } : {}),
    ...(options.onPresent ? { onPresent: options.onPresent } : {}),
  });
  const prime = check && "list" in snapshots ? { prime: (folders?: readonly string[]) => snapshots.list(folders) } : {};
  return { health, ...(check ? { check } : {}), ...prime };
}
