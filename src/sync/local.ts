import type { Dirent } from "node:fs";
import { readdir, realpath, stat } from "node:fs/promises";
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

/** A folder that could not be listed, or an entry that could not be read; nothing under it is sent or deleted. */
export interface Unreadable {
  rel: string;
  reason: string;
}

/**
 * Every wanted file under `dir` (symlinks followed, but never into a folder that contains the link: a loop), sorted
 * by path, and the folders that could not be read.
 */
export async function walkLocal(
  dir: string,
  filter: PathFilter,
): Promise<{ files: LocalFile[]; unreadable: Unreadable[] }> {
  const top = await stat(dir).catch(() => undefined);
  if (!top?.isDirectory())
    throw new WorkerError("E_USAGE", `${dir} is not a folder: give the local models folder to sync`);
  const files: LocalFile[] = [];
  const unreadable: Unreadable[] = [];
  const visit = async (folder: string, ancestors: ReadonlySet<string>): Promise<void> => {
    const rel = relative(dir, folder).split(sep).join("/");
    const real = await realpath(folder).catch(() => folder);
    if (ancestors.has(real)) return;
    const inside = new Set(ancestors).add(real);
    let entries: Dirent[];
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch (error) {
      if (rel === "") throw new WorkerError("E_USAGE", `cannot read ${dir}: ${(error as Error).message}`);
      unreadable.push({ rel, reason: `cannot list this folder (${(error as NodeJS.ErrnoException).code ?? error})` });
      return;
    }
    for (const entry of entries) {
      const path = join(folder, entry.name);
      const fileRel = relative(dir, path).split(sep).join("/");
      const info = await stat(path).catch((error: NodeJS.ErrnoException) => error);
      // a link to a missing disk or round itself: its remote copy is neither sent nor, with --delete, deleted
      if (info instanceof Error) {
        if (!entry.name.startsWith(".") && wanted(fileRel, filter))
          unreadable.push({ rel: fileRel, reason: `cannot be read (${info.code ?? info.message})` });
        continue;
      }
      if (info.isDirectory()) {
        if (!entry.name.startsWith(".")) await visit(path, inside);
      } else if (info.isFile() && wanted(fileRel, filter)) {
        files.push({ rel: fileRel, path, size: info.size, mtimeMs: info.mtimeMs });
      }
    }
  };
  await visit(dir, new Set());
  return { files: files.sort((a, b) => (a.rel < b.rel ? -1 : 1)), unreadable };
}

/** Refuses a glob that matches nothing by mistake: empty, or with a `[` or `{` left open. */
export function checkGlob(glob: string, flag: string): void {
  const open = (a: string, b: string) => glob.split(a).length !== glob.split(b).length;
  if (glob.trim() === "" || open("[", "]") || open("{", "}")) {
    throw new WorkerError(
      "E_USAGE",
      `${flag} ${JSON.stringify(glob)} is not a usable glob (empty, or a [ or { left open); e.g. ${flag} "loras/**"`,
    );
  }
}
