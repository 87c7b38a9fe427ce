import type { JobProgress } from "../jobs/pipeline.ts";
import { backoffMs, delay, secondsToTimerMs, settlesWithin } from "../lib/time.ts";
import type { Logger } from "../log.ts";
import { Wakeup } from "./_wakeup.ts";
import { RUNPOD_VERSION } from "./client.ts";
import { startHeartbeat } from "./heartbeat.ts";
import { createProgressReporter, type ProgressReporter } from "./progress.ts";
import { doneBody, type JobOutcome } from "./result.ts";
import type { RunpodJob } from "./schemas.ts";
import { startStopChannel } from "./stop-channel.ts";
import {
  DEFAULT_TIMING,
  type JobRunner,
  type RunpodWorkerOptions,
  type WorkerEnd,
  type WorkerTiming,
} from "./worker-types.ts";

export type { JobRunner, RunnerHooks, RunpodWorkerOptions, WorkerEnd, WorkerTiming } from "./worker-types.ts";

/** RunPod's queue-worker loop (reference §1.19): take, run, report, heartbeat, stop channel, drain. */
export class RunpodWorker {
  readonly #options: RunpodWorkerOptions;
  readonly #timing: WorkerTiming;
  readonly #runner: JobRunner;
  readonly #log: Logger;
  // the SDK's in-progress set: taken and not yet reported; feeds pings and job_in_progress (§1.5, §1.11)
  readonly #held = new Set<string>();
  // jobs the platform stopped get no result (§1.12)
  readonly #stopped = new Set<string>();
  readonly #finished = new Set<string>();
  readonly #progress = new Map<string, ProgressReporter>();
  readonly #slotFreed = new Wakeup();
  readonly #taken = new Wakeup();
  readonly #reported = new Wakeup();
  readonly #halt = new AbortController();
  #draining = false;
  #running: Promise<WorkerEnd> | undefined;
  #failure: unknown;

  constructor(options: RunpodWorkerOptions) {
    this.#options = options;
    this.#timing = { ...DEFAULT_TIMING, ...options.timing };
    this.#log = options.log;
    this.#runner = options.createRunner({
      finished: (jobId, outcome) => this.#onFinished(jobId, outcome),
      progress: (jobId, progress) => this.#onProgress(jobId, progress),
      preview: (jobId, chunk) => this.#onPreview(jobId, chunk),
    });
  }

  /** Ids of the jobs this worker holds (taken, running, or being reported). */
  heldJobs(): string[] {
    return [...this.#held];
  }

  /** Why the loop ended "failed" (the rejection of `ready`); undefined otherwise. */
  get failure(): unknown {
    return this.#failure;
  }

  /** Starts the loops; resolves once the worker has stopped taking and every held job is reported. */
  run(): Promise<WorkerEnd> {
    this.#running ??= this.#run();
    return this.#running;
  }

  /** Stop taking, let running jobs finish within SHUTDOWN_GRACE_S, report them, end the loops (§1.14). */
  async stop(): Promise<WorkerEnd> {
    this.#halt.abort();
    return this.#running ?? "stopped";
  }

  async #run(): Promise<WorkerEnd> {
    const { client, config } = this.#options;
    const heartbeat = client.can.ping
      ? startHeartbeat({
          client,
          intervalMs: config.RUNPOD_PING_INTERVAL,
          jobIds: () => this.heldJobs(),
          log: this.#log,
        })
      : undefined;
    if (!client.can.ping) this.#log.warn("RUNPOD_WEBHOOK_PING is not set: no heartbeat is sent");
    if (!client.can.stop) this.#log.warn("the job-take URL has no /job-take/ segment: per-job stop is off");
    const stops = client.can.stop ? this.#startStops() : undefined;
    const end = await this.#takeLoop();
    // REFRESH_WORKER: the jobs already taken run to completion, unless a signal cuts that short
    if (end === "refresh") await this.#whenIdle(this.#halt.signal);
    this.#draining = true;
    await this.#runner.drain(secondsToTimerMs(config.SHUTDOWN_GRACE_S));
    if (!(await settlesWithin(this.#whenIdle(), this.#timing.reportWaitMs)))
      this.#log.error(`stopping with ${this.#held.size} job result(s) still unreported`);
    await stops?.stop();
    await heartbeat?.stop();
    return end;
  }

  async #takeLoop(): Promise<WorkerEnd> {
    const signal = this.#halt.signal;
    const { CONCURRENCY, REFRESH_WORKER } = this.#options.config;
    const concurrency = this.#options.concurrency ?? (() => CONCURRENCY);
    let errors = 0;
    while (!signal.aborted) {
      const free = concurrency() - this.#runner.busy();
      if (free <= 0) {
        await this.#slotFreed.wait(signal);
        continue;
      }
      if (!(await this.#canRun(signal))) return signal.aborted ? "stopped" : "failed";
      const started = Date.now();
      const result = await this.#options.client.take({ batchSize: free, inProgress: this.#held.size > 0, signal });
      if (result.kind === "jobs") {
        errors = 0;
        this.#accept(result.jobs, result.dropped);
        // REFRESH_WORKER: this worker is replaced after its jobs, so it takes no more (§1.13)
        if (REFRESH_WORKER) return "refresh";
      } else if (result.kind === "none") {
        errors = 0;
        await delay(this.#timing.minTakeIntervalMs - (Date.now() - started), signal);
      } else if (result.kind === "throttled") {
        await delay(this.#timing.throttledMs, signal);
      } else {
        const ms = backoffMs(errors++, this.#timing.errorBackoff);
        this.#log.warn(`job-take failed (${result.message}); next try in ${ms} ms`);
        await delay(ms, signal);
      }
    }
    return "stopped";
  }

  // false when jobs can never run here again (failure kept) or the loop was stopped while waiting
  async #canRun(signal: AbortSignal): Promise<boolean> {
    if (!this.#options.ready) return true;
    try {
      await this.#options.ready(signal);
      return !signal.aborted;
    } catch (error) {
      if (signal.aborted) return false;
      this.#failure = error;
      this.#log.error(`taking no more jobs: ${(error as Error)?.message ?? error}`);
      return false;
    }
  }

  #accept(jobs: RunpodJob[], dropped: number): void {
    if (dropped > 0) this.#log.error(`job-take returned ${dropped} job(s) without a string id; they were skipped`);
    for (const job of jobs) {
      if (this.#held.has(job.id)) {
        this.#log.warn(`job ${job.id} was handed out again while this worker still holds it; ignored`);
        continue;
      }
      this.#held.add(job.id);
      const batch = job.batchId ? ` [batchId=${job.batchId}]` : "";
      this.#log.info(`job taken${batch}`, { requestId: job.id });
      this.#runner.submit(job);
    }
    this.#taken.notify();
  }

  #startStops() {
    return startStopChannel({
      client: this.#options.client,
      active: () => this.#held.size > this.#stopped.size,
      wakeup: this.#taken,
      onStop: (ids) => this.#onStop(ids),
      log: this.#log,
      timing: {
        emptyMs: this.#timing.stopEmptyMs,
        throttledMs: this.#timing.throttledMs,
        errorBackoff: this.#timing.errorBackoff,
      },
    });
  }

  #onStop(ids: string[]): void {
    for (const id of ids) {
      if (!this.#held.has(id) || this.#stopped.has(id)) continue;
      this.#stopped.add(id);
      this.#log.info("the platform stopped this job; interrupting it", { requestId: id });
      this.#runner.cancel(id);
    }
  }

  #onProgress(jobId: string, progress: JobProgress): void {
    if (!this.#held.has(jobId) || this.#finished.has(jobId)) return;
    let reporter = this.#progress.get(jobId);
    if (!reporter) {
      reporter = createProgressReporter(async (p) => {
        const sent = await this.#options.client.progress(jobId, p);
        if (!sent.ok) this.#log.debug(`progress update not delivered (${sent.message})`, { requestId: jobId });
      }, this.#timing.progressIntervalMs);
      this.#progress.set(jobId, reporter);
    }
    reporter.push(progress);
  }

  // previews go to job-stream as chunks (§1.9), so clients read them from /stream; never after the result
  async #onPreview(jobId: string, chunk: JobProgress): Promise<void> {
    if (!this.#held.has(jobId) || this.#finished.has(jobId)) return;
    const sent = await this.#options.client.stream(jobId, chunk);
    if (!sent.ok) this.#log.debug(`preview not delivered (${sent.message})`, { requestId: jobId });
  }

  #onFinished(jobId: string, outcome: JobOutcome): void {
    this.#finished.add(jobId);
    this.#slotFreed.notify();
    void this.#report(jobId, outcome).finally(() => {
      for (const set of [this.#held, this.#stopped, this.#finished]) set.delete(jobId);
      this.#progress.delete(jobId);
      this.#reported.notify();
    });
  }

  async #report(jobId: string, outcome: JobOutcome): Promise<void> {
    const log = this.#log.child({ requestId: jobId });
    await this.#progress.get(jobId)?.close();
    if (this.#stopped.has(jobId)) {
      // §1.12: the platform already knows the job was cancelled or timed out
      log.info("stopped by the platform; no result is posted");
      return;
    }
    if (outcome.status === "CANCELLED" && this.#draining) {
      // §1.14: interrupted work is not reported, so the platform can give the job to another worker
      log.warn("cut off by shutdown after SHUTDOWN_GRACE_S; not reported, so the platform can retry it");
      return;
    }
    const { config } = this.#options;
    const identity = {
      hostname: config.RUNPOD_POD_HOSTNAME,
      workerId: config.RUNPOD_POD_ID,
      runpodVersion: RUNPOD_VERSION,
    };
    const sent = await this.#options.client.done(jobId, doneBody(outcome, identity, config.REFRESH_WORKER));
    const what = outcome.status === "COMPLETED" ? "COMPLETED" : `${outcome.status}: ${outcome.error}`;
    if (sent.ok) log.info(`job ${what}`);
    else log.error(`job ${what}, but job-done failed ${sent.attempts} time(s) (${sent.message}); the result is lost`);
  }

  async #whenIdle(signal?: AbortSignal): Promise<void> {
    while (this.#held.size > 0 && !signal?.aborted) await this.#reported.wait(signal);
  }
}
