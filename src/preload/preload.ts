import { formatBytes } from "../lib/bytes.ts";
import type { Logger } from "../log.ts";
import type { LocalModels } from "../weights/serve-weights.ts";
import type { WeightFileState } from "../weights/weight-state.ts";
import { ensureError, ensureWeights } from "./ensure.ts";
import type { WeightFetcher } from "./fetcher.ts";
import { buildPullPlan, summarise } from "./pull.ts";

export interface PreloadOptions {
  /** PRELOAD_KIT: kit names or manifest paths. */
  kits: readonly string[];
  /** PRELOAD_WORKFLOW: workflow paths or URLs. */
  workflows: readonly string[];
  local: () => Promise<LocalModels>;
  modelsDir?: string | undefined;
  fetcher: WeightFetcher;
  onState?: (state: WeightFileState) => void;
  log: Logger;
  signal?: AbortSignal;
}

/**
 * Makes every weight of PRELOAD_KIT and PRELOAD_WORKFLOW present (SPEC §3), as `pull` would. Throws
 * E_DOWNLOAD when a download failed for good, E_WEIGHTS_MISSING/INVALID when a weight has no source or is
 * bad; resolves at once when nothing is to be preloaded.
 */
export async function runPreloads(options: PreloadOptions): Promise<void> {
  if (options.kits.length + options.workflows.length === 0) return;
  const started = performance.now();
  const plan = await buildPullPlan({ kits: options.kits, workflows: options.workflows, manifests: [] });
  const { roots, index } = await options.local();
  options.log.info(`preloading ${plan.size} weight(s) from ${[...options.kits, ...options.workflows].join(", ")}`);
  const results = await ensureWeights([...plan.values()], {
    snapshot: await index.snapshot(),
    roots,
    modelsDir: options.modelsDir,
    fetcher: options.fetcher,
    ...(options.onState ? { onState: options.onState } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const summary = summarise(results, (performance.now() - started) / 1000);
  const error = ensureError(results, "preload failed");
  if (error) throw error;
  options.log.info(
    `preload done: ${summary.present} present, ${summary.downloaded} downloaded (${formatBytes(summary.bytes)}) in ${summary.seconds} s`,
  );
}
