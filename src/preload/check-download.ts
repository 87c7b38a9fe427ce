import type { Config } from "../config.ts";
import type { ManifestFile } from "../kits/manifest.ts";
import type { Logger } from "../log.ts";
import type { CheckReport } from "../weights/check.ts";
import type { FolderRoots } from "../weights/folders.ts";
import type { WeightReport } from "../weights/locate.ts";
import type { ModelIndex } from "../weights/model-index.ts";
import { type WeightFileState, weightKey } from "../weights/weight-state.ts";
import { type EnsureResult, ensureWeights } from "./ensure.ts";
import { createWeightFetcher, type FetcherDownloadOptions } from "./fetcher.ts";
import { loadKitSources } from "./job-download.ts";
import { addRequired, type Plan, type PlanItem } from "./plan.ts";
import { downloadSettings } from "./pull.ts";

export interface CheckDownloadOptions {
  config: Config;
  log: Logger;
  roots: FolderRoots;
  index: ModelIndex;
  onState?: (state: WeightFileState) => void;
  onResult?: (result: EnsureResult) => void;
  signal?: AbortSignal;
  download?: Partial<FetcherDownloadOptions>;
}

/**
 * `check --download`: fetches every weight the report shows missing that has a known source (the
 * workflow's metadata, else a built-in kit with the same folder/name), with the engine `pull` uses (same
 * destinations, locks and verification). The caller checks again afterwards.
 */
export async function downloadMissing(report: CheckReport, options: CheckDownloadOptions): Promise<EnsureResult[]> {
  const plan: Plan = new Map();
  const missing = report.workflows.flatMap((workflow) =>
    workflow.weights.filter((weight) => weight.status === "missing").map((weight) => ({ workflow, weight })),
  );
  // kits are parsed only when some missing weight's own metadata names no source
  const kits = missing.some(({ weight }) => !weight.source) ? await loadKitSources([]) : undefined;
  for (const { workflow, weight } of missing) {
    const known = _known(weight, kits);
    if (known) addRequired(plan, { ...weight, ...known, lookup: weight.folder, match: "exact" }, workflow.file);
  }
  if (plan.size === 0) return [];
  const { config } = options;
  const fetcher = createWeightFetcher({
    concurrency: config.DOWNLOAD_CONCURRENCY,
    download: { ...downloadSettings(config), ...options.download },
    log: options.log,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return ensureWeights([...plan.values()], {
    snapshot: await options.index.snapshot(),
    roots: options.roots,
    modelsDir: config.MODELS_DIR,
    fetcher,
    level: "exists",
    ...(options.onState ? { onState: options.onState } : {}),
    ...(options.onResult ? { onResult: options.onResult } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

function _known(
  weight: WeightReport,
  kits: Map<string, ManifestFile> | undefined,
): Pick<PlanItem, "source" | "size"> | undefined {
  if (weight.source) return { source: weight.source };
  const kit = kits?.get(weightKey(weight));
  if (!kit) return undefined;
  const source = { url: kit.url, ...(kit.sha256 ? { sha256: kit.sha256 } : {}) };
  return { source, ...(kit.size !== undefined ? { size: kit.size } : {}) };
}
