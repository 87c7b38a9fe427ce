import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { basename, extname, join } from "node:path";
import type { JobPreview } from "../jobs/previews.ts";
import { stderr } from "../lib/stdio.ts";
import { PreviewThrottle } from "../previews/throttle.ts";
import { InlinePreview, type TerminalStream } from "./_preview-inline.ts";
import type { ProgressRenderer } from "./_progress.ts";
import { imageProtocol } from "./_term-image.ts";

/** A progress view that also shows live previews. */
export interface PreviewView extends ProgressRenderer {
  /** The newest preview of the job: saved as the live preview file and shown. */
  preview(preview: JobPreview): void;
  /** Resolves once the preview being saved now is on disk. */
  settled(): Promise<void>;
  /** The live preview file, once one was written. */
  readonly path: string | undefined;
}

export interface PreviewViewOptions {
  outDir: string;
  /** The workflow file: the preview file is named after it. */
  workflowPath: string;
  /** Where the progress view writes (stderr). */
  stream?: TerminalStream;
  tty?: boolean;
  /** The environment the terminal is known by (TERM, KITTY_WINDOW_ID, TERM_PROGRAM, COMFY_WORKER_SIXEL). */
  env: Readonly<Record<string, string | undefined>>;
}

// a terminal redraw costs more than a progress line: the newest preview at most this often
const MAX_DRAWS_PER_S = 4;
const JSON_EVENT_MS = 1000;

/**
 * Adds live previews to a progress view: each one replaces `<out>/<workflow>.preview.<jpg|png>` (a live
 * view, written to a temp file and renamed over, never an output); on a terminal that shows images it is
 * drawn above the progress line, on any other terminal its path is printed (again only when it changes),
 * and off a terminal a `{"event":"preview"}` line says where it is, at most once a second.
 */
export function withPreviews(view: ProgressRenderer, options: PreviewViewOptions): PreviewView {
  const stream = options.stream ?? stderr;
  const tty = options.tty ?? Boolean(stream.isTTY);
  const protocol = imageProtocol(options.env, tty);
  const inline = protocol ? new InlinePreview(stream, protocol) : undefined;
  const draws = inline && new PreviewThrottle<JobPreview>(MAX_DRAWS_PER_S, (p) => inline.draw(p));
  const stem = basename(options.workflowPath, extname(options.workflowPath));
  let shown: string | undefined;
  let lastEventAt = Number.NEGATIVE_INFINITY;
  let failed = false;
  let written: string | undefined;
  const announce = (path: string, preview: JobPreview) => {
    if (!tty) {
      if (path === shown && performance.now() - lastEventAt < JSON_EVENT_MS) return;
      lastEventAt = performance.now();
      stream.write(`${JSON.stringify({ event: "preview", path, ...(preview.node ? { node: preview.node } : {}) })}\n`);
    } else if (path !== shown && !inline) note(`live preview: ${path}`);
    shown = path;
  };
  const note = (text: string) => {
    inline?.moved();
    view.note(text);
  };
  const files = new LatestOnly<JobPreview>(async (preview) => {
    const path = join(options.outDir, `${stem}.preview.${preview.mime === "image/png" ? "png" : "jpg"}`);
    try {
      await replaceFile(path, Buffer.from(preview.data, "base64"));
      written = path;
      announce(path, preview);
    } catch (error) {
      if (!failed) note(`could not write the live preview ${path}: ${(error as Error).message}`);
      failed = true;
    }
  });
  const announced = new Set<string>();
  return {
    get path() {
      return written;
    },
    progress: (progress) => {
      // a node that finished with files gets a line of its own above the live line: the image box moves up
      for (const node of progress.finished ?? []) {
        if (!announced.has(node.node)) inline?.moved();
        announced.add(node.node);
      }
      view.progress(progress);
    },
    phase: (text) => view.phase(text),
    note,
    preview: (preview) => {
      files.push(preview);
      draws?.push(preview);
    },
    settled: () => files.settled(),
    done: () => {
      draws?.close();
      files.close();
      inline?.done();
      view.done();
    },
  };
}

/** Writes `path` whole or not at all: a reader never sees a half-written preview. */
export async function replaceFile(path: string, bytes: Uint8Array): Promise<void> {
  await mkdir(join(path, ".."), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(temp, bytes);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** Runs `handle` on one item at a time; items that arrive meanwhile replace each other (the newest wins). */
class LatestOnly<T> {
  readonly #handle: (item: T) => Promise<void>;
  #next: T | undefined;
  #running: Promise<void> | undefined;
  #closed = false;

  constructor(handle: (item: T) => Promise<void>) {
    this.#handle = handle;
  }

  push(item: T): void {
    if (this.#closed) return;
    this.#next = item;
    this.#running ??= this.#drain();
  }

  settled(): Promise<void> {
    return this.#running ?? Promise.resolve();
  }

  close(): void {
    this.#closed = true;
    this.#next = undefined;
  }

  async #drain(): Promise<void> {
    for (let item = this.#next; item !== undefined; item = this.#next) {
      this.#next = undefined;
      await this.#handle(item);
    }
    this.#running = undefined;
  }
}
