import { dirname } from "node:path";
import type { ComfyClient } from "../comfy/client.ts";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import { volumeStateDir } from "../prefetch/usage.ts";
import { inventoryPath, packsOf, writeInventory } from "../volume/inventory.ts";
import type { ColdStart } from "./cold-start.ts";
import type { WorkerWeights } from "./weights.ts";

/** What publishing needs from the worker being brought up. */
export interface PublishInventoryOptions {
  config: Pick<Config, "RUNPOD_POD_ID" | "MODELS_DIR">;
  client: ComfyClient;
  weights: WorkerWeights;
  coldStart?: ColdStart | undefined;
  log: Logger;
}

/**
 * Writes this worker's node inventory (ComfyUI version, node classes by pack, failed custom-node imports) next
 * to the models (`<models>/.comfy-worker/inventory/<worker>.json`, on the volume when the models are there).
 * Never throws: the inventory helps `check --endpoint`, it must never keep a worker from serving.
 */
export async function publishInventory(options: PublishInventoryOptions): Promise<string | undefined> {
  // only RunPod workers (serverless or pods) publish; a developer's `serve` leaves their models folder alone
  if (!options.config.RUNPOD_POD_ID) return undefined;
  try {
    const models = await options.weights.local?.();
    if (!models) return undefined;
    const modelsDir = dirname(volumeStateDir(models.roots, options.config.MODELS_DIR));
    const [stats, info] = await Promise.all([options.client.systemStats(), options.client.objectInfo()]);
    const workerId = options.config.RUNPOD_POD_ID;
    const packs = options.coldStart?.timeline.report().custom_nodes ?? [];
    const path = inventoryPath(modelsDir, workerId);
    await writeInventory(path, {
      version: 1,
      worker_id: workerId,
      written_at: new Date().toISOString(),
      comfyui_version: stats.system.comfyui_version,
      packs: packsOf(info as Record<string, { python_module?: string }>),
      failed_imports: packs.filter((pack) => pack.failed).map((pack) => pack.name),
    });
    options.log.debug(`node inventory written to ${path}`);
    return path;
  } catch (error) {
    options.log.warn(`could not write this worker's node inventory: ${error instanceof Error ? error.message : error}`);
    return undefined;
  }
}
