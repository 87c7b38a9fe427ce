/**
 * The `serve` weights check (WEIGHTS_MODE): before anything is queued, a job whose weights are not in
 * ComfyUI's model folders fails with E_WEIGHTS_MISSING, `details.missing_weights` and a one-line fix; with
 * `download`, an injected downloader first fetches what has a known source. `/health` `weights` shows
 * each weight's state (weight-state.ts).
 */
import { isAbsolute } from "node:path";
import type { ObjectInfo } from "../comfy/object-info.ts";
import type { Config } from "../config.ts";
import { WorkerError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { ApiWorkflow } from "../workflow/api.ts";
import type { UiWorkflow } from "../workflow/ui.ts";
import { createCandidateFinder } from "./candidates.ts";
import { comboFolderFor } from "./check.ts";
import { locateWeights, type WeightReport } from "./locate.ts";
import type { ModelSnapshot } from "./model-index.ts";
import { type RequiredWeight, requiredFiles } from "./required.ts";
import { settleWeights, setWeightState, type WeightsState, weightKey } from "./weight-state.ts";

/** Progress of a job's weight download, reported as the job's progress (`node: "download:<folder>/<name>"`). */
export interface DownloadJobProgress {
  node: string;
  value: number;
  max: number;
  percent: number;
}

/** What the hook knows about the job beyond its API graph. */
export interface JobWeightsContext {
  /** The UI workflow the job sent, for its `models` metadata (download sources). */
  ui?: UiWorkflow;
  onProgress?: (progress: DownloadJobProgress) => void;
}

/** Fetches the missing weights it has a known source for; throws E_WEIGHTS_MISSING at once when one has none. */
export type JobWeightsDownload = (
  missing: WeightReport[],
  job: JobWeightsContext & { signal: AbortSignal },
) => Promise<void>;

/** The JobDeps.checkWeights hook. */
export type WeightsCheck = (workflow: ApiWorkflow, signal: AbortSignal, job?: JobWeightsContext) => Promise<void>;

export interface WeightsCheckOptions {
  mode: Config["WEIGHTS_MODE"];
  /**
   * A view of ComfyUI's model folders for the given folder keys (local index or remote listing). A remote one may
   * be a few seconds old unless `fresh`; a file it lacks is looked for again with `fresh` before it is missing.
   */
  snapshot: (lookups: readonly string[], options?: { fresh?: boolean }) => Promise<ModelSnapshot>;
  objectInfo: () => Promise<ObjectInfo>;
  health: WeightsState;
  log: Logger;
  /** WEIGHTS_MODE=download: fetches missing weights; absent = `download` fails like `fail`. */
  download?: JobWeightsDownload;
  /** Every weight of a job that passed the check (the usage history prefetch reads). */
  onPresent?: (weights: readonly { folder: string; name: string }[]) => void;
}

/** The JobDeps.checkWeights hook for a WEIGHTS_MODE, or undefined when weights are not checked (`skip`). */
export function createWeightsCheck(options: WeightsCheckOptions): WeightsCheck | undefined {
  if (options.mode === "skip") return undefined;
  const download = options.mode === "download" ? options.download : undefined;
  return async (workflow, signal, job = {}) => {
    const objectInfo = await options.objectInfo();
    const lookups = _lookups(workflow, objectInfo, job.ui);
    let reports = await _locate(options, workflow, lookups, objectInfo, job.ui);
    let bad = _bad(reports);
    // a kept listing may predate the file: only a fresh one says it is missing
    if (bad.length > 0) {
      reports = await _locate(options, workflow, lookups, objectInfo, job.ui, true);
      bad = _bad(reports);
    }
    _record(options.health, reports);
    signal.throwIfAborted();
    if (bad.length > 0 && download) {
      await download(bad, { ...job, signal });
      // what the download made present is confirmed the way ComfyUI will see it
      reports = await _locate(options, workflow, lookups, objectInfo, job.ui, true);
      bad = _bad(reports);
      _record(options.health, reports);
    }
    if (bad.length === 0) {
      options.onPresent?.(reports);
      return;
    }
    options.log.warn(`job needs ${bad.length} missing weight(s): ${bad.map(weightLabel).join(", ")}`);
    throw missingWeightsError(bad);
  };
}

async function _locate(
  options: WeightsCheckOptions,
  workflow: ApiWorkflow,
  lookups: string[],
  objectInfo: ObjectInfo,
  ui: UiWorkflow | undefined,
  fresh = false,
): Promise<WeightReport[]> {
  const snapshot = await options.snapshot(lookups, { fresh });
  const comboFolder = comboFolderFor(snapshot);
  const required = requiredFiles(workflow, { objectInfo, comboFolder, ...(ui ? { ui } : {}) });
  return locateWeights(snapshot, required.weights, { level: "exists", candidates: createCandidateFinder(snapshot) });
}

function _bad(reports: WeightReport[]): WeightReport[] {
  return reports.filter((report) => report.status !== "present");
}

/** `folder/name`, as `/health` and messages show a weight. */
export function weightLabel(weight: Pick<RequiredWeight | WeightReport, "folder" | "name">): string {
  return weightKey(weight);
}

/** The job failure for weights that are missing (or, at stricter levels, invalid), with a one-line fix. */
export function missingWeightsError(bad: WeightReport[]): WorkerError {
  const missing = bad.filter((report) => report.status === "missing");
  const code = missing.length > 0 ? "E_WEIGHTS_MISSING" : "E_WEIGHTS_INVALID";
  const shown = bad.slice(0, 3).map((report) => {
    const hint = report.candidates?.[0];
    return `${weightLabel(report)}${hint ? ` (did you mean ${weightLabel(hint)}?)` : ""}`;
  });
  const more = bad.length > shown.length ? ` and ${bad.length - shown.length} more` : "";
  const where = missing[0]?.searched?.[0];
  const fix =
    missing.length === 0
      ? "replace the damaged file(s) and retry"
      : missing.length === 1 && where
        ? // an attached ComfyUI that does not report its paths is named in words (remote-snapshot.ts)
          `put it in ${where}${isAbsolute(where) ? ` (or another ${missing[0]?.folder} folder ComfyUI searches)` : ""} and retry`
        : "put each file in its model folder (details.missing_weights lists where ComfyUI searched) and retry";
  const what = missing.length > 0 ? "missing weights" : "invalid weights";
  return new WorkerError(code, `${what}: ${shown.join(", ")}${more}; ${fix}`, {
    details: { missing_weights: bad },
  });
}

function _lookups(workflow: ApiWorkflow, objectInfo: ObjectInfo, ui: UiWorkflow | undefined): string[] {
  const required = requiredFiles(workflow, { objectInfo, ...(ui ? { ui } : {}) });
  return checkedFolders(required.weights.map((weight) => weight.lookup));
}

/** The folders a check of weights in `loaderFolders` looks in (what a remote listing must fetch): embeddings too. */
export function checkedFolders(loaderFolders: readonly string[]): string[] {
  return [...new Set([...loaderFolders, "embeddings"])];
}

function _record(health: WeightsState, reports: WeightReport[]): void {
  const busy = new Set(
    (health.files ?? []).filter((f) => f.state === "downloading" || f.state === "verifying").map(weightKey),
  );
  for (const report of reports) {
    const { folder, name } = report;
    // another job's download of this very file is still running: its state says more than "missing"
    if (report.status === "missing" && busy.has(weightKey(report))) continue;
    if (report.status === "present") setWeightState(health, { folder, name, state: "ready", path: report.path });
    else if (report.status === "missing") setWeightState(health, { folder, name, state: "missing" });
    else setWeightState(health, { folder, name, state: "failed", reason: report.reason ?? report.status });
  }
  settleWeights(health);
}
