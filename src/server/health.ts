import { importFailuresOf } from "../comfy/import-failures.ts";
import type { ComfyHandle } from "../comfy/supervisor.ts";
import type { PrefetchReport } from "../prefetch/prefetch.ts";
import type { StartupReport } from "../startup/timeline.ts";
import { VERSION } from "../version.ts";
import type { WeightsState } from "../weights/weight-state.ts";
import type { JobStore } from "./job-store.ts";

export type WorkerStatus = "starting" | "ready" | "draining" | "degraded" | "failed";

/** Weight state for /health (SPEC's `{state, pending, missing}` plus per-file `files`); kept by the weights feature. */
export type WeightsHealth = WeightsState;

/** What /health, /ready and /ping read: the worker's phase plus live ComfyUI and job state. */
export interface WorkerHealth {
  /** Set by `serve` as it moves through preload → ComfyUI ready → warmup → serving. */
  phase: "starting" | "serving" | "failed" | "stopping";
  startedAt: number;
  comfy: ComfyHandle;
  jobs: JobStore;
  weights: WeightsHealth;
  comfyInfo?: { version?: string; devices?: unknown[] };
  /** A multi-GPU worker's instances (COMFY_GPUS), one entry per GPU. */
  instances?: () => unknown[] | undefined;
  /** The start-up timeline and prefetch (worker/cold-start.ts). */
  coldStart?: { timeline: { report(): StartupReport }; prefetchReport(): PrefetchReport | { state: "off" } };
}

/** The worker's overall status: ready only when serving with a ready ComfyUI. */
export function workerStatus(health: WorkerHealth): WorkerStatus {
  if (health.phase === "failed" || health.comfy.state === "failed") return "failed";
  // shutting down: running jobs finish, nothing new is taken
  if (health.phase === "stopping") return "draining";
  if (health.phase !== "serving") return "starting";
  return health.comfy.state === "ready" && health.jobs.accepting ? "ready" : "degraded";
}

/** The `/health` body of SPEC §5 (plus RunPod's `workers` so the unprefixed route serves both shapes). */
export function healthReport(health: WorkerHealth) {
  const status = workerStatus(health);
  const inProgress = health.jobs.inProgress().length;
  return {
    status,
    version: VERSION,
    uptime_s: Math.round((Date.now() - health.startedAt) / 1000),
    comfy: {
      state: health.comfy.state,
      pid: health.comfy.pid ?? null,
      restarts: health.comfy.restarts,
      url: health.comfy.url,
      version: health.comfyInfo?.version ?? null,
      devices: health.comfyInfo?.devices ?? [],
      // custom node packs that raised on import at start-up: ComfyUI runs without their nodes
      failed_node_packs: importFailuresOf(health.comfy).failed(),
    },
    ...(health.instances?.() ? { instances: health.instances() } : {}),
    weights: health.weights,
    ...(health.coldStart
      ? { prefetch: health.coldStart.prefetchReport(), startup: health.coldStart.timeline.report() }
      : {}),
    jobs: {
      inQueue: health.jobs.inQueue(),
      inProgress,
      completed: health.jobs.counts.completed,
      failed: health.jobs.counts.failed,
      retried: health.jobs.counts.retried,
    },
    workers: { idle: status === "ready" && inProgress === 0 ? 1 : 0, running: inProgress > 0 ? 1 : 0 },
  };
}
