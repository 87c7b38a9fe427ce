/**
 * A local index of the files under every model root, kept in memory and revalidated per directory by
 * mtime (ComfyUI's filename_list_cache idea, at directory rather than folder granularity): a refresh
 * stats each known directory and re-reads only those whose mtime changed, so a tree of 50,000 files
 * costs one readdir per directory the first time and one stat per directory afterwards.
 */
import type { Dirent, Stats } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { canonicalFolder, type FolderRoots } from "./folders.ts";
import { FOLDER_UNION_SEPARATOR, GGUF_FOLDERS } from "./loaders.ts";

/** A consistent view of the roots at one moment; cheap to query many times. */
export interface ModelSnapshot {
  /** ComfyUI's get_filename_list(folder): relative "/" paths, extension-filtered, de-duplicated, sorted. */
  list(folder: string): string[];
  /** The absolute path ComfyUI would load for `name` (first root wins), or undefined when not listed. */
  find(folder: string, name: string): string | undefined;
  /** Every file under the folder's roots, unfiltered, with the first root's path for each relative name. */
  files(folder: string): ReadonlyMap<string, string>;
  /** The directories searched for `folder`, in order (the "where we looked" of a report). */
  searched(folder: string): string[];
  /** Every folder key that has roots. */
  folders(): string[];
}

type DirNode = { mtimeMs: number; id: string; files: string[]; dirs: string[]; settled: boolean };

// on filesystems with coarse timestamps a change in the same tick keeps the mtime; re-read young dirs
const MTIME_SETTLE_MS = 2_000;

/** Creates an index over `roots`; nothing is read until the first `snapshot()`. */
export function createModelIndex(roots: FolderRoots): ModelIndex {
  return new ModelIndex(roots);
}

/** See the module comment; one instance per set of roots, safe to share between concurrent checks. */
export class ModelIndex {
  readonly roots: FolderRoots;
  #dirs = new Map<string, DirNode>();
  #flat = new Map<string, Map<string, string>>();
  #last?: { snapshot: ModelSnapshot; rootFiles: Map<string, Map<string, string>> };

  constructor(roots: FolderRoots) {
    this.roots = roots;
  }

  /** Revalidates every root (a stat per known directory); returns the same snapshot while nothing changed. */
  async snapshot(): Promise<ModelSnapshot> {
    const pass = new Map<string, Promise<boolean>>();
    const unique = [...new Set([...this.roots.values()].flatMap((entry) => entry.paths))];
    const rootFiles = new Map<string, Map<string, string>>();
    await Promise.all(
      unique.map(async (root) => {
        const changed = await this.#scan(root, new Set(), pass);
        rootFiles.set(root, this.#flatten(root, changed));
      }),
    );
    // nothing moved: hand out the same snapshot, so its per-folder tables (and callers' caches) are reused
    const last = this.#last;
    if (last && [...rootFiles].every(([root, files]) => last.rootFiles.get(root) === files)) return last.snapshot;
    const snapshot = new _Snapshot(this.roots, rootFiles);
    this.#last = { snapshot, rootFiles };
    return snapshot;
  }

  /** Re-reads `dir` if its mtime moved, then its subdirectories; true when anything below changed. */
  #scan(dir: string, ancestors: Set<string>, pass: Map<string, Promise<boolean>>): Promise<boolean> {
    let work = pass.get(dir);
    if (work === undefined) {
      work = this.#scanOnce(dir, ancestors, pass);
      pass.set(dir, work);
    }
    return work;
  }

  async #scanOnce(dir: string, ancestors: Set<string>, pass: Map<string, Promise<boolean>>): Promise<boolean> {
    const info = await _stat(dir);
    const cached = this.#dirs.get(dir);
    if (!info?.isDirectory()) {
      // like os.walk, a missing or unreadable root lists nothing
      if (cached) this.#dirs.delete(dir);
      return cached !== undefined;
    }
    const id = `${info.dev}:${info.ino}`;
    // a symlink loop back to an ancestor ends the walk there, as realpath checks do upstream
    if (ancestors.has(id)) return false;
    let node = cached;
    let changed = false;
    if (!node?.settled || node.mtimeMs !== info.mtimeMs || node.id !== id) {
      const fresh = await _readDir(dir, info.mtimeMs, id);
      changed = !node || node.id !== id || !_sameEntries(node, fresh);
      node = fresh;
      this.#dirs.set(dir, node);
    }
    const below = new Set(ancestors).add(id);
    const subs = await Promise.all(node.dirs.map((name) => this.#scan(`${dir}/${name}`, below, pass)));
    return changed || subs.some(Boolean);
  }

  #flatten(root: string, changed: boolean): Map<string, string> {
    const cached = this.#flat.get(root);
    if (cached && !changed) return cached;
    const files = new Map<string, string>();
    this.#collect(root, "", files, new Set());
    this.#flat.set(root, files);
    return files;
  }

  #collect(dir: string, rel: string, out: Map<string, string>, seen: Set<string>): void {
    const node = this.#dirs.get(dir);
    if (!node || seen.has(node.id)) return;
    const inner = new Set(seen).add(node.id);
    // plain concatenation: `dir` is already normalised, and join() per file dominates a 50k-file walk
    for (const name of node.files) out.set(rel ? `${rel}/${name}` : name, `${dir}/${name}`);
    for (const name of node.dirs) this.#collect(`${dir}/${name}`, rel ? `${rel}/${name}` : name, out, inner);
  }
}

class _Snapshot implements ModelSnapshot {
  #roots: FolderRoots;
  #rootFiles: Map<string, Map<string, string>>;
  #memo = new Map<string, Map<string, string>>();

  constructor(roots: FolderRoots, rootFiles: Map<string, Map<string, string>>) {
    this.#roots = roots;
    this.#rootFiles = rootFiles;
  }

  list(folder: string): string[] {
    const names = new Set<string>();
    for (const part of _parts(folder)) for (const name of this.#listed(part).keys()) names.add(name);
    // code-unit order, the same as Python's sorted() for BMP names
    return [...names].sort();
  }

  find(folder: string, name: string): string | undefined {
    for (const part of _parts(folder)) {
      const path = this.#listed(part).get(name);
      if (path) return path;
    }
    return undefined;
  }

  files(folder: string): ReadonlyMap<string, string> {
    const out = new Map<string, string>();
    for (const part of _parts(folder)) {
      for (const root of this.#entry(part)?.paths ?? []) {
        for (const [rel, path] of this.#rootFiles.get(root) ?? []) if (!out.has(rel)) out.set(rel, path);
      }
    }
    return out;
  }

  searched(folder: string): string[] {
    return [...new Set(_parts(folder).flatMap((part) => this.#entry(part)?.paths ?? []))];
  }

  folders(): string[] {
    return [...this.#roots.keys()];
  }

  #entry(part: string) {
    const gguf = Object.hasOwn(GGUF_FOLDERS, part) ? GGUF_FOLDERS[part] : undefined;
    return this.#roots.get(gguf ? gguf.source : part);
  }

  /** Relative name → path of the first root holding it, filtered as get_filename_list filters. */
  #listed(part: string): Map<string, string> {
    const memo = this.#memo.get(part);
    if (memo) return memo;
    const gguf = Object.hasOwn(GGUF_FOLDERS, part) ? GGUF_FOLDERS[part] : undefined;
    const extensions = gguf ? gguf.extensions : (this.#entry(part)?.extensions ?? []);
    const out = new Map<string, string>();
    for (const [rel, path] of this.files(part)) {
      if (extensions.includes("folder")) {
        // DiffusersLoader offers the directories holding model_index.json
        if (_basename(rel) === "model_index.json") out.set(_dirname(rel), _dirname(path));
      } else if (extensions.length === 0 || extensions.includes(fileExtension(rel))) out.set(rel, path);
    }
    this.#memo.set(part, out);
    return out;
  }
}

/** Python's os.path.splitext suffix, lower-cased: leading dots of the name never start a suffix. */
export function fileExtension(path: string): string {
  const name = _basename(path);
  const dot = name.lastIndexOf(".");
  if (dot <= 0 || /^\.+$/.test(name.slice(0, dot))) return "";
  return name.slice(dot).toLowerCase();
}

function _parts(folder: string): string[] {
  return folder.split(FOLDER_UNION_SEPARATOR).map(canonicalFolder);
}

async function _readDir(dir: string, mtimeMs: number, id: string): Promise<DirNode> {
  let entries: Dirent[] = [];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    // unreadable: lists nothing until its mtime changes
  }
  const files: string[] = [];
  const dirs: string[] = [];
  const links: string[] = [];
  for (const entry of entries) {
    if (entry.isDirectory()) dirs.push(entry.name);
    else if (entry.isSymbolicLink()) links.push(entry.name);
    else files.push(entry.name);
  }
  // only links need a stat to know what they point at; a dangling one is listed as a file, as os.walk does
  const linked = await Promise.all(links.map(async (name) => (await _stat(`${dir}/${name}`))?.isDirectory() === true));
  for (const [i, name] of links.entries()) (linked[i] ? dirs : files).push(name);
  // ComfyUI's recursive_search skips .git
  const git = dirs.indexOf(".git");
  if (git >= 0) dirs.splice(git, 1);
  return { mtimeMs, id, files, dirs, settled: Date.now() - mtimeMs > MTIME_SETTLE_MS };
}

function _sameEntries(a: DirNode, b: DirNode): boolean {
  const key = (node: DirNode) => `${[...node.files].sort().join("\0")}\n${[...node.dirs].sort().join("\0")}`;
  return key(a) === key(b);
}

async function _stat(path: string): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch {
    return undefined;
  }
}

function _basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

function _dirname(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "." : path.slice(0, slash);
}

/** A snapshot of files listed elsewhere (a network volume's S3 listing): each root's relative name → path. */
export function snapshotOfFiles(roots: FolderRoots, rootFiles: Map<string, Map<string, string>>): ModelSnapshot {
  return new _Snapshot(roots, rootFiles);
}
