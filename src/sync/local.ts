import { readdir, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { WorkerError } from "../errors.ts";

/** A file of the local models folder. */
export interface LocalFile {
  /** Path relative to the folder, `/`-separated: the key under the prefix. */
  rel: string;
  path: string;
  size: number;
  mtimeMs: number;
}

/** --include / --exclude globs, matched against the relative path. */
export interface PathFilter {
  include: string[];
  exclude: string[];
}

// our own bookkeeping and downloads in progress, never models
const SKIPPED = [/\.sha256\.json$/, /\.part$/, /\.lock$/, /\.tmp$/, /\.part\.json$/];

/** True when `rel` is a model file sync should consider: not hidden, not ours, and passing the globs. */
export function wanted(rel: string, filter: PathFilter): boolean {
  if (rel.split("/").some((segment) => segment.startsWith("."))) return false;
  if (SKIPPED.some((pattern) => pattern.test(rel))) return false;
  if (filter.include.length > 0 && !filter.include.some((glob) => new Bun.Glob(glob).match(rel))) return false;
  return !filter.exclude.some((glob) => new Bun.Glob(glob).match(rel));
}

/** Every wanted file under `dir` (symlinks followed), sorted by path. */
export async function walkLocal(dir: string, filter: PathFilter): Promise<LocalFile[]> {
  const top = await stat(dir).catch(() => undefined);
  if (!top?.isDirectory())
    throw new WorkerError("E_USAGE", `${dir} is not a folder: give the local models folder to sync`);
  const files: LocalFile[] = [];
  const visit = async (folder: string): Promise<void> => {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      const info = await stat(path).catch(() => undefined);
      if (!info) continue;
      const rel = relative(dir, path).split(sep).join("/");
      if (info.isDirectory()) {
        if (!entry.name.startsWith(".")) await visit(path);
      } else if (info.isFile() && wanted(rel, filter)) {
        files.push({ rel, path, size: info.size, mtimeMs: info.mtimeMs });
      }
    }
  };
  await visit(dir);
  return files.sort((a, b) => (a.rel < b.rel ? -1 : 1));
}
