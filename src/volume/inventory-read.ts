import { coreObjectInfo, type NodeInfo, type ObjectInfo } from "../comfy/object-info.ts";
import type { S3Client } from "../sync/s3/client.ts";
import { getText, type ListedObject } from "../sync/s3/ops.ts";
import { CORE_PACK, INVENTORY_DIR, Inventory } from "./inventory.ts";

/** The newest inventory a worker wrote under `prefix` (by LastModified, then written_at), or undefined. */
export async function newestInventory(
  s3: S3Client,
  prefix: string,
  objects: readonly ListedObject[],
  signal?: AbortSignal,
): Promise<Inventory | undefined> {
  const dir = `${prefix}${INVENTORY_DIR}/`;
  const files = objects
    .filter(
      (object) =>
        object.key.startsWith(dir) && object.key.endsWith(".json") && !object.key.slice(dir.length).includes("/"),
    )
    .sort((a, b) => (b.modifiedMs ?? 0) - (a.modifiedMs ?? 0));
  let newest: Inventory | undefined;
  // a few candidates, since clocks and LastModified granularity differ; a malformed file is skipped
  for (const file of files.slice(0, 5)) {
    const text = await getText(s3, file.key, signal);
    const parsed = text === undefined ? undefined : Inventory.safeParse(_json(text));
    if (parsed?.success && (!newest || parsed.data.written_at > newest.written_at)) newest = parsed.data;
  }
  return newest;
}

/**
 * An /object_info with exactly the inventory's node classes: ComfyUI's core entries (full input specs, so
 * weights are still found) for core classes, and minimal entries naming the pack for custom ones.
 */
export function objectInfoOfInventory(inventory: Inventory): ObjectInfo {
  const core = coreObjectInfo();
  const info: ObjectInfo = {};
  for (const [pack, classes] of Object.entries(inventory.packs)) {
    for (const name of classes) {
      const known = Object.hasOwn(core, name) ? core[name] : undefined;
      info[name] = known ?? _stub(name, pack);
    }
  }
  return info;
}

function _stub(name: string, pack: string): NodeInfo {
  return {
    input: { required: {} },
    input_order: { required: [] },
    output: [],
    output_is_list: [],
    output_name: [],
    name,
    display_name: name,
    description: "",
    python_module: pack === CORE_PACK ? "nodes" : `custom_nodes.${pack}`,
    category: "",
    output_node: false,
  };
}

function _json(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
