import { join, resolve } from "node:path";
import { coreObjectInfo } from "../comfy/object-info.ts";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import { createWeightFetcher } from "../preload/fetcher.ts";
import { cliModelRoots, downloadSettings } from "../preload/pull.ts";
import { defaultStateDir } from "../sync/state.ts";
import { createModelIndex } from "../weights/model-index.ts";
import { type FixReport, type FixWeight, type FixWeightsOptions, fixWeights, missingWeights } from "./fix.ts";
import { LookupHttp } from "./http.ts";
import { resolveNodePacks } from "./nodes.ts";
import { scanWorkflows } from "./scan.ts";
import { indexManifests } from "./sources/local.ts";
import { loadModelList, type ModelEntry } from "./sources/manager.ts";

/** A `fix` run: what to scan with, plus how the weights are fetched (see FixWeightsOptions). */
export interface RunFixOptions
  extends Pick<FixWeightsOptions, "dryRun" | "yes" | "confirm" | "onResolved" | "onResult" | "onState" | "signal"> {
  config: Config;
  log: Logger;
  manifests: string[];
  retryInitialMs?: number;
}

/** Scans, resolves, downloads and reports (see FixReport); lists are cached under the user's cache folder. */
export async function runFix(paths: readonly string[], options: RunFixOptions): Promise<FixReport> {
  const { config } = options;
  const roots = await cliModelRoots(config);
  const index = createModelIndex(roots);
  const snapshot = await index.snapshot();
  const base = resolve(config.COMFY_DIR);
  const dirs = { input: join(base, "input"), output: join(base, "output"), temp: join(base, "temp") };
  const scan = await scanWorkflows(paths, snapshot, coreObjectInfo(), dirs);
  const http = new LookupHttp({
    timeoutMs: config.LOOKUP_TIMEOUT_S * 1000,
    minIntervalMs: config.LOOKUP_INTERVAL_MS,
    ...(options.retryInitialMs !== undefined ? { retryInitialMs: options.retryInitialMs } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const cacheDir = join(defaultStateDir(config.env), "..", "lists");
  let list: Promise<ModelEntry[] | { error: string }> | undefined;
  const fetcher = createWeightFetcher({
    concurrency: config.DOWNLOAD_CONCURRENCY,
    download: downloadSettings(config),
    log: options.log,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const missing = missingWeights(scan.reports);
  const weights = await fixWeights(missing, {
    resolve: {
      kits: await indexManifests("kit"),
      manifests: await indexManifests("manifest", options.manifests),
      modelList: () => {
        list ??= loadModelList(http, config.MODEL_LIST_URL, join(cacheDir, "model-list.json"));
        return list;
      },
      http,
      hfEndpoint: config.HF_ENDPOINT,
      hfToken: config.HF_TOKEN,
      civitaiUrl: config.CIVITAI_BASE_URL,
      civitaiToken: config.CIVITAI_TOKEN,
    },
    config,
    roots,
    snapshot,
    fetcher,
    dryRun: options.dryRun,
    yes: options.yes,
    ...(options.confirm ? { confirm: options.confirm } : {}),
    ...(options.onResolved ? { onResolved: options.onResolved } : {}),
    ...(options.onResult ? { onResult: options.onResult } : {}),
    ...(options.onState ? { onState: options.onState } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const unknown = [...new Map(scan.reports.flatMap((r) => r.unknown_nodes).map((n) => [n.class_type, n])).values()];
  const nodes =
    unknown.length === 0
      ? []
      : await resolveNodePacks(unknown, {
          http,
          nodeMapUrl: config.NODE_MAP_URL,
          nodeMapCache: join(cacheDir, "extension-node-map.json"),
          registryUrl: config.COMFY_REGISTRY_URL,
          githubApiUrl: config.GITHUB_API_URL,
        });
  return _report(scan, weights, nodes, options.dryRun);
}

function _report(
  scan: Awaited<ReturnType<typeof scanWorkflows>>,
  weights: FixWeight[],
  nodes: FixReport["nodes"],
  dryRun: boolean,
): FixReport {
  const count = (...statuses: FixWeight["status"][]) => weights.filter((w) => statuses.includes(w.status)).length;
  const summary = {
    missing: weights.length,
    found: weights.filter((w) => w.resolution === "resolved").length,
    downloaded: count("downloaded"),
    not_found: count("not_found"),
    failed: count("failed"),
    needs_confirmation: count("needs_confirmation"),
  };
  return {
    ok: weights.every((w) => w.status === "downloaded") && nodes.length === 0,
    dry_run: dryRun,
    workflows: scan.reports.map((r) => ({
      file: r.file,
      missing: r.weights.filter((w) => w.status === "missing").length,
      unknown_nodes: r.unknown_nodes.map((n) => n.class_type),
    })),
    skipped_files: scan.skipped,
    weights,
    nodes,
    summary,
  };
}
