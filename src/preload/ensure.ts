/**
 * The engine behind `pull`, `check --download`, preloads and WEIGHTS_MODE=download: for each planned
 * weight, present (at the verify level) → nothing to do; else download it to its destination with the
 * known sha256 and size, then verify it. Outcomes are data; only an interruption throws.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DownloadProgress } from "../download/progress.ts";
import { isWorkerError, WorkerError } from "../errors.ts";
import { downloadPath } from "../weights/destination.ts";
import type { FolderRoots } from "../weights/folders.ts";
import type { HashOptions } from "../weights/hash.ts";
import { resolveWeight } from "../weights/locate.ts";
import type { ModelSnapshot } from "../weights/model-index.ts";
import { type VerifyLevel, type VerifyResult, verifyFile } from "../weights/verify.ts";
import type { WeightFileState } from "../weights/weight-state.ts";
import type { WeightFetcher } from "./fetcher.ts";
import type { PlanItem } from "./plan.ts";

/** What happened to one weight. `to_download` only in a dry run. */
export type WeightOutcome = "present" | "downloaded" | "to_download" | "failed" | "no_source" | "invalid";

/** One weight's result, as `pull --json` prints it. */
export interface EnsureResult {
  folder: string;
  name: string;
  outcome: WeightOutcome;
  /** Where the file is (present, downloaded) or would go (to_download, failed). */
  path?: string;
  size?: number;
  url?: string;
  /** Bytes this run fetched for it. */
  bytes?: number;
  /** Why it failed or is invalid, in operator terms. */
  reason?: string;
  /** The failure's error code (E_DOWNLOAD, E_INPUT, …). */
  code?: string;
  /** Its manifest marks the host as needing a token and an accepted licence (to_download only). */
  gated?: boolean;
}

export interface EnsureOptions {
  snapshot: ModelSnapshot;
  roots: FolderRoots;
  /** MODELS_DIR: where downloads go when a folder has no `is_default` root. */
  modelsDir?: string | undefined;
  fetcher: WeightFetcher;
  /** Undefined = `size` when the size is known, else `exists`. */
  level?: VerifyLevel | undefined;
  dryRun?: boolean;
  onState?: (state: WeightFileState) => void;
  /** Each weight's result as soon as it is known. */
  onResult?: (result: EnsureResult) => void;
  signal?: AbortSignal;
  hash?: HashOptions;
}

/** Makes every item present (all at once; the fetcher bounds the transfers); results in item order. */
export function ensureWeights(items: readonly PlanItem[], options: EnsureOptions): Promise<EnsureResult[]> {
  return Promise.all(
    items.map(async (item) => {
      const result = await _ensure(item, options);
      options.onResult?.(result);
      return result;
    }),
  );
}

async function _ensure(item: PlanItem, options: EnsureOptions): Promise<EnsureResult> {
  const { folder, name } = item;
  const emit = (state: Omit<WeightFileState, "folder" | "name">) => options.onState?.({ folder, name, ...state });
  const level = options.level ?? (item.size !== undefined ? "size" : "exists");
  const found = resolveWeight(options.snapshot, { folder, name, ...item.lookup, nodes: [] });
  const verified = found ? await _verify(found, level, item, options.hash) : undefined;
  if (found && verified?.status === "present") {
    emit({ state: "ready", path: found });
    return { folder, name, outcome: "present", path: found, size: verified.size };
  }
  if (!item.source) {
    if (verified) return _invalid(item, verified, emit);
    emit({ state: "missing" });
    return { folder, name, outcome: "no_source" };
  }
  let dest: string;
  try {
    dest = downloadPath(options.roots, folder, name, options.modelsDir);
  } catch (error) {
    return _failed(item, error, emit);
  }
  // a bad file we did not put there is the operator's to replace; one at our destination is fetched again
  if (verified && found !== dest) return _invalid(item, verified, emit);
  if (options.dryRun) {
    emit({ state: "missing" });
    const size = item.size ? { size: item.size } : {};
    return {
      folder,
      name,
      outcome: "to_download",
      path: dest,
      url: item.source.url,
      ...size,
      ...(item.gated ? { gated: true } : {}),
    };
  }
  return _download(item, dest, level, options, emit);
}

async function _download(
  item: PlanItem,
  dest: string,
  level: VerifyLevel,
  options: EnsureOptions,
  emit: (state: Omit<WeightFileState, "folder" | "name">) => void,
): Promise<EnsureResult> {
  const source = item.source as NonNullable<PlanItem["source"]>;
  const base = { folder: item.folder, name: item.name, path: dest, url: source.url };
  let fetched = 0;
  let skipped = false;
  try {
    emit({ state: "downloading", bytes: 0, ...(item.size ? { total: item.size } : {}) });
    const request = { url: source.url, dest, sha256: source.sha256, size: item.size };
    const result = await options.fetcher.fetch(request, (p) => emit(progressState(p)), options.signal);
    fetched = result.fetched;
    skipped = result.skipped === "exists";
  } catch (error) {
    if (options.signal?.aborted || (isWorkerError(error) && error.code === "E_INTERRUPTED")) throw error;
    return _failed(item, error, emit, base);
  }
  const verified = await _verify(dest, level, item, options.hash);
  if (verified.status !== "present") return _invalid(item, verified, emit);
  emit({ state: "ready", path: dest });
  return { ...base, outcome: skipped ? "present" : "downloaded", size: verified.size, bytes: fetched };
}

/** A download progress report as a weight state (`eta` in whole seconds). */
export function progressState(progress: DownloadProgress): Omit<WeightFileState, "folder" | "name"> {
  return {
    state: progress.phase,
    bytes: progress.bytes,
    ...(progress.total !== undefined ? { total: progress.total } : {}),
    rate: Math.round(progress.rate),
    ...(progress.etaS !== undefined ? { eta: Math.ceil(progress.etaS) } : {}),
  };
}

function _verify(path: string, level: VerifyLevel, item: PlanItem, hash?: HashOptions): Promise<VerifyResult> {
  const expected = { ...(item.size !== undefined ? { size: item.size } : {}), sha256: item.source?.sha256 };
  return verifyFile(path, level, expected, hash ?? { cacheDir: join(tmpdir(), "comfy-worker-sha256") });
}

function _invalid(
  item: PlanItem,
  verified: VerifyResult,
  emit: (state: Omit<WeightFileState, "folder" | "name">) => void,
): EnsureResult {
  const path = "path" in verified ? verified.path : undefined;
  const reason =
    "reason" in verified
      ? `${verified.reason}; delete ${path} and run again`
      : `${item.folder}/${item.name} is missing after the download`;
  emit({ state: "failed", reason });
  return { folder: item.folder, name: item.name, outcome: "invalid", ...(path ? { path } : {}), reason };
}

function _failed(
  item: PlanItem,
  error: unknown,
  emit: (state: Omit<WeightFileState, "folder" | "name">) => void,
  base: Partial<EnsureResult> = {},
): EnsureResult {
  const reason = error instanceof Error ? error.message : String(error);
  const code = isWorkerError(error) ? error.code : "E_INTERNAL";
  emit({ state: "failed", reason });
  return { ...base, folder: item.folder, name: item.name, outcome: "failed", reason, code };
}

/** The error that stands for a set of results: E_DOWNLOAD when a download failed, E_WEIGHTS_* when missing or invalid. */
export function ensureError(results: readonly EnsureResult[], what: string): WorkerError | undefined {
  const failed = results.filter((r) => r.outcome === "failed");
  const missing = results.filter((r) => r.outcome === "no_source");
  const invalid = results.filter((r) => r.outcome === "invalid");
  const first = failed[0] ?? invalid[0] ?? missing[0];
  if (!first) return undefined;
  const code = failed.length > 0 ? "E_DOWNLOAD" : missing.length > 0 ? "E_WEIGHTS_MISSING" : "E_WEIGHTS_INVALID";
  const count = failed.length + invalid.length + missing.length;
  const why = first.reason ?? "missing, and no kit, manifest or workflow metadata says where to download it";
  return new WorkerError(code, `${what}: ${count} weight(s) not ready; ${first.folder}/${first.name}: ${why}`, {
    details: { weights: results.filter((r) => r.outcome !== "present" && r.outcome !== "downloaded") },
  });
}
