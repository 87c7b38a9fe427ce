/**
 * The node inventory a worker publishes next to the models on its volume
 * (`<models>/.comfy-worker/inventory/<worker>.json`), so `check --endpoint` can tell which node types the
 * endpoint's workers really have before a job is paid for. One file per worker, replaced atomically, never a
 * file several workers rewrite (RunPod warns that concurrent writes to a volume corrupt data).
 */
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";

/** Folder of the inventories under the models folder (hidden, so ComfyUI, `sync` and `--delete` skip it). */
export const INVENTORY_DIR = ".comfy-worker/inventory";
/** The pack name of ComfyUI's own nodes (`nodes`, `comfy_extras.*`, `comfy_api_nodes.*`). */
export const CORE_PACK = "comfy-core";
const SAFE_ID_RE = /[^A-Za-z0-9._-]/g;

/** What a worker publishes. */
export const Inventory = z.object({
  version: z.literal(1),
  worker_id: z.string(),
  written_at: z.string(),
  comfyui_version: z.string().optional(),
  /** Node pack → the node classes it registered. */
  packs: z.record(z.string(), z.array(z.string())),
  /** Custom node packs ComfyUI reported as "IMPORT FAILED". */
  failed_imports: z.array(z.string()).default([]),
});
export type Inventory = z.infer<typeof Inventory>;

/** The pack a node class comes from, from /object_info's `python_module` (`custom_nodes.<pack>[.…]`). */
export function packOf(pythonModule: string): string {
  const match = /^custom_nodes\.([^.]+)/.exec(pythonModule);
  return match?.[1] ?? CORE_PACK;
}

/** Groups `/object_info` by pack. */
export function packsOf(objectInfo: Record<string, { python_module?: string }>): Record<string, string[]> {
  const packs: Record<string, string[]> = {};
  for (const [name, info] of Object.entries(objectInfo)) {
    const pack = packOf(info.python_module ?? "");
    const list = packs[pack] ?? [];
    list.push(name);
    packs[pack] = list;
  }
  for (const list of Object.values(packs)) list.sort();
  return packs;
}

/** The file of one worker's inventory under a models folder. */
export function inventoryPath(modelsDir: string, workerId: string): string {
  return join(modelsDir, INVENTORY_DIR, `${workerId.replace(SAFE_ID_RE, "_") || "worker"}.json`);
}

/** Writes an inventory: temp file in the same folder, then rename, so a reader never sees half of one. */
export async function writeInventory(path: string, inventory: Inventory): Promise<void> {
  await mkdir(join(path, ".."), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(inventory)}\n`);
  await rename(temp, path);
}
