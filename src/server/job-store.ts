import { WorkerError } from "../errors.ts";
import type { JobProgress } from "../jobs/pipeline.ts";
import { timerMs } from "../lib/time.ts";
import { ANSWERED_DELAY_MS, JobRetention, RUNSYNC_RESULT_KEEP_MS } from "./job-retention.ts";
import { pushPreview, pushProgress, takeStream } from "./job-stream.ts";
import {
  DEFAULT_TTL_MS,
  type JobRecord,
  type JobStatus,
  type JobStoreOptions,
  type JobView,
  jobView,
  newJob,
  RETRY_RESET,
  RETRYABLE,
  TERMINAL_STATUSES,
} from "./job-types.ts";
import type { JobRequest } from "./schemas.ts";
import { Waiters } from "./waiters.ts";

export type { JobExecution, JobRecord, JobStatus, JobStoreOptions, JobView } from "./job-types.ts";
export { TERMINAL_STATUSES } from "./job-types.ts";

const SWEEP_INTERVAL_MS = 10_000;
const SHUTDOWN_QUEUED = "cancelled: the worker shut down";
const SHUTDOWN_RUNNING = "cancelled: the worker shut down before the job finished";

/** The in-memory job queue behind the RunPod-compatible API: FIFO, CONCURRENCY at once, results kept for a TTL. */
export class JobStore {
  readonly #jobs = new Map<string, JobRecord>();
  readonly #queue: string[] = [];
  readonly #waiters = new Waiters();
  readonly #options: JobStoreOptions;
  readonly #sweeper: ReturnType<typeof setInterval>;
  readonly #retention: JobRetention;
  readonly #now: () => number;
  #running = 0;
  #accepting = true;
  #paused: boolean;
  counts = { completed: 0, failed: 0, retried: 0 };

  constructor(options: JobStoreOptions) {
    this.#options = options;
    this.#paused = options.paused ?? false;
    this.#retention = new JobRetention(options.files, () => this.#running === 0 && this.#queue.length === 0);
    this.#now = options.now ?? Date.now;
    this.#sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.#sweeper.unref();
  }

  get accepting(): boolean {
    return this.#accepting;
  }

  /** Starts running queued jobs (after a `paused` start). */
  resume(): void {
    this.#paused = false;
    this.#pump();
  }

  /**
   * Queues a job; throws E_COMFY_UNAVAILABLE once the worker is shutting down. `sync`: a /runsync call
   * waits for it, so its result stays in memory until `returned()` (no disk round trip on the fast path).
   */
  submit(request: JobRequest, id: string = crypto.randomUUID(), options: { sync?: boolean } = {}): JobRecord {
    if (!this.#accepting)
      throw new WorkerError("E_COMFY_UNAVAILABLE", "the worker is shutting down and takes no new jobs");
    const job = newJob(id, request, this.#now(), options.sync);
    this.#jobs.set(id, job);
    this.#queue.push(id);
    queueMicrotask(() => this.#pump());
    return job;
  }

  /** The job, unless unknown or expired; one parked on disk is read as a copy that is not stored (it stays parked). */
  get(id: string): JobRecord | undefined {
    const job = this.#jobs.get(id);
    if (!job) return this.#retention.parkedCopy(id, this.#now());
    if (job.expiresAt <= this.#now()) {
      this.#forget(job);
      return undefined;
    }
    return job;
  }

  /** RunPod's status object for a job. */
  view(job: JobRecord): JobView {
    return jobView(job, this.#options.workerId);
  }

  /** The status object as a JSON body (a large output serialized once, or streamed from its file). */
  viewBody(job: JobRecord): string | ReadableStream<Uint8Array> {
    return this.#retention.body(this.view(job), job);
  }

  /**
   * A /runsync call returned this job's result: like RunPod, keep it about a minute more, not RESULT_TTL_S.
   * A job /runsync returned unfinished is polled with /status, so it keeps the /run retention.
   */
  returned(job: JobRecord): void {
    const finished = job.sync && TERMINAL_STATUSES.has(job.status);
    job.sync = false;
    if (!finished) return;
    job.expiresAt = Math.min(job.expiresAt, this.#now() + RUNSYNC_RESULT_KEEP_MS);
    this.#parkSoon(job, true);
  }

  // after the answer went out, its record leaves the heap for a file (parked-results.ts), or, when it may be
  // retried or the disk refused, keeps a lighter record (job-retention.ts settle)
  #parkSoon(job: JobRecord, returned: boolean): void {
    const ops = { current: () => this.#jobs.get(job.id) === job, drop: () => this.#jobs.delete(job.id), returned };
    const park = async () => (await this.#retention.park(job, ops)) || this.#settleSoon(job, 0, returned);
    if (this.#retention.parks(job)) setTimeout(() => void park(), ANSWERED_DELAY_MS).unref();
    else this.#settleSoon(job, returned ? ANSWERED_DELAY_MS : 0, returned);
  }

  /** Resolves when the job is terminal or `ms` passed, whichever comes first. */
  async wait(id: string, ms: number): Promise<void> {
    const job = this.get(id);
    if (!job || TERMINAL_STATUSES.has(job.status)) return;
    await this.#waiters.wait(id, ms, () => TERMINAL_STATUSES.has(job.status));
  }

  /** Undelivered progress chunks (long-polls up to `ms` for one); each chunk is delivered once. */
  async takeStream(id: string, ms: number): Promise<JobProgress[]> {
    const job = this.get(id);
    if (!job) return [];
    if (job.stream.length === 0 && !TERMINAL_STATUSES.has(job.status)) {
      await this.#waiters.wait(id, ms, () => job.stream.length > 0 || TERMINAL_STATUSES.has(job.status));
    }
    const chunks = takeStream(job);
    if (this.#jobs.get(id) !== job) this.#retention.streamDelivered(id);
    return chunks;
  }

  /**
   * Cancels a job: CANCELLED at once, and it stays so. A running one is also interrupted through its abort
   * signal; it keeps its CONCURRENCY slot until ComfyUI has stopped it, so the next job doesn't share the GPU.
   */
  cancel(id: string, reason = "the job was cancelled"): JobRecord | undefined {
    const job = this.get(id);
    if (!job || TERMINAL_STATUSES.has(job.status)) return job;
    if (job.status === "IN_QUEUE") {
      this.#queue.splice(this.#queue.indexOf(id), 1);
      this.#finish(job, "CANCELLED", { error: `${reason} before it started` });
    } else {
      this.#finish(job, "CANCELLED", { error: reason });
      job.controller?.abort(new WorkerError("E_JOB_CANCELLED", reason));
    }
    return job;
  }

  /** Re-queues a FAILED or TIMED_OUT job under the same id (its input read back from disk); E_INPUT otherwise. */
  async retry(id: string): Promise<JobRecord | undefined> {
    const job = this.get(id);
    if (!job) return undefined;
    if (!RETRYABLE.has(job.status)) {
      throw new WorkerError("E_INPUT", `job ${id} is ${job.status}; only FAILED or TIMED_OUT jobs can be retried`);
    }
    await this.#retention.restoreInput(job);
    if (!RETRYABLE.has(job.status)) return job;
    this.#retention.release(job);
    Object.assign(job, RETRY_RESET, { stream: [] });
    job.expiresAt = this.#now() + (job.request.policy?.ttl ?? DEFAULT_TTL_MS);
    this.counts.retried++;
    this.#queue.push(id);
    queueMicrotask(() => this.#pump());
    return job;
  }

  /** Drops every queued (not running) job; returns how many. */
  purge(reason = "removed by purge-queue"): number {
    const ids = this.#queue.splice(0);
    for (const id of ids) {
      const job = this.#jobs.get(id);
      if (job) this.#finish(job, "CANCELLED", { error: reason });
    }
    return ids.length;
  }

  inQueue(): number {
    return this.#queue.length;
  }

  inProgress(): string[] {
    return [...this.#jobs.values()].filter((job) => job.status === "IN_PROGRESS").map((job) => job.id);
  }

  /** Stops taking jobs, lets running ones finish within `graceMs`, then cancels what is left. */
  async drain(graceMs: number): Promise<void> {
    this.#accepting = false;
    this.purge(SHUTDOWN_QUEUED);
    const deadline = Date.now() + graceMs;
    while (this.#running > 0 && Date.now() < deadline) await Bun.sleep(50);
    for (const id of this.inProgress()) this.cancel(id, SHUTDOWN_RUNNING);
    while (this.#running > 0 && Date.now() < deadline + 5_000) await Bun.sleep(50);
    clearInterval(this.#sweeper);
    this.#retention.close();
  }

  #concurrency(): number {
    const { concurrency } = this.#options;
    return typeof concurrency === "function" ? concurrency() : concurrency;
  }

  #pump(): void {
    while (!this.#paused && this.#running < this.#concurrency() && this.#queue.length > 0) {
      const job = this.#jobs.get(this.#queue.shift() as string);
      if (job && job.status === "IN_QUEUE") void this.#run(job);
    }
  }

  async #run(job: JobRecord): Promise<void> {
    this.#running++;
    const controller = new AbortController();
    Object.assign(job, { status: "IN_PROGRESS", startedAt: this.#now(), controller });
    this.#waiters.notify(job.id);
    const limit = job.request.policy?.executionTimeout ?? this.#options.timeoutMs;
    const timeout = () => new WorkerError("E_JOB_TIMEOUT", `the job ran past its ${limit / 1000} s execution timeout`);
    // TIMED_OUT at the limit, as a cancel is CANCELLED at once; ComfyUI is stopped behind it, holding the slot
    const expire = () => {
      const error = timeout();
      this.#fail(job, error);
      controller.abort(error);
    };
    const timer = limit > 0 ? setTimeout(expire, timerMs(limit)) : undefined;
    try {
      const output = await this.#options.execute(job, {
        signal: controller.signal,
        onProgress: (progress) => {
          pushProgress(job, progress);
          this.#waiters.notify(job.id);
        },
        onPreview: (preview) => {
          pushPreview(job, preview);
          this.#waiters.notify(job.id);
        },
      });
      // a job cancelled while running is already CANCELLED; what its run returns after that is dropped
      if (job.status === "IN_PROGRESS") this.#finish(job, "COMPLETED", { output });
    } catch (error) {
      this.#fail(job, error);
    } finally {
      clearTimeout(timer);
      job.controller = undefined;
      this.#running--;
      this.#pump();
    }
  }

  // a job already ended (cancelled, timed out) keeps the status it was given
  #fail(job: JobRecord, error: unknown): void {
    const failure = this.#options.fail(error, job);
    if (job.status === "IN_PROGRESS")
      this.#finish(job, failure.status, { error: failure.error, output: { details: failure.details } });
  }

  #finish(job: JobRecord, status: JobStatus, result: { output?: unknown; error?: string }): void {
    const finishedAt = this.#now();
    Object.assign(job, { status, finishedAt, ...result });
    job.expiresAt = Math.min(job.expiresAt, finishedAt + this.#options.resultTtlMs);
    if (status === "COMPLETED") this.counts.completed++;
    // a cancelled job did not fail
    else if (status !== "CANCELLED") this.counts.failed++;
    this.#waiters.notify(job.id);
    this.#options.onFinish?.(job);
    // a /runsync job waits for `returned`; a /run one leaves the heap once its answer and webhook have it
    if (!job.sync) this.#parkSoon(job, false);
  }

  // after the current responses are sent: writing a large output must not delay them
  #settleSoon(job: JobRecord, delayMs = 0, returned = false): void {
    // a full disk leaves the result in memory, which still works
    const settle = () =>
      this.#retention.settle(job, () => this.#jobs.get(job.id) === job, { returned }).catch(() => {});
    if (delayMs > 0) setTimeout(settle, delayMs).unref();
    else setImmediate(settle);
  }

  #forget(job: JobRecord): void {
    job.controller?.abort(new WorkerError("E_JOB_TIMEOUT", "the job's ttl expired"));
    this.#jobs.delete(job.id);
    this.#retention.release(job);
    const index = this.#queue.indexOf(job.id);
    if (index >= 0) this.#queue.splice(index, 1);
  }

  /** Forgets every expired job (runs every few seconds by itself); returns how many are kept, parked ones too. */
  sweep(): number {
    const now = this.#now();
    for (const job of [...this.#jobs.values()]) if (job.expiresAt <= now) this.#forget(job);
    this.#retention.sweep(now);
    return this.#jobs.size + this.#retention.parked;
  }

  /** Finished jobs kept as records in the heap, and parked on disk. */
  kept(): { records: number; parked: number } {
    return { records: this.#jobs.size, parked: this.#retention.parked };
  }
}
