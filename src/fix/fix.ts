import type { Config } from "../config.ts";
import { createDownloadQueue } from "../download/queue.ts";
import type { EnsureResult } from "../preload/ensure.ts";
import { ensureWeights } from "../preload/ensure.ts";
import type { WeightFetcher } from "../preload/fetcher.ts";
import type { WorkflowReport } from "../weights/check.ts";
import type { FolderRoots } from "../weights/folders.ts";
import type { WeightReport } from "../weights/locate.ts";
import type { ModelSnapshot } from "../weights/model-index.ts";
import { type WeightFileState, weightKey } from "../weights/weight-state.ts";
import type { NodePackFix } from "./nodes.ts";
import { type Resolution, type ResolveContext, resolveWeight } from "./resolve.ts";
import type { Candidate } from "./sources/types.ts";

/** What became of one missing weight. */
export type FixStatus =
  | "downloaded"
  | "would_download"
  | "not_downloaded"
  | "needs_confirmation"
  | "needs_token"
  | "not_found"
  | "failed";

/** One missing weight in the report. */
export interface FixWeight extends Omit<Resolution, "status"> {
  folder: string;
  name: string;
  /** Workflows that need it. */
  workflows: string[];
  resolution: Resolution["status"];
  status: FixStatus;
  path?: string;
  reason?: string;
}

/** The JSON report (`--report FILE`, `--json`). */
export interface FixReport {
  ok: boolean;
  dry_run: boolean;
  workflows: Array<{ file: string; missing: number; unknown_nodes: string[] }>;
  skipped_files: Array<{ file: string; reason: string }>;
  weights: FixWeight[];
  nodes: NodePackFix[];
  summary: {
    missing: number;
    found: number;
    downloaded: number;
    not_found: number;
    failed: number;
    needs_confirmation: number;
  };
}

/** How weights are resolved and fetched. */
export interface FixWeightsOptions {
  resolve: ResolveContext;
  config: Pick<Config, "MODELS_DIR" | "HF_TOKEN">;
  roots: FolderRoots;
  snapshot: ModelSnapshot;
  fetcher: WeightFetcher;
  dryRun: boolean;
  /** --yes: download each file as soon as it is resolved. Otherwise `confirm` is asked once, after all lookups. */
  yes: boolean;
  confirm?: (toDownload: FixWeight[]) => Promise<boolean>;
  onResolved?: (weight: FixWeight) => void;
  onResult?: (result: EnsureResult) => void;
  onState?: (state: WeightFileState) => void;
  signal?: AbortSignal;
}

const LOOKUPS_AT_ONCE = 2;

/** Missing weights of all reports, once each (by folder/name), with the workflows that need them. */
export function missingWeights(
  reports: readonly WorkflowReport[],
): Array<{ weight: WeightReport; workflows: string[] }> {
  const byKey = new Map<string, { weight: WeightReport; workflows: string[] }>();
  for (const report of reports)
    for (const weight of report.weights.filter((w) => w.status === "missing")) {
      const entry = byKey.get(weightKey(weight)) ?? { weight, workflows: [] };
      if (!entry.workflows.includes(report.file)) entry.workflows.push(report.file);
      if (!entry.weight.source && weight.source) entry.weight = weight;
      byKey.set(weightKey(weight), entry);
    }
  return [...byKey.values()];
}

/**
 * Resolves every missing weight (two lookups at a time) and downloads those with one trustworthy source: at once
 * with `yes` (while the next lookups run), else after one confirmation. Ambiguous and close-name matches and
 * gated files without a token are reported, never fetched.
 */
export async function fixWeights(
  missing: ReturnType<typeof missingWeights>,
  options: FixWeightsOptions,
): Promise<FixWeight[]> {
  const lookups = createDownloadQueue(LOOKUPS_AT_ONCE);
  const downloads: Promise<void>[] = [];
  const results: FixWeight[] = [];
  await Promise.all(
    missing.map(({ weight, workflows }) =>
      lookups.add(async () => {
        const resolution = await resolveWeight(weight, options.resolve);
        const fix = _classify(weight, workflows, resolution, options);
        results.push(fix);
        options.onResolved?.(fix);
        if (fix.status === "would_download" && options.yes && !options.dryRun) downloads.push(_download(fix, options));
      }),
    ),
  );
  const ready = results.filter((fix) => fix.status === "would_download");
  if (!options.yes && !options.dryRun && ready.length > 0) {
    if (options.confirm && (await options.confirm(ready)))
      downloads.push(...ready.map((fix) => _download(fix, options)));
    else
      for (const fix of ready)
        Object.assign(fix, {
          status: "not_downloaded",
          reason: options.confirm ? "not confirmed" : "run with --yes to download",
        });
  }
  await Promise.all(downloads);
  return results.sort((a, b) => (weightKey(a) < weightKey(b) ? -1 : 1));
}

function _classify(
  weight: WeightReport,
  workflows: string[],
  resolution: Resolution,
  options: FixWeightsOptions,
): FixWeight {
  const { status: found, ...rest } = resolution;
  const base = { folder: weight.folder, name: weight.name, workflows, resolution: found, ...rest };
  if (found === "not_found")
    return { ...base, status: "not_found", ...(rest.errors.length ? { reason: rest.errors.join("; ") } : {}) };
  if (found !== "resolved")
    return {
      ...base,
      status: "needs_confirmation",
      reason:
        found === "ambiguous"
          ? "several different files have this name: pick one into a manifest (--manifest)"
          : "only similar names were found: check one and put it in a manifest (--manifest)",
    };
  const chosen = rest.chosen as Candidate;
  if (chosen.gated && chosen.source === "huggingface" && !options.config.HF_TOKEN)
    return {
      ...base,
      status: "needs_token",
      reason: `${chosen.ref} is gated on Hugging Face: accept its licence on the model page and set HF_TOKEN`,
    };
  return { ...base, status: "would_download" };
}

async function _download(fix: FixWeight, options: FixWeightsOptions): Promise<void> {
  const chosen = fix.chosen as Candidate;
  // Civitai's sizeKB is approximate: only exact sizes are passed on as an expectation
  const size = chosen.source !== "civitai" ? chosen.size : undefined;
  const [result] = await ensureWeights(
    [
      {
        folder: fix.folder,
        name: fix.name,
        source: { url: chosen.url, ...(chosen.sha256 ? { sha256: chosen.sha256 } : {}) },
        ...(size !== undefined ? { size } : {}),
        lookup: { lookup: fix.folder, match: "exact" },
        from: fix.workflows,
      },
    ],
    {
      snapshot: options.snapshot,
      roots: options.roots,
      modelsDir: options.config.MODELS_DIR,
      fetcher: options.fetcher,
      level: "exists",
      ...(options.onResult ? { onResult: options.onResult } : {}),
      ...(options.onState ? { onState: options.onState } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    },
  );
  if (result?.outcome === "downloaded" || result?.outcome === "present")
    Object.assign(fix, { status: "downloaded", ...(result.path ? { path: result.path } : {}) });
  else Object.assign(fix, { status: "failed", reason: result?.reason ?? "download failed" });
}
