/**
 * Model roots exactly as ComfyUI computes them: folder_paths.py defaults, then
 * `<comfy>/extra_model_paths.yaml`, then each `--extra-model-paths-config` file (utils/extra_config.py).
 */
import { readFile, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { z } from "zod";
import type { Config } from "../config.ts";
import { WorkerError } from "../errors.ts";
import { yaml } from "../lib/lazy-modules.ts";
import { canonicalFolder, DEFAULT_FOLDERS, defaultRoots, type FolderRoots } from "./folders.ts";

/** One section of extra_model_paths.yaml: `base_path`, `is_default`, then folder key → path(s). */
export const ExtraPathsSection = z
  .object({ base_path: z.string().optional(), is_default: z.boolean().optional() })
  .catchall(z.string());
/** A whole extra_model_paths.yaml: section name → section (a null section is skipped, as ComfyUI does). */
export const ExtraPathsFile = z.record(z.string(), ExtraPathsSection.nullable());
export type ExtraPathsFile = z.infer<typeof ExtraPathsFile>;

export interface ModelRootsOptions {
  /** ComfyUI's base directory (`--base-directory`, else the checkout); defaults live in `<base>/models`. */
  baseDir: string;
  /** ComfyUI checkout whose own extra_model_paths.yaml is read first when it exists. */
  comfyDir?: string;
  /** `--extra-model-paths-config` files, in command-line order. */
  extraConfigs?: readonly string[];
  /** Directories laid out like `<base>/models`, appended after everything else (`--models-dir`). */
  modelsDirs?: readonly string[];
  /** For `$VARS` and `~` in `base_path`. */
  env?: Record<string, string | undefined>;
  /** Receives ComfyUI's "Adding extra search path" lines. */
  log?: (line: string) => void;
}

/** The roots ComfyUI would search; throws E_CONFIG naming the file and key of a malformed YAML. */
export async function loadModelRoots(options: ModelRootsOptions): Promise<FolderRoots> {
  const roots = defaultRoots(options.baseDir);
  const files = [...(options.extraConfigs ?? [])].map((file) => resolve(file));
  if (options.comfyDir) {
    const own = join(resolve(options.comfyDir), "extra_model_paths.yaml");
    if (await Bun.file(own).exists()) files.unshift(own);
  }
  for (const file of files) {
    applyExtraModelPaths(roots, file, await _read(file), options.env ?? {}, options.log);
  }
  for (const dir of options.modelsDirs ?? []) addModelsDir(roots, resolve(dir));
  // main.py adds these last: where CheckpointSave, CLIPSave, VAESave, ModelSave and LoRA savers write, so ComfyUI
  // loads what it saved (seen in a real 0.28.2's /experiment/models)
  const output = join(resolve(options.baseDir), "output");
  for (const key of OUTPUT_MODEL_FOLDERS) addModelFolderPath(roots, key, join(output, key));
  return roots;
}

const OUTPUT_MODEL_FOLDERS = ["checkpoints", "clip", "vae", "diffusion_models", "loras"] as const;

/** The settings that say where models are (SPEC §3 COMFY_DIR, EXTRA_MODEL_PATHS, MODELS_DIR). */
export type RootSettings = Pick<Config, "COMFY_DIR" | "EXTRA_MODEL_PATHS" | "MODELS_DIR" | "env">;

/**
 * The one rule every command uses for where models are: `<base>/models` (COMFY_DIR's, unless a ComfyUI with
 * another base is given), COMFY_DIR's own extra_model_paths.yaml, each EXTRA_MODEL_PATHS file, then
 * MODELS_DIR laid out like models/. A ComfyUI we start is told about MODELS_DIR (see modelsDirYaml), so
 * `check`, `pull`, `run` and `serve` all see the same files. Throws E_CONFIG for a missing or bad YAML.
 */
export async function configuredModelRoots(settings: RootSettings, baseDir = settings.COMFY_DIR): Promise<FolderRoots> {
  await checkModelPathFiles(settings.EXTRA_MODEL_PATHS ?? []);
  return loadModelRoots({
    baseDir,
    comfyDir: settings.COMFY_DIR,
    extraConfigs: settings.EXTRA_MODEL_PATHS ?? [],
    modelsDirs: settings.MODELS_DIR ? [settings.MODELS_DIR] : [],
    env: settings.env,
  });
}

/** E_CONFIG naming every EXTRA_MODEL_PATHS file that is not a readable file, before anything starts. */
export async function checkModelPathFiles(files: readonly string[]): Promise<void> {
  const bad: string[] = [];
  for (const file of files) {
    const ok = await stat(file).then(
      (s) => s.isFile(),
      () => false,
    );
    if (!ok) bad.push(resolve(file));
  }
  if (bad.length === 0) return;
  throw new WorkerError(
    "E_CONFIG",
    `EXTRA_MODEL_PATHS (or --extra-model-paths) names ${bad.length > 1 ? "files that do" : "a file that does"} not exist: ${bad.join(", ")}; fix the path or remove it`,
    { details: { files: bad } },
  );
}

/**
 * extra_model_paths.yaml text that adds each directory laid out like models/ (one section each, in order):
 * how a ComfyUI or emulator we start learns about MODELS_DIR. `isDefault` puts a directory first.
 */
export function modelsDirYaml(dirs: readonly { dir: string; isDefault?: boolean }[]): string {
  const doc: Record<string, Record<string, string | boolean>> = {};
  dirs.forEach(({ dir, isDefault }, i) => {
    const section: Record<string, string | boolean> = {
      base_path: resolve(dir),
      ...(isDefault ? { is_default: true } : {}),
    };
    for (const [key, spec] of Object.entries(DEFAULT_FOLDERS)) if (!spec.underBase) section[key] = spec.dirs.join("\n");
    doc[`comfy_worker_${i + 1}`] = section;
  });
  return yaml().stringify(doc);
}

/** Applies one extra_model_paths.yaml (its text) to `roots` in place, exactly as load_extra_path_config. */
export function applyExtraModelPaths(
  roots: FolderRoots,
  file: string,
  text: string,
  env: Record<string, string | undefined>,
  log?: (line: string) => void,
): void {
  const yamlDir = dirname(resolve(file));
  for (const section of Object.values(parseExtraModelPaths(file, text))) {
    if (!section) continue;
    const { base_path: rawBase, is_default: isDefault, ...keys } = section;
    const base = rawBase === undefined ? undefined : resolve(yamlDir, expandPath(rawBase, env));
    for (const [key, value] of Object.entries(keys)) {
      for (const line of String(value).split("\n")) {
        if (line.length === 0) continue;
        // with base_path, os.path.join keeps an absolute line as-is; without, relative lines follow the YAML
        const full = resolve(base ?? yamlDir, line);
        log?.(`Adding extra search path ${key} ${full}`);
        addModelFolderPath(roots, key, full, isDefault === true);
      }
    }
  }
}

/** Parses and validates extra_model_paths.yaml text; throws E_CONFIG naming the file, section and key. */
export function parseExtraModelPaths(file: string, text: string): ExtraPathsFile {
  let doc: unknown;
  try {
    doc = yaml().parse(text);
  } catch (error) {
    const reason = (error as Error).message.split("\n")[0];
    throw new WorkerError("E_CONFIG", `${file}: invalid YAML (${reason})`, { cause: error });
  }
  if (doc === null || doc === undefined) return {};
  const parsed = ExtraPathsFile.safeParse(doc);
  if (parsed.success) return parsed.data;
  const path = parsed.error.issues[0]?.path ?? [];
  const where = path.length ? path.join(".") : "(top level)";
  const found = path.reduce<unknown>((value, key) => (value as Record<PropertyKey, unknown> | undefined)?.[key], doc);
  throw new WorkerError("E_CONFIG", `${file}: ${where}: ${_expected(path)}, found ${_kind(found)}`, {
    details: { file, key: where },
  });
}

// roots that came from an `is_default` section, per roots map: downloads go there first (SPEC §7)
const DEFAULT_PATHS = new WeakMap<FolderRoots, Set<string>>();

/** True when `path` was added to `folder`'s roots by an `is_default: true` section of extra_model_paths.yaml. */
export function isDefaultRoot(roots: FolderRoots, folder: string, path: string): boolean {
  return DEFAULT_PATHS.get(roots)?.has(`${canonicalFolder(folder)}\0${path}`) === true;
}

/** folder_paths.add_model_folder_path: legacy names mapped, `is_default` moves or inserts at the front. */
export function addModelFolderPath(roots: FolderRoots, key: string, path: string, isDefault = false): void {
  const folder = canonicalFolder(key);
  if (isDefault) DEFAULT_PATHS.set(roots, (DEFAULT_PATHS.get(roots) ?? new Set<string>()).add(`${folder}\0${path}`));
  const entry = roots.get(folder);
  // an unknown key becomes a folder that lists every extension
  if (!entry) return void roots.set(folder, { paths: [path], extensions: [] });
  const index = entry.paths.indexOf(path);
  if (index >= 0) {
    if (isDefault && index > 0) entry.paths.unshift(...entry.paths.splice(index, 1));
  } else if (isDefault) entry.paths.unshift(path);
  else entry.paths.push(path);
}

/** Appends `dir/<default subdir>` for every model folder, as a YAML section with `base_path: dir` would. */
export function addModelsDir(roots: FolderRoots, dir: string): void {
  for (const [key, spec] of Object.entries(DEFAULT_FOLDERS)) {
    if (spec.underBase) continue;
    for (const sub of spec.dirs) addModelFolderPath(roots, key, join(dir, sub));
  }
}

/** os.path.expandvars(os.path.expanduser(path)): `~` from HOME, `$VAR`/`${VAR}`; unknown variables stay. */
export function expandPath(path: string, env: Record<string, string | undefined>): string {
  const home = env.HOME ?? homedir();
  const user = path === "~" || path.startsWith("~/") ? home + path.slice(1) : path;
  return user.replace(/\$(\w+)|\$\{([^}]*)\}/g, (match, a?: string, b?: string) => env[a ?? b ?? ""] ?? match);
}

async function _read(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new WorkerError("E_CONFIG", `cannot read extra model paths file ${file} (${code})`, { cause: error });
  }
}

// what a YAML value is, in the words of the file's author
function _kind(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  return typeof value === "object" ? "a mapping" : `${typeof value} ${JSON.stringify(value)}`;
}

function _expected(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "expected a mapping of sections";
  if (path.length === 1) return "expected a mapping of folder keys (or nothing)";
  const key = String(path[1]);
  if (key === "base_path") return "expected a path";
  if (key === "is_default") return "expected true or false";
  return "expected a path or one path per line";
}
