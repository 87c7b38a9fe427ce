/**
 * Composition of the `serve` weights check: which model roots ComfyUI sees (the same roots it computes
 * itself, or its `/models` listings when we are attached to a ComfyUI on another machine).
 */
import type { ComfyClient } from "../comfy/client.ts";
import type { ObjectInfo } from "../comfy/object-info.ts";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import type { ApiWorkflow } from "../workflow/api.ts";
import { createWeightsCheck, type WeightsState } from "./job-check.ts";
import { createModelIndex, type ModelIndex } from "./model-index.ts";
import { createRemoteSnapshot } from "./remote-snapshot.ts";
import { loadModelRoots } from "./roots.ts";

/** Where the ComfyUI we run jobs on keeps its models, as far as this machine can see. */
export interface ComfyModels {
  /** Its base directory (`<base>/models`); undefined when attached to a ComfyUI we can't see the disk of. */
  baseDir?: string;
  /** Its checkout, whose own extra_model_paths.yaml it reads; the emulator has none. */
  comfyDir?: string;
}

export interface ServeWeightsOptions {
  config: Pick<Config, "WEIGHTS_MODE" | "EXTRA_MODEL_PATHS">;
  log: Logger;
  client: ComfyClient;
  models: ComfyModels;
  objectInfo: () => Promise<ObjectInfo>;
  /** For `$VARS`/`~` in extra_model_paths.yaml, as ComfyUI (our child) expands them. */
  env: Record<string, string | undefined>;
}

/** The /health weights state plus the job hook (undefined with WEIGHTS_MODE=skip). */
export function createServeWeights(options: ServeWeightsOptions): {
  health: WeightsState;
  check?: (workflow: ApiWorkflow, signal: AbortSignal) => Promise<void>;
} {
  const health: WeightsState = { state: "unchecked", pending: 0, missing: [] };
  const { baseDir, comfyDir } = options.models;
  let index: Promise<ModelIndex> | undefined;
  const localIndex = (dir: string) => {
    index ??= loadModelRoots({
      baseDir: dir,
      ...(comfyDir ? { comfyDir } : {}),
      extraConfigs: options.config.EXTRA_MODEL_PATHS ?? [],
      env: options.env,
    }).then(createModelIndex);
    // a bad YAML fails this job with its E_CONFIG message; the next job tries again
    index.catch(() => (index = undefined));
    return index;
  };
  const check = createWeightsCheck({
    mode: options.config.WEIGHTS_MODE,
    snapshot: async (lookups) =>
      baseDir ? (await localIndex(baseDir)).snapshot() : createRemoteSnapshot(options.client, lookups),
    objectInfo: options.objectInfo,
    health,
    log: options.log,
  });
  return { health, ...(check ? { check } : {}) };
}
