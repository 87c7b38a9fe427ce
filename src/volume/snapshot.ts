/**
 * What a network volume holds, seen as ComfyUI on a worker would see it: the worker image's
 * extra_model_paths.yaml (docker/, embedded) maps model folders under /runpod-volume/models, and a volume's S3
 * key `models/checkpoints/x.safetensors` is the file `/runpod-volume/models/checkpoints/x.safetensors` there.
 */
import { posix } from "node:path";
import imageModelPaths from "../../docker/extra_model_paths.yaml" with { type: "text" };
import { type ListOptions, listAll } from "../sync/list.ts";
import type { S3Client } from "../sync/s3/client.ts";
import type { ListedObject } from "../sync/s3/ops.ts";
import type { FolderRoots } from "../weights/folders.ts";
import { type ModelSnapshot, snapshotOfFiles } from "../weights/model-index.ts";
import { applyExtraModelPaths } from "../weights/roots.ts";

/** Where serverless workers mount the volume (RunPod: /runpod-volume). */
export const VOLUME_MOUNT = "/runpod-volume";
const IMAGE_PATHS_FILE = "/etc/comfy-worker/extra_model_paths.yaml";
// never models: RunPod's multipart staging and our own per-worker files
const IGNORED = [/(^|\/)\.s3compat_uploads\//, /(^|\/)\.comfy-worker\//];

/** The model roots the worker image configures (only those on the volume). */
export function imageVolumeRoots(): FolderRoots {
  const roots: FolderRoots = new Map();
  applyExtraModelPaths(roots, IMAGE_PATHS_FILE, imageModelPaths, {});
  for (const [key, entry] of roots) {
    entry.paths = entry.paths.filter((path) => path.startsWith(`${VOLUME_MOUNT}/`));
    if (entry.paths.length === 0) roots.delete(key);
  }
  return roots;
}

/** The S3 key prefix holding every root (`models/` for the image's paths). */
export function modelsPrefix(roots: FolderRoots): string {
  const dirs = [...roots.values()].flatMap((entry) => entry.paths.map((path) => path.slice(VOLUME_MOUNT.length + 1)));
  let common = dirs[0]?.split("/") ?? [];
  for (const dir of dirs) {
    const parts = dir.split("/");
    let i = 0;
    while (i < common.length && common[i] === parts[i]) i++;
    common = common.slice(0, i);
  }
  return common.length > 0 ? `${common.join("/")}/` : "";
}

/** A snapshot of the volume's models: every listed key under each root, as paths under the mount. */
export function snapshotOfListing(roots: FolderRoots, objects: readonly ListedObject[]): ModelSnapshot {
  const rootFiles = new Map<string, Map<string, string>>();
  const keys = objects.map((object) => object.key).filter((key) => !IGNORED.some((pattern) => pattern.test(key)));
  for (const root of new Set([...roots.values()].flatMap((entry) => entry.paths))) {
    const prefix = `${root.slice(VOLUME_MOUNT.length + 1)}/`;
    const files = new Map<string, string>();
    for (const key of keys)
      if (key.startsWith(prefix)) files.set(key.slice(prefix.length), posix.join(VOLUME_MOUNT, key));
    rootFiles.set(root, files);
  }
  return snapshotOfFiles(roots, rootFiles);
}

/** Lists the volume under the models prefix and returns its snapshot plus the raw listing. */
export async function volumeSnapshot(s3: S3Client, options: ListOptions = {}) {
  const roots = imageVolumeRoots();
  const prefix = modelsPrefix(roots);
  const objects = await listAll(s3, prefix, options);
  return { roots, prefix, objects, snapshot: snapshotOfListing(roots, objects) };
}
