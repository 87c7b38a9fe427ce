/**
 * "Did you mean": close matches for a missing weight among the files we can see — the same name in
 * another folder, another case, another subfolder (or a Windows path), or a near-identical name.
 */
import type { ModelSnapshot } from "./model-index.ts";

/** Why a file was offered; ordered from most to least likely the intended file. */
export type CandidateReason = "other_case" | "other_subfolder" | "other_folder" | "similar_name";

/** A file that may be the one the workflow meant, as `<folder>/<name>` plus its path. */
export interface Candidate {
  folder: string;
  name: string;
  path: string;
  reason: CandidateReason;
}

const RANK: Record<CandidateReason, number> = { other_case: 0, other_subfolder: 1, other_folder: 2, similar_name: 3 };
/** At most this many candidates per missing weight. */
export const MAX_CANDIDATES = 5;
// custom_nodes holds source trees, not weights; scanning it only adds noise
const SKIPPED_FOLDERS = new Set(["custom_nodes", "datasets", "fonts"]);

type Tables = { byLoose?: Map<string, Candidate[]>; folders: Map<string, Array<[string, string, string]>> };
// per snapshot; an unchanged index hands out the same snapshot, so these tables live as long as the tree does
const TABLES = new WeakMap<ModelSnapshot, Tables>();

/** Finds candidates in one snapshot; its lookup tables are built once per snapshot and reused. */
export function createCandidateFinder(snapshot: ModelSnapshot): (folder: string, name: string) => Candidate[] {
  const tables: Tables = TABLES.get(snapshot) ?? { folders: new Map() };
  TABLES.set(snapshot, tables);
  return (folder, name) => {
    tables.byLoose ??= _indexByLooseName(snapshot);
    const found = [
      ..._sameFolder(_folderTable(snapshot, tables, folder), folder, name),
      ..._otherFolders(tables.byLoose, folder, name),
    ];
    const seen = new Set<string>();
    return found
      .sort((a, b) => RANK[a.reason] - RANK[b.reason] || a.name.localeCompare(b.name))
      .filter((c) => !seen.has(c.path) && Boolean(seen.add(c.path)))
      .slice(0, MAX_CANDIDATES);
  };
}

/** A loose form of a file name: no folder, no extension, lower case, letters and digits only. */
export function looseName(name: string): string {
  const base = _basename(name.replaceAll("\\", "/")).toLowerCase();
  const dot = base.lastIndexOf(".");
  return (dot > 0 ? base.slice(0, dot) : base).replace(/[^a-z0-9]/g, "");
}

/** Levenshtein distance, giving up (returning `max + 1`) once it must exceed `max`. */
export function editDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const value = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
      row.push(value);
      best = Math.min(best, value);
    }
    if (best > max) return max + 1;
    prev = row;
  }
  return prev[b.length] ?? max + 1;
}

function _folderTable(snapshot: ModelSnapshot, tables: Tables, folder: string): Array<[string, string, string]> {
  let table = tables.folders.get(folder);
  if (!table) {
    table = [...snapshot.files(folder)].map(([rel, path]): [string, string, string] => [rel, path, looseName(rel)]);
    tables.folders.set(folder, table);
  }
  return table;
}

function _sameFolder(table: Array<[string, string, string]>, folder: string, original: string): Candidate[] {
  const wanted = original.replaceAll("\\", "/");
  const loose = looseName(wanted);
  // near-identical: at most 2 edits, and at most one per 4 characters (fp8 ↔ fp16, v1.1 ↔ v1.2)
  const budget = Math.min(2, Math.floor(loose.length / 4));
  const out: Candidate[] = [];
  for (const [rel, path, relLoose] of table) {
    const reason = _reason(rel, wanted, original);
    if (reason) out.push({ folder, name: rel, path, reason });
    else if (rel !== wanted && editDistance(relLoose, loose, budget) <= budget) {
      out.push({ folder, name: rel, path, reason: "similar_name" });
    }
  }
  return out;
}

function _reason(rel: string, wanted: string, original: string): CandidateReason | undefined {
  // the same path only differs when the workflow wrote a Windows path ("sub\\x.safetensors")
  if (rel === wanted) return wanted !== original ? "other_subfolder" : undefined;
  const [relLower, lower] = [rel.toLowerCase(), wanted.toLowerCase()];
  if (relLower === lower) return "other_case";
  return _basename(relLower) === _basename(lower) ? "other_subfolder" : undefined;
}

function _otherFolders(byBase: Map<string, Candidate[]>, folder: string, wanted: string): Candidate[] {
  const hits = byBase.get(looseName(wanted)) ?? [];
  return hits.filter((hit) => hit.folder !== folder);
}

function _indexByLooseName(snapshot: ModelSnapshot): Map<string, Candidate[]> {
  const out = new Map<string, Candidate[]>();
  for (const folder of snapshot.folders()) {
    if (SKIPPED_FOLDERS.has(folder)) continue;
    for (const [rel, path] of snapshot.files(folder)) {
      const key = looseName(rel);
      const list = out.get(key) ?? [];
      list.push({ folder, name: rel, path, reason: "other_folder" });
      out.set(key, list);
    }
  }
  return out;
}

function _basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}
