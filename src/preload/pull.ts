/**
 * `comfy-worker pull` (SPEC §4): make the weights of kits, manifests and workflows present and verified.
 * Idempotent (present files are skipped), safe under cron and in parallel (the downloader's per-file
 * locks: a second process waits, then finds the file present), resumable (`.part` files survive a kill).
 */
import type { Config } from "../config.ts";
import { WorkerError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { FolderRoots } from "../weights/folders.ts";
import { createModelIndex } from "../weights/model-index.ts";
import { configuredModelRoots } from "../weights/roots.ts";
import type { VerifyLevel } from "../weights/verify.ts";
import type { WeightFileState } from "../weights/weight-state.ts";
import { loadWorkflowSource } from "../workflow/source.ts";
import { type EnsureResult, ensureWeights, type WeightOutcome } from "./ensure.ts";
import { createWeightFetcher, type FetcherDownloadOptions } from "./fetcher.ts";
import { addManifest, addWorkflow, loadKitOrManifest, type Plan } from "./plan.ts";

/** What to pull: kit names (or manifest paths), workflow paths or URLs, manifest files. */
export interface PullRequest {
  kits: readonly string[];
  workflows: readonly string[];
  manifests: readonly string[];
}

export interface PullOptions {
  config: Config;
  log: Logger;
  level?: VerifyLevel | undefined;
  dryRun?: boolean | undefined;
  onState?: (state: WeightFileState) => void;
  onResult?: (result: EnsureResult) => void;
  signal?: AbortSignal;
  /** Downloader knobs beyond the config (tests shrink retries). */
  download?: Partial<FetcherDownloadOptions>;
}

/** Counts by outcome, bytes fetched, wall time and every file's result (`pull --json`). */
export type PullSummary = Record<WeightOutcome, number> & {
  ok: boolean;
  bytes: number;
  seconds: number;
  files: EnsureResult[];
};

/** Builds the plan, checks what is present and downloads the rest; throws only for bad input or Ctrl-C. */
export async function pullWeights(request: PullRequest, options: PullOptions): Promise<PullSummary> {
  const started = performance.now();
  const plan = await buildPullPlan(request);
  const { config } = options;
  const roots = await cliModelRoots(config);
  const fetcher = createWeightFetcher({
    concurrency: config.DOWNLOAD_CONCURRENCY,
    download: { ...downloadSettings(config), ...options.download },
    log: options.log,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const files = await ensureWeights([...plan.values()], {
    snapshot: await createModelIndex(roots).snapshot(),
    roots,
    modelsDir: config.MODELS_DIR,
    fetcher,
    level: options.level,
    dryRun: options.dryRun ?? false,
    ...(options.onState ? { onState: options.onState } : {}),
    ...(options.onResult ? { onResult: options.onResult } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return summarise(files, (performance.now() - started) / 1000);
}

/** The union of every requested kit, manifest and workflow; throws E_USAGE when nothing was asked for. */
export async function buildPullPlan(request: PullRequest): Promise<Plan> {
  if (request.kits.length + request.workflows.length + request.manifests.length === 0) {
    throw new WorkerError("E_USAGE", "nothing to pull: give --kit NAME, --workflow PATH|URL or --manifest FILE");
  }
  const plan: Plan = new Map();
  for (const kit of request.kits) addManifest(plan, await loadKitOrManifest(kit), `kit ${kit}`);
  for (const file of request.manifests) addManifest(plan, await loadKitOrManifest(file), `manifest ${file}`);
  for (const source of request.workflows) addWorkflow(plan, await loadWorkflowSource(source));
  return plan;
}

/** Model roots as ComfyUI on this machine computes them, plus MODELS_DIR (as `check --models-dir` does). */
export function cliModelRoots(config: Config): Promise<FolderRoots> {
  return configuredModelRoots(config);
}

/**
 * Tokens and connections from the configuration (SPEC §3). A Hugging Face mirror (HF_ENDPOINT) or a Civitai stand-in
 * (CIVITAI_BASE_URL) gets the host's token and conventions, as the public host does.
 */
export function downloadSettings(config: Config): FetcherDownloadOptions {
  return {
    connections: config.DOWNLOAD_CONNECTIONS,
    hfToken: config.HF_TOKEN,
    civitaiToken: config.CIVITAI_TOKEN,
    endpoints: { huggingface: config.HF_ENDPOINT, civitai: config.CIVITAI_BASE_URL },
  };
}

/** Counts results; `ok` when nothing failed, is invalid or lacks a source. */
export function summarise(files: EnsureResult[], seconds: number): PullSummary {
  const counts: Record<WeightOutcome, number> = {
    present: 0,
    downloaded: 0,
    to_download: 0,
    failed: 0,
    no_source: 0,
    invalid: 0,
  };
  for (const file of files) counts[file.outcome]++;
  const bytes = files.reduce((sum, file) => sum + (file.bytes ?? 0), 0);
  const ok = counts.failed + counts.no_source + counts.invalid === 0;
  return { ok, ...counts, bytes, seconds: Math.round(seconds * 10) / 10, files };
}
