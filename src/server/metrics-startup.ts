import type { PrefetchReport } from "../prefetch/prefetch.ts";
import type { StartupReport } from "../startup/timeline.ts";

/** Prometheus lines for the start-up timeline (seconds since process start per phase) and prefetch. */
export function coldStartMetrics(startup: StartupReport, prefetch: PrefetchReport | { state: "off" }): string {
  const phases = Object.entries(startup.phases).map(
    ([phase, mark]) => `comfy_worker_startup_phase_seconds{phase="${phase}"} ${(mark?.at_ms ?? 0) / 1000}`,
  );
  const read = "read" in prefetch ? prefetch.read.bytes : 0;
  const planned = "planned" in prefetch ? prefetch.planned.bytes : 0;
  const lines = [
    "# HELP comfy_worker_startup_phase_seconds When each start-up phase was reached, in seconds since the process started.",
    "# TYPE comfy_worker_startup_phase_seconds gauge",
    ...phases,
    "# HELP comfy_worker_comfy_starts_total ComfyUI starts (the first and every restart).",
    "# TYPE comfy_worker_comfy_starts_total counter",
    `comfy_worker_comfy_starts_total ${1 + startup.restarts.length}`,
    "# HELP comfy_worker_prefetch_bytes Bytes of weights prefetch planned and read into the page cache.",
    "# TYPE comfy_worker_prefetch_bytes gauge",
    `comfy_worker_prefetch_bytes{kind="planned"} ${planned}`,
    `comfy_worker_prefetch_bytes{kind="read"} ${read}`,
  ];
  return `${lines.join("\n")}\n`;
}
