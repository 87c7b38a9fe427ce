/**
 * Where each required weight is (as ComfyUI would resolve it) and what state it is in: the per-weight
 * rows of a check report, failures as data.
 */
import { stat } from "node:fs/promises";
import type { Candidate } from "./candidates.ts";
import type { HashOptions } from "./hash.ts";
import type { WeightSource } from "./metadata.ts";
import type { ModelSnapshot } from "./model-index.ts";
import type { RequiredWeight } from "./required.ts";
import { type Expected, type VerifyLevel, verifyFile, type WeightStatus } from "./verify.ts";

/** One weight's row in a report (`check --json` `weights[]`, `details.missing_weights[]`). */
export interface WeightReport {
  folder: string;
  name: string;
  status: WeightStatus;
  path?: string;
  /** The file's size; for a missing file, the size its workflow declares (if it does). */
  size?: number;
  sha256?: string;
  /** What is wrong with a present file (corrupt, size or hash mismatch). */
  reason?: string;
  source?: WeightSource;
  /** Close matches for a missing file. */
  candidates?: Candidate[];
  /** The directories searched, for a missing file. */
  searched?: string[];
  nodes: string[];
}

export interface LocateOptions {
  level: VerifyLevel;
  hash?: HashOptions;
  /** Close matches for a missing weight; omitted = none offered. */
  candidates?: (folder: string, name: string) => Candidate[];
  /** What a manifest says a weight should be, for weights whose workflow declares no size or hash. */
  expected?: (folder: string, name: string) => Expected | undefined;
}

const EMBEDDING_EXTENSIONS = [".safetensors", ".pt", ".bin"];

/** Resolves and verifies every requirement against one snapshot. */
export async function locateWeights(
  snapshot: ModelSnapshot,
  weights: readonly RequiredWeight[],
  options: LocateOptions,
): Promise<WeightReport[]> {
  return Promise.all(weights.map((weight) => _locate(snapshot, weight, options)));
}

/** The path ComfyUI would load for a requirement, honouring its match kind; undefined when absent. */
export function resolveWeight(snapshot: ModelSnapshot, weight: RequiredWeight): string | undefined {
  if (weight.match === "exact") return snapshot.find(weight.lookup, weight.name);
  if (weight.match === "prefix") {
    const prefix = weight.name.slice(0, -1);
    const name = snapshot.list(weight.lookup).find((file) => file.startsWith(prefix));
    return name === undefined ? undefined : snapshot.find(weight.lookup, name);
  }
  // a name written with commas is tried as written first, as sd1_clip._try_get_embedding does
  if (weight.written)
    return _embedding(snapshot, weight.lookup, weight.written) ?? _embedding(snapshot, weight.lookup, weight.name);
  return _embedding(snapshot, weight.lookup, weight.name);
}

/**
 * sd1_clip.load_embed: `name`, then `name` plus .safetensors/.pt/.bin, in every directory under the
 * embeddings roots (expand_directory_list), top-level matches first.
 */
function _embedding(snapshot: ModelSnapshot, folder: string, name: string): string | undefined {
  const files = snapshot.files(folder);
  const wanted = [name, ...EMBEDDING_EXTENSIONS.map((ext) => name + ext)];
  for (const candidate of wanted) {
    const direct = files.get(candidate);
    if (direct) return direct;
  }
  for (const [rel, path] of files) {
    if (wanted.some((candidate) => rel.endsWith(`/${candidate}`))) return path;
  }
  return undefined;
}

async function _locate(snapshot: ModelSnapshot, weight: RequiredWeight, options: LocateOptions): Promise<WeightReport> {
  const base: WeightReport = {
    folder: weight.folder,
    name: weight.name,
    status: "missing",
    ...(weight.source ? { source: weight.source } : {}),
    nodes: weight.nodes,
  };
  const path = resolveWeight(snapshot, weight);
  if (path === undefined) {
    const candidates = options.candidates?.(weight.folder, weight.name) ?? [];
    // a missing file's size is the one its workflow declares, which its download is then held to
    const declared = weight.size !== undefined ? { size: weight.size } : {};
    return {
      ...base,
      ...declared,
      searched: snapshot.searched(weight.lookup),
      ...(candidates.length ? { candidates } : {}),
    };
  }
  if (options.level === "exists") {
    // listed means present; the size is only for the report (a remote listing has no local file)
    const size = await stat(path).then(
      (s) => (s.isFile() ? s.size : undefined),
      () => undefined,
    );
    return { ...base, status: "present", path, ...(size !== undefined ? { size } : {}) };
  }
  const known = options.expected?.(weight.folder, weight.name);
  const expected = { size: weight.size ?? known?.size, sha256: weight.source?.sha256 ?? known?.sha256 };
  const result = await verifyFile(path, options.level, expected, options.hash);
  if (result.status === "missing") return { ...base, searched: snapshot.searched(weight.lookup) };
  const { status, ...rest } = result;
  return { ...base, status, ...rest };
}
