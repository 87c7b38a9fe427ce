import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A JSON value moved out of the heap into a file of the worker's own temp folder. */
export interface SpilledFile {
  path: string;
  bytes: number;
  /** Where the value starts in the file (a parked result's file holds its record first). */
  offset?: number;
}

// below this, a result stays in memory: a file per small result would cost more than it saves
const DEFAULT_MIN_BYTES = 16 * 1024;
const DIR_PREFIX = "comfy-worker-results-";

/**
 * Where finished jobs' large outputs (and failed jobs' inputs, kept for /retry) wait to be fetched: a temp
 * folder the worker owns, named with its pid. Files go when their job expires, the folder when the store
 * drains or the process exits; folders left by a worker that was killed are removed by the next one.
 */
export class ResultFiles {
  readonly dir: string;
  readonly minBytes: number;
  #count = 0;
  #closed = false;
  readonly #onExit = () => this.close();

  constructor(options: { parent?: string; minBytes?: number } = {}) {
    const parent = options.parent ?? tmpdir();
    _removeStale(parent);
    this.dir = mkdtempSync(join(parent, `${DIR_PREFIX}${process.pid}-`));
    this.minBytes = options.minBytes ?? DEFAULT_MIN_BYTES;
    process.once("exit", this.#onExit);
  }

  /** Writes `value` as JSON when it is at least `minBytes` long; undefined (kept in memory) otherwise. */
  async spill(value: unknown): Promise<SpilledFile | undefined> {
    return this.spillJson(JSON.stringify(value));
  }

  /**
   * `spill` of a value already serialized (`text` is its JSON): a large output is never serialized twice.
   * `always`: written whatever its size (the in-memory budget for small ones is used up).
   */
  async spillJson(text: string | undefined, options: { always?: boolean } = {}): Promise<SpilledFile | undefined> {
    if (text === undefined || this.#closed) return undefined;
    if (text.length < this.minBytes && !options.always) return undefined;
    const path = this.path(++this.#count);
    const bytes = await Bun.write(path, text);
    return { path, bytes };
  }

  /** Writes `parts` one after another to a new file; its number (`path(n)`), or undefined once closed. */
  async spillParts(parts: string[]): Promise<number | undefined> {
    if (this.#closed) return undefined;
    const n = ++this.#count;
    await Bun.write(this.path(n), new Blob(parts));
    return n;
  }

  /** The path of file number `n`. */
  path(n: number): string {
    return join(this.dir, `${n}.json`);
  }

  /** Parses a spilled value back. */
  async read(file: SpilledFile): Promise<unknown> {
    return _contents(file).json();
  }

  /** `head` (a JSON object's text) with `"key": <file's JSON>` appended, streamed without loading the file. */
  objectWith(head: string, key: string, file: SpilledFile): ReadableStream<Uint8Array> {
    const encoder = new TextEncoder();
    const open = `${head.slice(0, -1)}${head.length > 2 ? "," : ""}${JSON.stringify(key)}:`;
    let chunks: AsyncIterator<Uint8Array> | undefined;
    return new ReadableStream<Uint8Array>({
      start: (controller) => controller.enqueue(encoder.encode(open)),
      pull: async (controller) => {
        chunks ??= (_contents(file).stream() as ReadableStream<Uint8Array>)[Symbol.asyncIterator]();
        const { done, value } = await chunks.next();
        if (!done) return controller.enqueue(value);
        controller.enqueue(encoder.encode("}"));
        controller.close();
      },
      cancel: async () => {
        await chunks?.return?.();
      },
    });
  }

  /** Deletes one file; a file already gone is fine. */
  remove(file: SpilledFile): void {
    void rm(file.path, { force: true }).catch(() => {});
  }

  /** Deletes the whole folder (drain, exit). */
  close(): void {
    this.#closed = true;
    process.removeListener("exit", this.#onExit);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function _contents(file: SpilledFile): Blob {
  return file.offset ? Bun.file(file.path).slice(file.offset) : Bun.file(file.path);
}

// a worker killed with SIGKILL cannot clean up; its folder names a pid that is no longer alive
function _removeStale(parent: string): void {
  let names: string[];
  try {
    names = readdirSync(parent).filter((name) => name.startsWith(DIR_PREFIX));
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(name.slice(DIR_PREFIX.length).split("-")[0]);
    if (!Number.isInteger(pid) || pid === process.pid || _alive(pid)) continue;
    rmSync(join(parent, name), { recursive: true, force: true });
  }
}

function _alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
