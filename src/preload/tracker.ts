import { formatBytes } from "../lib/bytes.ts";
import type { Logger } from "../log.ts";
import { setWeightState, type WeightFileState, type WeightsState, weightKey } from "../weights/weight-state.ts";

/** A progress line per downloading weight at most this often; state changes are logged at once. */
export const PROGRESS_LOG_INTERVAL_MS = 10_000;

/**
 * The `onState` of serve's downloads: keeps `/health` `weights` current and logs each weight's changes
 * (download start, throttled progress, verifying, ready, failed). Jobs' plain presence checks stay quiet.
 */
export function createWeightTracker(
  health: WeightsState,
  log: Logger,
  now: () => number = Date.now,
): (state: WeightFileState) => void {
  const lastLine = new Map<string, number>();
  return (state) => {
    const key = weightKey(state);
    const before = (health.files ?? []).find((file) => weightKey(file) === key)?.state;
    setWeightState(health, state);
    const fields = _fields(state);
    if (state.state === "downloading") {
      const due = (lastLine.get(key) ?? Number.NEGATIVE_INFINITY) + PROGRESS_LOG_INTERVAL_MS;
      if (before === "downloading" && now() < due) return;
      lastLine.set(key, now());
      log.info(before === "downloading" ? `downloading ${key}: ${_progress(state)}` : `downloading ${key}`, fields);
    } else if (state.state === "verifying" && before !== "verifying") {
      log.info(`verifying ${key}`, fields);
    } else if (state.state === "ready" && (before === "downloading" || before === "verifying")) {
      lastLine.delete(key);
      log.info(`${key} ready at ${state.path}`, fields);
    } else if (state.state === "failed" && before !== "failed") {
      lastLine.delete(key);
      log.warn(`${key} failed: ${state.reason}`, fields);
    }
  };
}

function _fields(state: WeightFileState): Record<string, unknown> {
  const { folder, name, ...rest } = state;
  return { weight: `${folder}/${name}`, ...rest };
}

function _progress(state: WeightFileState): string {
  const bytes = state.bytes ?? 0;
  const share = state.total ? ` (${Math.round((bytes / state.total) * 100)}%)` : "";
  const total = state.total ? ` of ${formatBytes(state.total)}` : "";
  const rate = state.rate ? `, ${formatBytes(state.rate)}/s` : "";
  const eta = state.eta !== undefined ? `, eta ${state.eta} s` : "";
  return `${formatBytes(bytes)}${total}${share}${rate}${eta}`;
}
