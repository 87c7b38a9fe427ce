/**
 * `--read-models`: loader nodes really read the model file they name before they "load", as ComfyUI's
 * loaders do (safetensors reads every byte), optionally at a capped rate (`--read-mbps`, a network
 * volume's speed), and print ComfyUI's own load lines. Tests and the cold-start benchmark use it to see
 * the cost of a first model load, and what reading it into the page cache beforehand saves.
 */
import { open } from "node:fs/promises";
import { FOLDER_UNION_SEPARATOR, LOADERS } from "../weights/loaders.ts";
import type { EmulatorContext } from "./context.ts";
import type { PromptNode } from "./graph.ts";

const CHUNK_BYTES = 8 * 1024 * 1024;
const MIB = 1024 * 1024;

/** Reads each model file a loader node names; resolves when all were read (missing ones are skipped). */
export async function loadModels(ctx: EmulatorContext, node: PromptNode): Promise<void> {
  if (!ctx.settings.readModels) return;
  const inputs = LOADERS[node.class_type];
  if (!inputs) return;
  for (const [input, folders] of Object.entries(inputs)) {
    const name = node.inputs?.[input];
    if (typeof name !== "string") continue;
    const path = await _find(ctx, folders, name);
    if (!path) continue;
    ctx.log.info(`Requested to load ${node.class_type}`);
    const bytes = await _read(path, ctx.settings.readMbps);
    ctx.log.info(`loaded completely; 0.00 MB usable, ${(bytes / MIB).toFixed(2)} MB loaded, full load: True`);
  }
}

async function _find(ctx: EmulatorContext, folders: string, name: string): Promise<string | undefined> {
  for (const folder of folders.split(FOLDER_UNION_SEPARATOR)) {
    const path = await ctx.catalog.modelPath(folder, name);
    if (path) return path;
  }
  return undefined;
}

// token bucket at `mbps` (0 = as fast as the disk goes); one reused buffer
async function _read(path: string, mbps: number): Promise<number> {
  const handle = await open(path, "r");
  const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  const started = performance.now();
  let total = 0;
  try {
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, total);
      if (bytesRead === 0) return total;
      total += bytesRead;
      if (mbps > 0) {
        const due = (total / (mbps * 1e6)) * 1000 - (performance.now() - started);
        if (due > 0) await Bun.sleep(due);
      }
    }
  } finally {
    await handle.close();
  }
}
