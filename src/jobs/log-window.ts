import { isWorkerError } from "../errors.ts";
import type { Redactor } from "../lib/redact.ts";
import { RingBuffer } from "../lib/ring-buffer.ts";
import { describeFailure, type JobFailure } from "./failure.ts";

/** The time span a failed job's `last_log_lines` come from, as ISO timestamps. */
export interface LogWindowSpan {
  from: string;
  to: string;
}

interface TimedLine {
  at: number;
  line: string;
}

/**
 * ComfyUI's output lines with the time each arrived, so a failed job reports only the lines from its own
 * run, never the previous job's or the start-up banner (ComfyUI's lines carry no prompt id to filter on).
 */
export class LogWindow {
  readonly #ring: RingBuffer<TimedLine>;
  readonly #now: () => number;

  constructor(capacity: number, now: () => number = Date.now) {
    this.#ring = new RingBuffer(Math.max(1, capacity));
    this.#now = now;
  }

  /** Records one line at the current time. */
  push(line: string): void {
    this.#ring.push({ at: this.#now(), line });
  }

  /** Follows a ComfyUI handle's output; returns the unsubscribe function. */
  follow(source: { onLine(listener: (line: string) => void): () => void }): () => void {
    return source.onLine((line) => this.push(line));
  }

  /** The newest `max` lines that arrived between `from` and `to` (epoch ms, inclusive), oldest first. */
  between(from: number, to: number, max: number): string[] {
    const lines = this.#ring
      .last()
      .filter((entry) => entry.at >= from && entry.at <= to)
      .map((entry) => entry.line);
    return max > 0 ? lines.slice(-max) : [];
  }

  /** The span a job ran in: from its start (or now, if it never started) to now, or to `endedAt` if earlier. */
  span(startedAt: number | undefined, endedAt?: number): { from: number; to: number; named: LogWindowSpan } {
    const to = Math.min(this.#now(), endedAt ?? Number.POSITIVE_INFINITY);
    const from = startedAt ?? to;
    return { from, to, named: { from: new Date(from).toISOString(), to: new Date(to).toISOString() } };
  }
}

/**
 * The job store's `fail`: each failure report carries only ComfyUI lines from the failed job's own run.
 * The window follows `source`'s output from now on.
 */
export function windowedFailures(
  source: { onLine(listener: (line: string) => void): () => void },
  capacity: number,
  redactor: Redactor,
  now: () => number = Date.now,
): (error: unknown, job: { startedAt?: number }) => JobFailure {
  const window = new LogWindow(capacity, now);
  window.follow(source);
  return (error, job) => {
    // a crash's window ends where its ComfyUI died: by the time the job is failed, a restarted one may have
    // printed its start-up banner, which belongs to no job and would push the traceback out of the last lines
    const { from, to, named } = window.span(job.startedAt, comfyExitedAt(error));
    return describeFailure(error, (max) => window.between(from, to, max), redactor, named);
  };
}

/** When the ComfyUI running a job died (epoch ms), as a crash failure's details carry it; else undefined. */
function comfyExitedAt(error: unknown): number | undefined {
  const at = isWorkerError(error) ? error.details.comfy_exited_at : undefined;
  return typeof at === "number" ? at : undefined;
}
