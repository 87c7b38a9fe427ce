/**
 * Where a missing weight is downloaded to (SPEC §3 MODELS_DIR, §7): the one rule `pull`, `check --download`,
 * preloads and WEIGHTS_MODE=download share.
 */
import { isAbsolute, join, resolve, sep } from "node:path";
import { WorkerError } from "../errors.ts";
import { canonicalFolder, DEFAULT_FOLDERS, type FolderRoots, isFolderKey } from "./folders.ts";
import { isDefaultRoot } from "./roots.ts";

/**
 * The directory a file of `folder` is downloaded into: the folder's first root when it comes from an
 * `is_default` section, else `<modelsDir>/<folder>` when MODELS_DIR is set, else the folder's first root
 * (the canonical `diffusion_models`/`text_encoders` dir rather than the legacy `unet`/`clip` next to it).
 * Throws E_CONFIG when the folder has no root at all and no MODELS_DIR is set, E_INPUT when the folder is no
 * folder name (a workflow's metadata names it, and it must not lead out of the models dir).
 */
export function downloadRoot(roots: FolderRoots, folder: string, modelsDir?: string): string {
  const key = canonicalFolder(folder);
  if (!isFolderKey(key)) {
    throw new WorkerError(
      "E_INPUT",
      `model folder ${JSON.stringify(folder)} is not a folder name such as loras; refusing to write outside the models folder`,
    );
  }
  const paths = roots.get(key)?.paths ?? [];
  const first = paths[0];
  if (first !== undefined && isDefaultRoot(roots, key, first)) return first;
  if (modelsDir) return resolve(modelsDir, preferredDir(key));
  if (first === undefined) {
    throw new WorkerError(
      "E_CONFIG",
      `no model folder is configured for "${key}"; set MODELS_DIR or add "${key}" to an extra_model_paths.yaml`,
    );
  }
  return _canonicalSibling(key, first, paths);
}

/** The absolute path for `name` (may hold "/"-separated subfolders) under `downloadRoot`; never outside it. */
export function downloadPath(roots: FolderRoots, folder: string, name: string, modelsDir?: string): string {
  const root = downloadRoot(roots, folder, modelsDir);
  const parts = name.split("/");
  const bad =
    name === "" ||
    isAbsolute(name) ||
    name.includes("\\") ||
    name.includes("\0") ||
    parts.some((part) => part === "" || part === "." || part === "..");
  const path = resolve(root, name);
  if (bad || !path.startsWith(root + sep)) {
    throw new WorkerError(
      "E_INPUT",
      `weight name ${JSON.stringify(name)} is not a relative path inside the ${canonicalFolder(folder)} folder; refusing to write outside ${root}`,
    );
  }
  return path;
}

/** The sub-directory of a models dir a folder key lives in: its own name when ComfyUI knows it, else the first. */
export function preferredDir(folder: string): string {
  const dirs = Object.hasOwn(DEFAULT_FOLDERS, folder) ? (DEFAULT_FOLDERS[folder]?.dirs ?? []) : [];
  return dirs.includes(folder) ? folder : (dirs[0] ?? folder);
}

// ComfyUI lists the legacy dir first (`unet` before `diffusion_models`); new files go to the canonical one
function _canonicalSibling(folder: string, first: string, paths: readonly string[]): string {
  const preferred = preferredDir(folder);
  const legacy = (DEFAULT_FOLDERS[folder]?.dirs ?? []).find((dir) => dir !== preferred && first.endsWith(sep + dir));
  if (!legacy) return first;
  const sibling = join(first.slice(0, first.length - legacy.length), preferred);
  return paths.includes(sibling) ? sibling : first;
}
