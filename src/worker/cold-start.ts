/**
 * Cold start (SPEC §3 PREFETCH, §5 `startup`): the start-up timeline fed by ComfyUI's own output and by
 * serve's phases, and the prefetch that reads the first weights into the page cache while ComfyUI boots.
 * The first job carries the timeline in `output.timings.cold_start`; the table is logged once, then.
 */
import type { ComfyHandle } from "../comfy/supervisor.ts";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import { Prefetch, type PrefetchReport } from "../prefetch/prefetch.ts";
import { UsageRecorder, type UsedWeight, volumeStateDir } from "../prefetch/usage.ts";
import { formatTimeline, type StartupPhase, StartupTimeline } from "../startup/timeline.ts";
import type { LocalModels } from "../weights/serve-weights.ts";

const TABLE_DELAY_MS = 50;

export interface ColdStartOptions {
  config: Pick<
    Config,
    | "PREFETCH"
    | "PREFETCH_BUDGET_GB"
    | "WARMUP_WORKFLOW"
    | "PRELOAD_KIT"
    | "PRELOAD_WORKFLOW"
    | "MODELS_DIR"
    | "RUNPOD_POD_ID"
  >;
  log: Logger;
  /** ComfyUI's model roots on this disk; undefined when attached to a ComfyUI we can't see (no prefetch). */
  local?: (() => Promise<LocalModels>) | undefined;
  /** Test seam: the bytes prefetch may read. */
  prefetchBudget?: () => Promise<number>;
}

/** One per worker process. */
export class ColdStart {
  readonly timeline = new StartupTimeline();
  readonly prefetch: Prefetch | undefined;
  readonly #options: ColdStartOptions;
  readonly #usage: Promise<UsageRecorder | undefined>;
  #firstJob = true;

  constructor(options: ColdStartOptions) {
    this.#options = options;
    const { config, local } = options;
    const stateDir = async () => {
      const models = await local?.();
      return models ? volumeStateDir(models.roots, config.MODELS_DIR) : undefined;
    };
    const workerId = config.RUNPOD_POD_ID ?? `${process.pid}-${Date.now().toString(36)}`;
    this.#usage = stateDir()
      .then((dir) => (dir ? new UsageRecorder(dir, workerId) : undefined))
      .catch(() => undefined);
    this.prefetch =
      local && config.PREFETCH !== "off"
        ? new Prefetch({
            local,
            warmup: config.WARMUP_WORKFLOW,
            kits: config.PRELOAD_KIT ?? [],
            workflows: config.PRELOAD_WORKFLOW ?? [],
            stateDir,
            budgetGb: config.PREFETCH_BUDGET_GB,
            log: options.log.child({ tag: "prefetch" }),
            ...(options.prefetchBudget ? { budget: options.prefetchBudget } : {}),
          })
        : undefined;
  }

  /** Follows a ComfyUI handle: its spawns, output lines and readiness feed the timeline. */
  follow(comfy: ComfyHandle): void {
    comfy.onSpawn((pid) => this.timeline.spawned(pid));
    comfy.onLine((line) => {
      if (this.timeline.line(line)?.kind === "model-requested") this.prefetch?.stop("ComfyUI started loading a model");
    });
    comfy.onState((state) => {
      if (state === "ready") this.timeline.comfyReady();
    });
  }

  /** Starts the prefetch in the background; it never delays readiness. */
  startPrefetch(): void {
    if (!this.prefetch) {
      this.timeline.mark("prefetch_done", { state: "off" });
      return;
    }
    void this.prefetch.run().then((report) => this.timeline.mark("prefetch_done", _summary(report)));
  }

  mark(phase: StartupPhase, facts?: Record<string, unknown>): void {
    this.timeline.mark(phase, facts);
  }

  /** A job was taken: prefetch yields the disk to it. */
  jobTaken(): void {
    this.timeline.mark("first_job_taken");
    this.prefetch?.stop("a job started");
  }

  /** A job finished; the first one gets the timeline in `timings.cold_start` and the table is logged. */
  jobDone(result: unknown): void {
    if (!this.#firstJob) return;
    this.#firstJob = false;
    this.timeline.mark("first_job_done");
    const report = this.timeline.report();
    const timings = (result as { timings?: Record<string, unknown> } | undefined)?.timings;
    if (timings && typeof timings === "object") timings.cold_start = report;
    // the table is logged after the job's answer went out: formatting it is the first job's largest extra cost, and
    // setImmediate ran it before the answer's bytes were written (first job +0.9 ms over the next, +0.3 after this)
    setTimeout(() => this.#options.log.info(formatTimeline(report), { startup: report }), TABLE_DELAY_MS);
  }

  /** Runs `job` with the first-job bookkeeping around it (both serve modes use this). */
  async observe<T>(job: () => Promise<T>): Promise<T> {
    this.jobTaken();
    const result = await job();
    this.jobDone(result);
    return result;
  }

  /** The weights a job found present go to this worker's usage file on the volume. */
  recordUsage(weights: readonly UsedWeight[]): void {
    void this.#usage.then((recorder) => recorder?.record(weights));
  }

  /** /health `prefetch`. */
  prefetchReport(): PrefetchReport | { state: "off" } {
    return this.prefetch?.report ?? { state: "off" };
  }
}

function _summary(report: PrefetchReport): Record<string, unknown> {
  return {
    state: report.state,
    files: report.read.files,
    bytes: report.read.bytes,
    mb_per_s: report.mb_per_s,
    ...(report.stopped_by ? { stopped_by: report.stopped_by } : {}),
  };
}
