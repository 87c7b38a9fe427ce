/**
 * Per-weight state for `/health` (SPEC §5 `weights`, §7 State): each weight a preload or job needs is
 * `missing`, `downloading` (bytes, total, rate, eta), `verifying`, `ready` or `failed` (reason).
 */

/** One weight's state; `eta` is in seconds, `rate` in bytes per second. */
export interface WeightFileState {
  folder: string;
  name: string;
  state: "missing" | "downloading" | "verifying" | "ready" | "failed";
  bytes?: number;
  total?: number;
  rate?: number;
  eta?: number;
  reason?: string;
  path?: string;
}

/** The `/health` `weights` object: SPEC's `{state, pending, missing}` plus the per-file list. */
export interface WeightsState {
  state: "unchecked" | "checking" | "ready" | "downloading" | "failed";
  /** Weights being downloaded or verified now. */
  pending: number;
  /** `folder/name` of weights recent jobs or preloads could not get, newest last. */
  missing: string[];
  /** The most recently updated weights, oldest first. */
  files?: WeightFileState[];
}

/** Most entries `missing` and `files` keep; the oldest go first. */
export const MAX_WEIGHTS_SHOWN = 50;

/** A fresh, unchecked state. */
export function createWeightsState(): WeightsState {
  return { state: "unchecked", pending: 0, missing: [], files: [] };
}

/** `folder/name`, as `/health` and messages show a weight. */
export function weightKey(weight: { folder: string; name: string }): string {
  return `${weight.folder}/${weight.name}`;
}

/** Records one weight's state (replacing its previous one) and recomputes the summary fields. */
export function setWeightState(health: WeightsState, file: WeightFileState): void {
  const key = weightKey(file);
  const files = (health.files ?? []).filter((entry) => weightKey(entry) !== key);
  files.push(file);
  health.files = files.slice(-MAX_WEIGHTS_SHOWN);
  const missing = health.missing.filter((entry) => entry !== key);
  // re-added at the end, so the newest stay when the list is trimmed
  if (file.state === "missing" || file.state === "failed") missing.push(key);
  health.missing = missing.slice(-MAX_WEIGHTS_SHOWN);
  settleWeights(health);
}

/** Recomputes `state` and `pending`: downloading while anything transfers, failed while anything is missing. */
export function settleWeights(health: WeightsState): void {
  const files = health.files ?? [];
  health.pending = files.filter((file) => file.state === "downloading" || file.state === "verifying").length;
  if (health.pending > 0) health.state = "downloading";
  else if (health.missing.length > 0) health.state = "failed";
  else if (files.length > 0 || health.state !== "unchecked") health.state = "ready";
}
