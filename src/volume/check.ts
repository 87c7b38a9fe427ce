import { coreObjectInfo, type ObjectInfo } from "../comfy/object-info.ts";
import { S3Client } from "../sync/s3/client.ts";
import type { VolumeTarget } from "../sync/targets.ts";
import { checkLoadedWorkflow, isWorkflowOk, type WorkflowReport } from "../weights/check.ts";
import { loadWorkflowFile } from "../workflow/load.ts";
import type { Inventory } from "./inventory.ts";
import { newestInventory, objectInfoOfInventory } from "./inventory-read.ts";
import { volumeSnapshot } from "./snapshot.ts";

/** What `check` found on one volume. */
export interface VolumeCheckReport {
  volume: string;
  datacenter?: string;
  /** `s3://volume/models/`. */
  url: string;
  ok: boolean;
  /** Files listed under the models prefix. */
  files: number;
  /** The newest worker inventory (with `--endpoint`); null when no worker has written one yet. */
  inventory?: (Omit<Inventory, "packs"> & { node_types: number }) | null;
  workflows: WorkflowReport[];
}

/** Options of a volume check. */
export interface VolumeCheckOptions {
  /** Read the workers' inventory (check --endpoint) so unknown node types are found too. */
  inventory: boolean;
  /** ComfyUI's input/output/temp dirs for LoadImage-style inputs (reported, never fatal). */
  dirs: { input: string; output: string; temp: string };
  signal?: AbortSignal;
}

/**
 * Checks workflows against what each volume holds, exactly as a worker of the image would resolve them
 * (presence only: a volume's files can't be hashed from here). With `inventory`, node types are checked against
 * the node classes the endpoint's workers published; otherwise against ComfyUI's core nodes.
 */
export async function checkVolumes(
  files: readonly string[],
  targets: readonly VolumeTarget[],
  options: VolumeCheckOptions,
): Promise<{ ok: boolean; volumes: VolumeCheckReport[] }> {
  const loaded = [];
  for (const file of files) loaded.push(await loadWorkflowFile(file));
  const volumes: VolumeCheckReport[] = [];
  for (const target of targets) {
    const s3 = new S3Client(target);
    const { snapshot, prefix, objects } = await volumeSnapshot(s3, {
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const inventory = options.inventory
      ? ((await newestInventory(s3, prefix, objects, options.signal)) ?? null)
      : undefined;
    const objectInfo: ObjectInfo = inventory ? objectInfoOfInventory(inventory) : coreObjectInfo();
    const workflows: WorkflowReport[] = [];
    for (const workflow of loaded)
      workflows.push(
        await checkLoadedWorkflow(workflow, snapshot, { objectInfo, live: false, level: "exists", dirs: options.dirs }),
      );
    const nodesOk = !inventory || workflows.every((w) => w.unknown_nodes.length === 0);
    volumes.push({
      volume: target.volume,
      ...(target.datacenter ? { datacenter: target.datacenter } : {}),
      url: s3.label(prefix),
      ok: nodesOk && workflows.every(isWorkflowOk),
      files: objects.length,
      ...(inventory === undefined ? {} : { inventory: inventory ? _summary(inventory) : null }),
      workflows,
    });
  }
  return { ok: volumes.every((v) => v.ok), volumes };
}

function _summary(inventory: Inventory) {
  const { packs, ...rest } = inventory;
  return { ...rest, node_types: Object.values(packs).reduce((sum, list) => sum + list.length, 0) };
}
