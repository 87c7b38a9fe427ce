/**
 * The CLI's stdout and stderr, written through Bun's own file sinks instead of Node's stream objects. The first
 * touch of `process.stdout` or `process.stderr` (even `.isTTY`) builds a Node stream and loads Bun's Node stream
 * modules: a hello-world binary starts in about 7 ms, one that reads `process.stdout.isTTY` in about 16. In our
 * binary much of that was shared with node:net and zlib loading at start; with those lazy (lazy-modules.ts) it is
 * about 1 ms of `--version`. Each write is handed to the sink at once, in order; `flushStdio` waits for what a full
 * pipe still holds before the process exits. Long-running `serve` keeps logging through `process.stdout`.
 */
import { fstatSync, statSync } from "node:fs";
import type { FileSink } from "bun";

/** What the CLI needs of an output stream; `write` may be replaced (the progress bar intercepts it). */
export interface StdStream {
  write(text: string): boolean;
  /** A terminal: colours, progress bars and prompts; otherwise JSON lines and plain text. */
  readonly isTTY: boolean;
  /** The terminal's width (asked only on a terminal; 0 when unknown). */
  readonly columns: number;
}

class StdSink implements StdStream {
  readonly #fd: 1 | 2;
  #sink: FileSink | undefined;
  #tty: boolean | undefined;

  constructor(fd: 1 | 2) {
    this.#fd = fd;
  }

  write(text: string): boolean {
    try {
      this.#sink ??= (this.#fd === 1 ? Bun.stdout : Bun.stderr).writer();
      this.#sink.write(text);
      // written now, not when the sink's buffer fills: progress lines are read live
      const flushed = this.#sink.flush();
      if (flushed instanceof Promise) flushed.catch(() => {});
      return true;
    } catch {
      // the reader went away (`| head`): what it would not read is dropped, as for process.stdout
      return false;
    }
  }

  get isTTY(): boolean {
    this.#tty ??= _isTerminal(this.#fd);
    return this.#tty;
  }

  get columns(): number {
    return (this.#fd === 1 ? process.stdout : process.stderr).columns ?? 0;
  }

  async flush(): Promise<void> {
    await this.#sink?.flush();
  }
}

export const stdout = new StdSink(1);
export const stderr = new StdSink(2);

/** Waits until everything written has left the process (before it exits). */
export async function flushStdio(): Promise<void> {
  await Promise.all([stdout.flush(), stderr.flush()]).catch(() => {});
}

// a terminal is a character device; so is /dev/null (where "ignore" sends output), which is no terminal. Other
// character devices (/dev/zero) would count as one: harmless, nobody reads them. `node:tty`'s isatty would cost
// about 2.6 ms of start-up to load.
function _isTerminal(fd: 1 | 2): boolean {
  try {
    const stat = fstatSync(fd);
    return stat.isCharacterDevice() && stat.rdev !== statSync("/dev/null").rdev;
  } catch {
    return false;
  }
}
