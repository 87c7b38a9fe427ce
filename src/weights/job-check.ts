/**
 * The `serve` weights check (WEIGHTS_MODE): before anything is queued, a job whose weights are not in
 * ComfyUI's model folders fails with E_WEIGHTS_MISSING, `details.missing_weights` and a one-line fix.
 * `/health` `weights.missing` lists what recent jobs found missing until a later job finds it present.
 */
import type { ObjectInfo } from "../comfy/object-info.ts";
import type { Config } from "../config.ts";
import { WorkerError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { ApiWorkflow } from "../workflow/api.ts";
import { createCandidateFinder } from "./candidates.ts";
import { comboFolderFor } from "./check.ts";
import { locateWeights, type WeightReport } from "./locate.ts";
import type { ModelSnapshot } from "./model-index.ts";
import { type RequiredWeight, requiredFiles } from "./required.ts";

/** The part of /health this check keeps current (server/health.ts WeightsHealth). */
export interface WeightsState {
  state: "unchecked" | "checking" | "ready" | "downloading" | "failed";
  pending: number;
  missing: string[];
}

export interface WeightsCheckOptions {
  mode: Config["WEIGHTS_MODE"];
  /** A fresh view of ComfyUI's model folders for the given folder keys (local index or remote listing). */
  snapshot: (lookups: readonly string[]) => Promise<ModelSnapshot>;
  objectInfo: () => Promise<ObjectInfo>;
  health: WeightsState;
  log: Logger;
}

/** Most entries `/health` `weights.missing` keeps; the oldest go first. */
export const MAX_MISSING_SHOWN = 50;

/** The JobDeps.checkWeights hook for a WEIGHTS_MODE, or undefined when weights are not checked (`skip`). */
export function createWeightsCheck(
  options: WeightsCheckOptions,
): ((workflow: ApiWorkflow, signal: AbortSignal) => Promise<void>) | undefined {
  if (options.mode === "skip") return undefined;
  // "download" fetches missing files once downloads exist (issue 5); until then it fails like "fail"
  return async (workflow, signal) => {
    const objectInfo = await options.objectInfo();
    const snapshot = await options.snapshot(_lookups(workflow, objectInfo));
    signal.throwIfAborted();
    const required = requiredFiles(workflow, { objectInfo, comboFolder: comboFolderFor(snapshot) });
    const reports = await locateWeights(snapshot, required.weights, {
      level: "exists",
      candidates: createCandidateFinder(snapshot),
    });
    _record(options.health, reports);
    const bad = reports.filter((report) => report.status !== "present");
    if (bad.length === 0) return;
    options.log.warn(`job needs ${bad.length} missing weight(s): ${bad.map(weightLabel).join(", ")}`);
    throw missingWeightsError(bad);
  };
}

/** `folder/name`, as `/health` and messages show a weight. */
export function weightLabel(weight: Pick<RequiredWeight | WeightReport, "folder" | "name">): string {
  return `${weight.folder}/${weight.name}`;
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
        ? `put it in ${where} (or another ${missing[0]?.folder} folder ComfyUI searches) and retry`
        : "put each file in its model folder (details.missing_weights lists where ComfyUI searched) and retry";
  const what = missing.length > 0 ? "missing weights" : "invalid weights";
  return new WorkerError(code, `${what}: ${shown.join(", ")}${more}; ${fix}`, {
    details: { missing_weights: bad },
  });
}

function _lookups(workflow: ApiWorkflow, objectInfo: ObjectInfo): string[] {
  // the folders a remote listing must fetch: every loader folder plus embeddings
  const required = requiredFiles(workflow, { objectInfo });
  return [...new Set([...required.weights.map((weight) => weight.lookup), "embeddings"])];
}

function _record(health: WeightsState, reports: WeightReport[]): void {
  const missing = new Set(health.missing);
  for (const report of reports) {
    const label = weightLabel(report);
    missing.delete(label);
    // re-added at the end, so the newest stay when the list is trimmed
    if (report.status !== "present") missing.add(label);
  }
  health.missing = [...missing].slice(-MAX_MISSING_SHOWN);
  health.state = health.missing.length > 0 ? "failed" : "ready";
}
