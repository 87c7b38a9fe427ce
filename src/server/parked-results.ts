import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import type { JobStatus } from "./job-types.ts";
import type { ResultFiles, SpilledFile } from "./result-files.ts";

/** What a parked job keeps of its record: enough to rebuild it when it is read again. */
export interface ParkedRecord {
  id: string;
  status: JobStatus;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  expiresAt: number;
  error?: string;
  streamText?: string;
}

// a parked file starts with the byte length of its record's JSON, in this many decimal digits
const LENGTH_DIGITS = 10;
// the order list drops the ids already swept once this many have piled up at its front
const COMPACT_AFTER = 4_096;

/**
 * Finished results kept off the heap until they expire: a /runsync one for about a minute after it was returned
 * (as RunPod keeps it), a /run one for RESULT_TTL_S once its answer and webhook went out. They are rarely read
 * again, and a read leaves them here. Each is one file of the worker's result folder, its record followed by its
 * output's JSON; the heap holds only id → file number and the order they go in. Kept as records they cost about
 * 0.6 KiB of heap each (a /run one about 1.9 KiB, with its stream and a small output), so RSS grew with the job
 * rate (bench/job-overhead.ts --soak).
 */
export class ParkedResults {
  readonly #files: ResultFiles;
  readonly #index = new Map<string, number>();
  // jobs whose unread progress chunks a /stream call has since delivered: their file still holds them
  readonly #streamDelivered = new Set<string>();
  // in the order they were parked, each until its removeAt (a shorter policy.ttl is checked when one is read)
  #ids: string[] = [];
  #numbers: number[] = [];
  #removeAt: number[] = [];
  #head = 0;

  constructor(files: ResultFiles) {
    this.#files = files;
  }

  get size(): number {
    return this.#index.size;
  }

  /** Writes a record and its output's JSON to a new file; its number, or undefined once the folder is gone. */
  async write(record: ParkedRecord, outputText: string | undefined): Promise<number | undefined> {
    const meta = JSON.stringify(record);
    const length = String(Buffer.byteLength(meta)).padStart(LENGTH_DIGITS, "0");
    return this.#files.spillParts([length, meta, outputText ?? ""]);
  }

  /** Indexes file `n` as job `id`'s until `removeAt`. */
  add(id: string, n: number, removeAt: number): void {
    this.#index.set(id, n);
    this.#ids.push(id);
    this.#numbers.push(n);
    this.#removeAt.push(removeAt);
  }

  /** Removes a file that was written but not indexed. */
  discard(n: number): void {
    this.#files.remove({ path: this.#files.path(n), bytes: 0 });
  }

  /**
   * Job `id`'s record and where its output is in its file, read without taking it out: it stays parked, and the
   * file stays its. Undefined when not parked, expired by `now`, or unreadable (the file then goes).
   */
  read(id: string, now: number): { record: ParkedRecord; outputFile?: SpilledFile } | undefined {
    const n = this.#index.get(id);
    if (n === undefined) return undefined;
    const path = this.#files.path(n);
    let found: { record: ParkedRecord; offset: number; size: number };
    try {
      found = _readRecord(path);
    } catch {
      this.#drop(id, n);
      return undefined;
    }
    const { record, offset, size } = found;
    if (record.expiresAt <= now) {
      this.#drop(id, n);
      return undefined;
    }
    if (this.#streamDelivered.has(id)) record.streamText = undefined;
    return size === offset ? { record } : { record, outputFile: { path, bytes: size - offset, offset } };
  }

  /** A /stream call delivered job `id`'s unread progress chunks: later reads have none. */
  streamDelivered(id: string): void {
    if (this.#index.has(id)) this.#streamDelivered.add(id);
  }

  /** Forgets and removes those whose time is up. */
  sweep(now: number): void {
    while (this.#head < this.#ids.length && (this.#removeAt[this.#head] as number) <= now) {
      const id = this.#ids[this.#head] as string;
      const n = this.#numbers[this.#head] as number;
      this.#head++;
      // one found unreadable since is no longer indexed; its file went with it
      if (this.#index.get(id) !== n) continue;
      this.#drop(id, n);
    }
    if (this.#head >= COMPACT_AFTER && this.#head * 2 >= this.#ids.length) {
      this.#ids = this.#ids.slice(this.#head);
      this.#numbers = this.#numbers.slice(this.#head);
      this.#removeAt = this.#removeAt.slice(this.#head);
      this.#head = 0;
    }
  }

  #drop(id: string, n: number): void {
    this.#index.delete(id);
    this.#streamDelivered.delete(id);
    this.discard(n);
  }
}

// synchronous: a parked job is read from a route handler that needs its record now (a few hundred bytes)
function _readRecord(path: string): { record: ParkedRecord; offset: number; size: number } {
  const fd = openSync(path, "r");
  try {
    const head = Buffer.alloc(LENGTH_DIGITS);
    const length = Number(readSync(fd, head, 0, LENGTH_DIGITS, 0) === LENGTH_DIGITS ? head.toString("latin1") : NaN);
    if (!Number.isSafeInteger(length)) throw new Error(`${path} has no record length`);
    const meta = Buffer.alloc(length);
    if (readSync(fd, meta, 0, length, LENGTH_DIGITS) !== length) throw new Error(`${path} is cut short`);
    const record = JSON.parse(meta.toString("utf8")) as ParkedRecord;
    return { record, offset: LENGTH_DIGITS + length, size: fstatSync(fd).size };
  } finally {
    closeSync(fd);
  }
}
