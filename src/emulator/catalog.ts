import { readdir, readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, extname, isAbsolute, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { coreObjectInfo, fillFileCombos, type ObjectInfo } from "../comfy/object-info.ts";
import { WorkerError } from "../errors.ts";
import { canonicalFolder, defaultRoots, type FolderRoots, listFolder } from "../weights/folders.ts";
import { LOADERS, VAE_SPECIAL } from "../weights/loaders.ts";
import type { TypeDirs } from "./outputs.ts";

/** The emulator's view of its folders: /models listings and /object_info with file combos filled. */
export interface Catalog {
  objectInfo(): Promise<ObjectInfo>;
  /** GET /models: every folder key. */
  folderKeys(): string[];
  /** GET /models/{folder}: undefined when the key is unknown (legacy `unet`/`clip` included). */
  list(folder: string): Promise<string[] | undefined>;
  /** GET /embeddings: names without extension. */
  embeddings(): Promise<string[]>;
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
  const roots = defaultRoots(baseDir);
  for (const file of extraYamls) await _applyExtraPaths(roots, file, log, env);
  const base = coreObjectInfo();
  const folders = [...new Set(Object.values(LOADERS).flatMap((inputs) => Object.values(inputs)))];
  folders.push(VAE_SPECIAL.approxFolder, "vae");
  return {
    async objectInfo() {
      const lists = new Map<string, string[]>();
      await Promise.all(folders.map(async (f) => lists.set(f, await _list(roots, dirs, f))));
      return fillFileCombos(base, (folder) => lists.get(folder) ?? []);
    },
    folderKeys: () => [...roots.keys()],
    list: async (folder) => (roots.has(folder) ? listFolder(roots, folder) : undefined),
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

/** utils/extra_config.py: sections of folder keys, `base_path`, `is_default`, one path per line. */
async function _applyExtraPaths(
  roots: FolderRoots,
  file: string,
  log: (line: string) => void,
  env: Record<string, string | undefined>,
): Promise<void> {
  let doc: unknown;
  try {
    doc = parseYaml(await readFile(file, "utf8"));
  } catch (error) {
    throw new WorkerError("E_USAGE", `cannot read --extra-model-paths-config ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (typeof doc !== "object" || doc === null) return;
  for (const section of Object.values(doc)) {
    if (typeof section !== "object" || section === null) continue;
    const { base_path: basePath, is_default: isDefault, ...keys } = section as Record<string, unknown>;
    const base = typeof basePath === "string" ? resolve(dirname(file), _expand(basePath, env)) : undefined;
    for (const [rawKey, value] of Object.entries(keys)) {
      const key = canonicalFolder(rawKey);
      for (const line of String(value ?? "").split("\n")) {
        const path = line.trim();
        if (!path) continue;
        const full = isAbsolute(path) ? path : resolve(base ?? dirname(file), path);
        log(`Adding extra search path ${rawKey} ${full}`);
        _addRoot(roots, key, full, isDefault === true);
      }
    }
  }
}

function _addRoot(roots: FolderRoots, key: string, path: string, first: boolean): void {
  // an unknown key becomes a folder that lists every extension
  const entry = roots.get(key) ?? { paths: [], extensions: [] };
  roots.set(key, entry);
  const index = entry.paths.indexOf(path);
  if (first) {
    if (index >= 0) entry.paths.splice(index, 1);
    entry.paths.unshift(path);
  } else if (index < 0) entry.paths.push(path);
}

// os.path.expandvars(os.path.expanduser(...)): unknown variables stay as written
function _expand(path: string, env: Record<string, string | undefined>): string {
  const home = path.startsWith("~") ? homedir() + path.slice(1) : path;
  return home.replace(/\$(\w+)|\$\{(\w+)\}/g, (match, a, b) => env[a ?? b] ?? match);
}
