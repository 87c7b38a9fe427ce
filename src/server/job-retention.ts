import { IdleCollector } from "./idle-collect.ts";
import { packStream, type StreamedJob } from "./job-stream.ts";
import { type JobRecord, RETRYABLE } from "./job-types.ts";
import { type ParkedRecord, ParkedResults } from "./parked-results.ts";
import type { ResultFiles, SpilledFile } from "./result-files.ts";

/** What retention needs of a job record. */
export interface RetainedJob extends StreamedJob {
  status: string;
  request: { input: Record<string, unknown> };
  output?: unknown;
  /** The output, once moved to disk (`output` is then undefined). */
  outputFile?: SpilledFile;
  /** The finished job's status object as JSON, made once for the answer; `output` is a slice of it for the spill. */
  serialized?: { view: string; output: string };
  /** A failed job's input, once moved to disk for /retry (`request.input` is then empty). */
  inputFile?: SpilledFile;
  /** JSON length of an output kept in memory (counted against the in-memory budget). */
  keptBytes?: number;
}

// RunPod keeps a /runsync result about a minute after returning it (reference §4.1)
export const RUNSYNC_RESULT_KEEP_MS = 60_000;
// an answer (a /runsync result, a /run job's end) is still being sent: its result's file is written after
// (during the send: +5–8 ms on 7.5 MB)
export const ANSWERED_DELAY_MS = 200;
export const SETTLED_REQUEST: RetainedJob["request"] = Object.freeze({ input: Object.freeze({}) });
// small /run outputs stay in memory up to this much in all; past it they go to disk too, so the heap does not grow
// with the job rate (at 100 jobs/s, a minute of results of 15 KB each would be 90 MB)
const IN_MEMORY_OUTPUTS_BYTES = 4 * 1_048_576;

/**
 * Keeps finished jobs small: the input is dropped (or, for a job /retry may re-run, moved to disk) and a
 * large output moves to disk until the job expires, as does a small one that would take those kept in memory
 * past IN_MEMORY_OUTPUTS_BYTES. A result /runsync returned leaves the heap whole (`park`), or, when it may be
 * retried, keeps its record with its output on disk. Without `files` (RunPod mode, where nobody fetches results
 * from us) inputs are still dropped and outputs stay as they are.
 */
export class JobRetention {
  readonly #files: ResultFiles | undefined;
  readonly #collector: IdleCollector;
  readonly #parked: ParkedResults | undefined;
  #keptBytes = 0;
  #closed = false;

  /** `idle`: no job running or queued (a full garbage collection after large outputs moved to disk waits for it). */
  constructor(files: ResultFiles | undefined, idle: () => boolean = () => true) {
    this.#files = files;
    this.#collector = new IdleCollector(idle);
    this.#parked = files && new ParkedResults(files);
  }

  /** Jobs parked on disk: no record of theirs is in the heap. */
  get parked(): number {
    return this.#parked?.size ?? 0;
  }

  /** A finished result can be parked: one /retry may re-run keeps its record (and its input). */
  parks(job: RetainedJob): boolean {
    return this.#parked !== undefined && !RETRYABLE.has(job.status);
  }

  /**
   * Writes a returned result (its record, and its output's JSON) to one file; once written, `drop()` removes
   * the store's record and the job is parked until it expires. False when the disk refused it: the caller
   * settles it as usual.
   */
  async park(
    job: JobRecord & RetainedJob,
    ops: { current: () => boolean; drop: () => void; returned: boolean },
  ): Promise<boolean> {
    const parked = this.#parked;
    if (!ops.current()) return true;
    if (!parked) return false;
    // a /runsync caller has the result: only its last chunk is kept; a /run job keeps every unread one
    packStream(job, ops.returned);
    const { id, status, createdAt, startedAt, finishedAt, expiresAt, error, streamText } = job;
    const meta: ParkedRecord = { id, status, createdAt, startedAt, finishedAt, expiresAt, error, streamText };
    const text = job.serialized?.output ?? (job.output === undefined ? undefined : JSON.stringify(job.output));
    const n = await parked.write(meta, text).catch(() => undefined);
    if (n === undefined) return false;
    // a terminal job that cannot be retried changes no more; it may only have expired meanwhile
    if (!ops.current()) {
      parked.discard(n);
      return true;
    }
    ops.drop();
    this.release(job);
    parked.add(id, n, expiresAt);
    this.#collector.settled();
    return true;
  }

  /**
   * A parked job read again, as a copy that is not stored: it stays parked, so reads never bring records back to
   * the heap. Undefined when not parked or expired.
   */
  parkedCopy(id: string, now: number): JobRecord | undefined {
    const parked = this.#parked?.read(id, now);
    if (!parked) return undefined;
    return { ...parked.record, request: SETTLED_REQUEST, stream: [], outputFile: parked.outputFile };
  }

  /** A /stream call delivered a parked job's unread chunks. */
  streamDelivered(id: string): void {
    this.#parked?.streamDelivered(id);
  }

  /** Forgets the parked jobs whose time is up. */
  sweep(now: number): void {
    this.#parked?.sweep(now);
  }

  /**
   * Right after a job finished (and its webhook/onFinish saw the full result), or a /runsync call `returned`
   * it. `current` = still stored.
   */
  async settle(job: RetainedJob, current: () => boolean, options: { returned?: boolean } = {}): Promise<void> {
    // a settle timed before the store drained: nothing is written or collected for a store that is gone
    if (this.#closed) return;
    const input = job.request.input;
    const retryable = RETRYABLE.has(job.status);
    // nothing of the request is read again unless the job may be retried (webhook and s3Config were used)
    if (!retryable) job.request = SETTLED_REQUEST;
    // a result /runsync returned keeps only its last unread chunk (cumulative: every finished node with its files),
    // since its caller has the result and a minute of them at a high job rate adds up; a /run job keeps its stream
    // for a reader that comes late, and no finished job shows live progress
    packStream(job, options.returned ?? false);
    job.progress = undefined;
    const files = this.#files;
    if (!files) {
      this.#collector.settled();
      return;
    }
    const output = job.output;
    this.#forgetKept(job);
    const text = output === undefined ? undefined : (job.serialized?.output ?? JSON.stringify(output));
    // a result /runsync returned is rarely read again, so it waits on disk and leaves the budget to /run results
    const toDisk = text !== undefined && (options.returned || this.#keptBytes + text.length > IN_MEMORY_OUTPUTS_BYTES);
    const [outputFile, inputFile] = await Promise.all([
      text === undefined ? undefined : files.spillJson(text, { always: toDisk }),
      retryable ? files.spill(input) : undefined,
    ]);
    // a small output stays in memory as it is; its text is not kept beside it
    if (job.output === output) job.serialized = undefined;
    // the job may have expired, been retried or re-finished while the files were written
    const keepOutput = outputFile && current() && job.output === output;
    const keepInput = inputFile && current() && RETRYABLE.has(job.status) && job.request.input === input;
    if (keepOutput) Object.assign(job, { output: undefined, outputFile });
    else if (outputFile) files.remove(outputFile);
    this.#collector.settled();
    if (!keepOutput && text !== undefined && current() && job.output === output) {
      job.keptBytes = text.length;
      this.#keptBytes += text.length;
    }
    if (keepInput) Object.assign(job, { request: { ...job.request, input: {} }, inputFile });
    else if (inputFile) files.remove(inputFile);
  }

  /** Brings a spilled input back (before a retry); its file is removed. */
  async restoreInput(job: RetainedJob): Promise<void> {
    const file = job.inputFile;
    if (!file || !this.#files) return;
    job.request = { ...job.request, input: (await this.#files.read(file)) as Record<string, unknown> };
    job.inputFile = undefined;
    this.#files.remove(file);
  }

  /** Removes what a forgotten job left on disk, and counts its output out of memory. */
  release(job: RetainedJob): void {
    this.#forgetKept(job);
    for (const file of [job.outputFile, job.inputFile]) if (file) this.#files?.remove(file);
    job.outputFile = undefined;
    job.inputFile = undefined;
    job.serialized = undefined;
  }

  /**
   * The JSON body of `view` (the job's status object): an output on disk is streamed from its file; one in
   * memory is serialized once and that text kept until the spill writes it (answer and file share it).
   */
  body(view: { output?: unknown }, job: RetainedJob): string | ReadableStream<Uint8Array> {
    if (job.outputFile && this.#files) return this.#files.objectWith(JSON.stringify(view), "output", job.outputFile);
    if (job.output === undefined || view.output !== job.output || !this.#files) return JSON.stringify(view);
    if (!job.serialized) {
      // output goes last, so its text is a slice of the answer's: JSC shares a slice's characters, no copy
      // (a concatenation of head and output costs 10 ms more on 7.5 MB when the response flattens it)
      const { output, ...head } = view;
      const open = JSON.stringify(head).length;
      const text = JSON.stringify({ ...head, output });
      job.serialized = { view: text, output: text.slice(open - (open > 2 ? 0 : 1) + '"output":'.length, -1) };
    }
    return job.serialized.view;
  }

  #forgetKept(job: RetainedJob): void {
    this.#keptBytes -= job.keptBytes ?? 0;
    job.keptBytes = undefined;
  }

  /** Removes the folder (the store drained). */
  close(): void {
    this.#closed = true;
    this.#collector.close();
    this.#files?.close();
  }
}
