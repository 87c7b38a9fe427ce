import { mkdir, readdir } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, normalize, relative, resolve } from "node:path";

/** Where the next file of a save node goes, as `folder_paths.get_save_image_path` decides it. */
export interface SavePath {
  folder: string;
  filename: string;
  counter: number;
  subfolder: string;
}

/** Thrown when a `filename_prefix` points outside the output directory; ComfyUI raises the same text. */
export const OUTSIDE_OUTPUT_MESSAGE = "**** ERROR: Saving image outside the output folder is not allowed.";

/**
 * ComfyUI's naming: `%width%`-style variables, a prefix's directories become the subfolder, and the counter is
 * one past the highest `<name>_NNNNN_` already in that folder (1 when none). Throws when the prefix escapes.
 */
export async function saveImagePath(prefix: string, outputDir: string, width = 0, height = 0): Promise<SavePath> {
  const expanded = prefix.includes("%") ? computeVars(prefix, width, height) : prefix;
  const normalized = normalize(expanded);
  const subfolder = dirname(normalized) === "." ? "" : dirname(normalized);
  const filename = basename(normalized);
  // os.path.join drops the base for an absolute part, which the escape check then rejects
  const folder = isAbsolute(subfolder) ? subfolder : join(outputDir, subfolder);
  const rel = relative(resolve(outputDir), resolve(folder));
  if (rel.startsWith("..") || isAbsolute(rel)) {
    throw new Error(`${OUTSIDE_OUTPUT_MESSAGE}\n full_output_folder: ${resolve(folder)}\n output_dir: ${outputDir}`);
  }
  let names: string[];
  try {
    names = await readdir(folder);
  } catch {
    await mkdir(folder, { recursive: true });
    names = [];
  }
  return { folder, filename, counter: _nextCounter(names, filename), subfolder };
}

/** `%width%`, `%height%`, `%year%` … `%second%` as ComfyUI substitutes them in save prefixes. */
export function computeVars(input: string, width: number, height: number): string {
  const now = new Date();
  const pad = (n: number) => String(n).padStart(2, "0");
  return input
    .replaceAll("%width%", String(width))
    .replaceAll("%height%", String(height))
    .replaceAll("%year%", String(now.getFullYear()))
    .replaceAll("%month%", pad(now.getMonth() + 1))
    .replaceAll("%day%", pad(now.getDate()))
    .replaceAll("%hour%", pad(now.getHours()))
    .replaceAll("%minute%", pad(now.getMinutes()))
    .replaceAll("%second%", pad(now.getSeconds()));
}

/** `<name>_00001_` with the counter zero-padded to five digits, as every core save node names files. */
export function counterName(filename: string, counter: number, ext: string): string {
  return `${filename}_${String(counter).padStart(5, "0")}_.${ext}`;
}

function _nextCounter(names: string[], filename: string): number {
  let highest = 0;
  for (const name of names) {
    const head = name.slice(0, filename.length + 1);
    if (head.slice(0, -1) !== filename || !head.endsWith("_")) continue;
    const digits = name.slice(filename.length + 1).split("_")[0] ?? "";
    // Python's int() on a non-number raises and ComfyUI maps that to 0
    highest = Math.max(highest, /^\d+$/.test(digits) ? Number(digits) : 0);
  }
  return highest + 1;
}
