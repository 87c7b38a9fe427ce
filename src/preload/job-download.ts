/**
 * WEIGHTS_MODE=download: before a job is queued, fetch its missing weights from a known source — a kit
 * with the same folder/name (trusted), else the job's own `models` / `_meta.required_weights` metadata
 * (job input: only from DOWNLOAD_ALLOW_HOSTS, never private addresses). Jobs needing the same file share
 * one transfer (the fetcher), and each sees its progress as `node: "download:<folder>/<name>"`.
 */
import { WorkerError } from "../errors.ts";
import type { ManifestFile } from "../kits/manifest.ts";
import { isAllowedHost, isPrivateAddress, type LookupFn, lookupAll } from "../lib/net.ts";
import { canonicalFolder } from "../weights/folders.ts";
import { type JobWeightsDownload, missingWeightsError } from "../weights/job-check.ts";
import type { WeightReport } from "../weights/locate.ts";
import type { LocalModels } from "../weights/serve-weights.ts";
import { type WeightFileState, weightKey } from "../weights/weight-state.ts";
import { ensureError, ensureWeights } from "./ensure.ts";
import type { WeightFetcher } from "./fetcher.ts";
import { loadKitOrManifest, type PlanItem } from "./plan.ts";

/** The job progress node a weight download reports under. */
export const DOWNLOAD_PROGRESS_PREFIX = "download:";

export interface JobDownloadOptions {
  local: () => Promise<LocalModels>;
  fetcher: WeightFetcher;
  modelsDir?: string | undefined;
  /** DOWNLOAD_ALLOW_HOSTS. */
  allowHosts: readonly string[];
  /** Kits whose files are trusted sources besides the built-in ones (PRELOAD_KIT names or manifest paths). */
  kits?: readonly string[] | undefined;
  /** Tests only: job weight URLs may be plain http to private (loopback) addresses; allowed hosts still apply. */
  allowPrivate?: boolean | undefined;
  lookup?: LookupFn | undefined;
  onState?: (state: WeightFileState) => void;
}

/** The download step of the serve weights check (see the module comment). */
export function createJobDownload(options: JobDownloadOptions): JobWeightsDownload {
  let kits: Promise<Map<string, ManifestFile>> | undefined;
  return async (missing, job) => {
    kits ??= loadKitSources(options.kits ?? []);
    kits.catch(() => (kits = undefined));
    const known = await kits;
    const items: PlanItem[] = [];
    const unfixable: WeightReport[] = [];
    for (const report of missing) {
      const item = report.status === "missing" ? await _item(report, known, options) : undefined;
      if (item) items.push(item);
      else unfixable.push(report);
    }
    // the job cannot run without these: fail before fetching anything else
    if (unfixable.length > 0) throw missingWeightsError(unfixable);
    const { roots, index } = await options.local();
    const results = await ensureWeights(items, {
      snapshot: await index.snapshot(),
      roots,
      modelsDir: options.modelsDir,
      fetcher: options.fetcher,
      signal: job.signal,
      onState: (state) => {
        options.onState?.(state);
        if (state.state === "downloading" || state.state === "verifying") job.onProgress?.(_jobProgress(state));
      },
    });
    const error = ensureError(results, "the job's weights could not be downloaded");
    if (error) throw error;
  };
}

/** Every file of the built-in kits and of `extra`, by `folder/name` (canonical folder). */
export async function loadKitSources(extra: readonly string[]): Promise<Map<string, ManifestFile>> {
  const { listKits } = await import("../kits/manifest.ts");
  const manifests = [...listKits(), ...(await Promise.all(extra.map(loadKitOrManifest)))];
  const files = new Map<string, ManifestFile>();
  for (const manifest of manifests) {
    for (const file of manifest.files)
      files.set(weightKey({ folder: canonicalFolder(file.folder), name: file.name }), file);
  }
  return files;
}

async function _item(
  report: WeightReport,
  kits: Map<string, ManifestFile>,
  options: JobDownloadOptions,
): Promise<PlanItem | undefined> {
  const base = { folder: report.folder, name: report.name, lookup: { lookup: report.folder, match: "exact" as const } };
  const kit = kits.get(weightKey(report));
  if (kit) {
    const source = { url: kit.url, ...(kit.sha256 ? { sha256: kit.sha256 } : {}) };
    return { ...base, source, ...(kit.size !== undefined ? { size: kit.size } : {}), from: ["kit"] };
  }
  if (!report.source) return undefined;
  await checkJobWeightUrl(report.source.url, weightKey(report), options);
  // a missing file's report carries the size its workflow declares
  return { ...base, source: report.source, ...(report.size !== undefined ? { size: report.size } : {}), from: ["job"] };
}

/**
 * Refuses a job-provided weight URL that is not https, not on an allowed host, or resolves to a private
 * address (E_INPUT). Redirects are the allowed host's choice and are followed unchecked: Hugging Face
 * serves files from CDN hosts outside huggingface.co.
 */
export async function checkJobWeightUrl(
  raw: string,
  what: string,
  options: Pick<JobDownloadOptions, "allowHosts" | "allowPrivate" | "lookup">,
): Promise<void> {
  const refuse = (why: string) => new WorkerError("E_INPUT", `the job's source for ${what} (${raw}) ${why}`);
  if (!URL.canParse(raw)) throw refuse("is not a URL");
  const url = new URL(raw);
  const schemeOk = url.protocol === "https:" || (options.allowPrivate === true && url.protocol === "http:");
  if (!schemeOk) throw refuse("is refused: only https URLs are fetched for a job");
  if (url.username || url.password) throw refuse("carries credentials; refused");
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (!isAllowedHost(host, options.allowHosts)) {
    throw refuse(
      `is not on DOWNLOAD_ALLOW_HOSTS (${options.allowHosts.join(", ") || "empty"}); add the host, or put the file in place or in a kit`,
    );
  }
  if (options.allowPrivate) return;
  const addresses = await (options.lookup ?? lookupAll)(host).catch(() => [] as string[]);
  if (addresses.length === 0) throw refuse(`names a host that does not resolve`);
  const blocked = addresses.find(isPrivateAddress);
  if (blocked) throw refuse(`resolves to the private address ${blocked}; refused`);
}

function _jobProgress(state: WeightFileState) {
  const value = state.bytes ?? 0;
  const max = state.total ?? 0;
  const percent = max > 0 ? Math.min(100, Math.round((value / max) * 100)) : 0;
  return { node: `${DOWNLOAD_PROGRESS_PREFIX}${weightKey(state)}`, value, max, percent };
}
