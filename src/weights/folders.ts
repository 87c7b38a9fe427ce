/**
 * ComfyUI's model folder table (folder_paths.py) and its `get_filename_list` listing.
 *
 * Defaults follow upstream folder_paths.py (2026 form: includes background_removal … detection, datasets,
 * fonts); extra_model_paths.yaml and indexing are layered on top by callers.
 */
import type { Dirent } from "node:fs";
import { readdir, realpath, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { FOLDER_ALIASES, FOLDER_UNION_SEPARATOR, GGUF_FOLDERS } from "./loaders.ts";

/** folder_paths.supported_pt_extensions. */
export const PT_EXTENSIONS: readonly string[] = [
  ".ckpt",
  ".pt",
  ".pt2",
  ".bin",
  ".pth",
  ".safetensors",
  ".pkl",
  ".sft",
];

/** A folder key's default dirs (relative to `<base>/models`, or to `<base>` when `underBase`) and extensions. */
export type FolderSpec = {
  readonly dirs: readonly string[];
  /** Lower-case suffixes; empty means every file. */
  readonly extensions: readonly string[];
  readonly underBase?: true;
};

const pt = (...dirs: string[]): FolderSpec => ({ dirs, extensions: PT_EXTENSIONS });

/** Default folder table, in ComfyUI's search order per key. */
export const DEFAULT_FOLDERS: Readonly<Record<string, FolderSpec>> = {
  checkpoints: pt("checkpoints"),
  configs: { dirs: ["configs"], extensions: [".yaml"] },
  loras: pt("loras"),
  vae: pt("vae"),
  text_encoders: pt("text_encoders", "clip"),
  diffusion_models: pt("unet", "diffusion_models"),
  clip_vision: pt("clip_vision"),
  style_models: pt("style_models"),
  embeddings: pt("embeddings"),
  // no file has this suffix: the loader lists dirs holding model_index.json instead (see listFolder)
  diffusers: { dirs: ["diffusers"], extensions: ["folder"] },
  vae_approx: pt("vae_approx"),
  controlnet: pt("controlnet", "t2i_adapter"),
  gligen: pt("gligen"),
  upscale_models: pt("upscale_models"),
  latent_upscale_models: pt("latent_upscale_models"),
  custom_nodes: { dirs: ["custom_nodes"], extensions: [], underBase: true },
  datasets: { dirs: ["datasets"], extensions: [], underBase: true },
  hypernetworks: pt("hypernetworks"),
  photomaker: pt("photomaker"),
  // {""} keeps only files without an extension
  classifiers: { dirs: ["classifiers"], extensions: [""] },
  model_patches: pt("model_patches"),
  audio_encoders: pt("audio_encoders"),
  background_removal: pt("background_removal"),
  frame_interpolation: pt("frame_interpolation"),
  geometry_estimation: pt("geometry_estimation"),
  optical_flow: pt("optical_flow"),
  detection: pt("detection"),
  fonts: { dirs: ["fonts"], extensions: [".ttf", ".otf"], underBase: true },
  // custom-node folders: each pack registers its key with the pt set, except LLM (Florence2 & co. call
  // add_model_folder_path on an unknown key, which means any file) and insightface (read directly, no filter)
  ipadapter: pt("ipadapter"),
  instantid: pt("instantid"),
  pulid: pt("pulid"),
  animatediff_models: pt("animatediff_models"),
  animatediff_motion_lora: pt("animatediff_motion_lora"),
  sams: pt("sams"),
  ultralytics: pt("ultralytics"),
  ultralytics_bbox: pt("ultralytics/bbox"),
  ultralytics_segm: pt("ultralytics/segm"),
  TheMisto_model: pt("TheMisto_model"),
  insightface: { dirs: ["insightface"], extensions: [] },
  LLM: { dirs: ["LLM"], extensions: [] },
};

/** Search roots per canonical folder key; the unit that extra_model_paths.yaml edits. */
export type FolderRoots = Map<string, { paths: string[]; extensions: string[] }>;

/** ComfyUI's default roots as absolute paths (`--models-directory` maps to `modelsDir`). */
export function defaultRoots(baseDir: string, modelsDir: string = join(baseDir, "models")): FolderRoots {
  const roots: FolderRoots = new Map();
  for (const [key, spec] of Object.entries(DEFAULT_FOLDERS)) {
    const parent = spec.underBase ? baseDir : modelsDir;
    roots.set(key, { paths: spec.dirs.map((dir) => resolve(parent, dir)), extensions: [...spec.extensions] });
  }
  return roots;
}

/** The canonical key for a folder name (`unet` → diffusion_models, `clip` → text_encoders). */
export function canonicalFolder(key: string): string {
  return Object.hasOwn(FOLDER_ALIASES, key) ? (FOLDER_ALIASES[key] ?? key) : key;
}

/**
 * Whether a folder key a workflow or job names can be a directory under a models dir: one path segment, not
 * `.` or `..`. Keys come from untrusted metadata and become a directory name when a file is downloaded.
 */
export function isFolderKey(key: string): boolean {
  return key !== "" && key !== "." && key !== ".." && !/[/\\\0]/.test(key);
}

/**
 * ComfyUI's `get_filename_list`: every file under every root (symlinks followed, `.git` dirs skipped),
 * relative with "/" separators, filtered by extension, de-duplicated and sorted. Also understands the
 * GGUF virtual folders and "a|b" unions; unknown keys and missing roots list nothing.
 */
export async function listFolder(roots: FolderRoots, folder: string): Promise<string[]> {
  const parts = folder.split(FOLDER_UNION_SEPARATOR).map(canonicalFolder);
  const lists = await Promise.all(parts.map((part) => _listOne(roots, part)));
  // code-unit order: same as Python's sorted() for every BMP name
  return [...new Set(lists.flat())].sort();
}

// --- internal ---

async function _listOne(roots: FolderRoots, key: string): Promise<string[]> {
  const gguf = Object.hasOwn(GGUF_FOLDERS, key) ? GGUF_FOLDERS[key] : undefined;
  const entry = roots.get(gguf ? gguf.source : key);
  if (!entry) return [];
  const extensions = gguf ? gguf.extensions : entry.extensions;
  const found = await Promise.all(entry.paths.map((root) => _walk(root, "", new Set())));
  if (extensions.includes("folder")) {
    // DiffusersLoader offers the dirs holding model_index.json, "." being a root itself
    return found.flat().flatMap((file) => (_basename(file) === "model_index.json" ? [_dirname(file)] : []));
  }
  return found.flat().filter((file) => extensions.length === 0 || extensions.includes(_extension(file)));
}

/** Relative file paths under `dir`; `ancestors` holds real paths above it so symlink cycles end. */
async function _walk(dir: string, rel: string, ancestors: Set<string>): Promise<string[]> {
  let entries: Dirent[];
  let real: string;
  try {
    entries = await readdir(dir, { withFileTypes: true });
    real = await realpath(dir);
  } catch {
    // like os.walk: unreadable or missing dirs are skipped silently
    return [];
  }
  if (ancestors.has(real)) return [];
  const below = new Set(ancestors).add(real);
  const nested = await Promise.all(
    entries.map(async (entry) => {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      const isDir = entry.isDirectory() || (entry.isSymbolicLink() && (await _isDir(join(dir, entry.name))));
      if (!isDir) return [path];
      return entry.name === ".git" ? [] : _walk(join(dir, entry.name), path, below);
    }),
  );
  return nested.flat();
}

async function _isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    // a dangling link is listed as a file, as os.walk does
    return false;
  }
}

/** Python's os.path.splitext suffix, lower-cased: leading dots of the name never start a suffix. */
function _extension(path: string): string {
  const name = _basename(path);
  const dot = name.lastIndexOf(".");
  if (dot <= 0 || /^\.+$/.test(name.slice(0, dot))) return "";
  return name.slice(dot).toLowerCase();
}

function _basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

function _dirname(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "." : path.slice(0, slash);
}
