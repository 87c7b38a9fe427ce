import { readdir } from "node:fs/promises";
import { extname, join, relative } from "node:path";
import { coreObjectInfo, fileComboFolders, fillFileCombos, type ObjectInfo } from "../comfy/object-info.ts";
import { type FolderRoots, listFolder } from "../weights/folders.ts";
import { LOADERS } from "../weights/loaders.ts";
import { loadModelRoots } from "../weights/roots.ts";
import type { TypeDirs } from "./outputs.ts";

/** The emulator's view of its folders: /models listings and /object_info with file combos filled. */
export interface Catalog {
  objectInfo(): Promise<ObjectInfo>;
  /** The entries of these node types only (unknown ones left out), listing only their own folders. */
  nodesInfo(types: Iterable<string>): Promise<ObjectInfo>;
  /** GET /models: every folder key. */
  folderKeys(): string[];
  /** GET /models/{folder}: undefined when the key is unknown (legacy `unet`/`clip` included). */
  list(folder: string): Promise<string[] | undefined>;
  /** GET /embeddings: names without extension. */
  embeddings(): Promise<string[]>;
  /** GET /experiment/models: each folder key's search paths, minus configs and custom_nodes (as ComfyUI). */
  folderPaths(): { name: string; folders: string[] }[];
  /** folder_paths.get_full_path: the first root that holds `name`, or undefined. */
  modelPath(folder: string, name: string): Promise<string | undefined>;
}

// LoadImage lists the input dir's top-level image files (filter_files_content_types(files, ["image"]))
const IMAGE_EXTENSIONS = new Set([".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".avif"]);
const DIR_KEYS = new Set(["input", "output"]);

/** Builds the catalog over `<base>/models` plus the roots of each extra_model_paths.yaml. */
export async function createCatalog(
  baseDir: string,
  dirs: TypeDirs,
  extraYamls: string[],
  log: (line: string) => void,
  env: Record<string, string | undefined>,
): Promise<Catalog> {
  const roots = await loadModelRoots({ baseDir, extraConfigs: extraYamls, env, log });
  const base = coreObjectInfo();
  // only the loader nodes get file combos: cloning just those (not the 600 KB snapshot) keeps a prompt cheap, as
  // ComfyUI's own validation is; callers only read the result, so the other nodes are shared
  const nodesInfo = async (types: Iterable<string>) => {
    const picked: ObjectInfo = {};
    const loaders: ObjectInfo = {};
    for (const type of types) {
      if (!Object.hasOwn(base, type)) continue;
      picked[type] = base[type] as ObjectInfo[string];
      if (Object.hasOwn(LOADERS, type)) loaders[type] = picked[type];
    }
    // like INPUT_TYPES in ComfyUI, a node lists only its own folders: a prompt or /object_info/{type} never reads
    // the twenty-odd folders of loaders it does not use
    const lists = new Map<string, string[]>();
    await Promise.all(fileComboFolders(loaders).map(async (f) => lists.set(f, await _list(roots, dirs, f))));
    return { ...picked, ...fillFileCombos(loaders, (folder) => lists.get(folder) ?? []) };
  };
  return {
    objectInfo: () => nodesInfo(Object.keys(base)),
    nodesInfo,
    folderKeys: () => [...roots.keys()],
    folderPaths: () =>
      [...roots]
        .filter(([name]) => name !== "configs" && name !== "custom_nodes")
        .map(([name, entry]) => ({ name, folders: [...entry.paths] })),
    list: async (folder) => (roots.has(folder) ? listFolder(roots, folder) : undefined),
    modelPath: async (folder, name) => {
      for (const root of roots.get(folder)?.paths ?? []) {
        const path = join(root, name);
        if (!relative(root, path).startsWith("..") && (await Bun.file(path).exists())) return path;
      }
      return undefined;
    },
    embeddings: async () =>
      (await listFolder(roots, "embeddings")).map((n) => n.slice(0, n.length - extname(n).length)),
  };
}

async function _list(roots: FolderRoots, dirs: TypeDirs, folder: string): Promise<string[]> {
  if (!DIR_KEYS.has(folder)) return listFolder(roots, folder);
  const dir = folder === "input" ? dirs.input : dirs.output;
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile() && IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase()))
    .map((e) => e.name)
    .sort();
}
