import type { JobProgress } from "../jobs/progress.ts";
import { stderr } from "../lib/stdio.ts";

/** Live progress of one job on stderr, for local and remote `run` alike. */
export interface ProgressRenderer {
  /** The node running now and its step. */
  progress(progress: JobProgress): void;
  /** What the job is waiting for (e.g. "in queue 3 s", "cold start"); shown before the node, "" clears it. */
  phase(text: string): void;
  /** A line that stays (above the live line on a TTY). */
  note(text: string): void;
  /** Clears the live line and gives the stream back. */
  done(): void;
}

type Writable = Pick<NodeJS.WriteStream, "write"> & { isTTY?: boolean; columns?: number };
type Write = NodeJS.WriteStream["write"];

const BAR_WIDTH = 20;

/**
 * On a TTY: one line redrawn in place, with every other write to the same stream (log lines) printed above it,
 * never through it. Otherwise: one JSON line per event, for scripts and CI logs.
 */
export function createProgressRenderer(stream: Writable = stderr, tty = Boolean(stream.isTTY)): ProgressRenderer {
  return _announcingFinished(tty ? _ttyRenderer(stream) : _jsonRenderer(stream));
}

// a node that wrote files gets one line as soon as it finishes, before the job ends
function _announcingFinished(renderer: ProgressRenderer): ProgressRenderer {
  const announced = new Set<string>();
  return {
    ...renderer,
    progress: (progress) => {
      for (const node of progress.finished ?? []) {
        if (announced.has(node.node)) continue;
        announced.add(node.node);
        const files = node.files.map((file) => (file.subfolder ? `${file.subfolder}/${file.filename}` : file.filename));
        renderer.note(`${describeNode(node)} finished: ${files.join(", ")}`);
      }
      renderer.progress(progress);
    },
  };
}

function _ttyRenderer(stream: Writable): ProgressRenderer {
  const original = stream.write.bind(stream) as Write;
  let line = "";
  let phase = "";
  let last: JobProgress | undefined;
  const clear = () => {
    if (line) original("\r\x1b[2K");
  };
  const draw = () => {
    const text = [phase, last ? describeProgress(last) : ""].filter(Boolean).join(" · ");
    // a pseudo-terminal may report 0 columns
    line = _fit(text, stream.columns || 100);
    original(`\r\x1b[2K${line}`);
  };
  // log lines arrive through the same stream: wipe the live line, let them through, then redraw it below
  const intercept = ((chunk: unknown, ...rest: unknown[]) => {
    clear();
    const ok = (original as (...args: unknown[]) => boolean)(chunk, ...rest);
    if (line) draw();
    return ok;
  }) as Write;
  stream.write = intercept;
  return {
    progress: (progress) => {
      last = progress;
      draw();
    },
    phase: (text) => {
      phase = text;
      draw();
    },
    note: (text) => {
      clear();
      original(`${text}\n`);
      if (line) draw();
    },
    done: () => {
      clear();
      line = "";
      if (stream.write === intercept) stream.write = original;
    },
  };
}

/** `KSampler "Sampler" (node 3) [#####-----] 12/20 60%`; a node without steps shows only its name. */
export function describeProgress(progress: JobProgress): string {
  if (progress.node.startsWith("download:")) return `downloading ${progress.node.slice(9)} ${progress.percent}%`;
  const name = describeNode(progress);
  if (progress.max <= 0) return name;
  const filled = Math.round((Math.min(100, Math.max(0, progress.percent)) / 100) * BAR_WIDTH);
  const bar = `[${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}]`;
  return `${name} ${bar} ${progress.value}/${progress.max} ${progress.percent}%`;
}

/** `KSampler "Sampler" (node 3)`: class type, the title when it says more, and the id. */
export function describeNode(node: Pick<JobProgress, "node" | "class_type" | "title">): string {
  const title = node.title && node.title !== node.class_type ? ` "${node.title}"` : "";
  return `${node.class_type ?? "node"}${title} (node ${node.node})`;
}

function _jsonRenderer(stream: Writable): ProgressRenderer {
  const emit = (event: Record<string, unknown>) => stream.write(`${JSON.stringify(event)}\n`);
  return {
    progress: (progress) => emit({ event: "progress", ...progress }),
    phase: (text) => {
      if (text) emit({ event: "phase", phase: text });
    },
    note: (text) => emit({ event: "note", message: text }),
    done: () => {},
  };
}

function _fit(text: string, columns: number): string {
  const width = Math.max(20, columns - 1);
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}
