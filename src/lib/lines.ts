/** Options for {@link readLines}. */
export interface ReadLinesOptions {
  /** A longer run without a newline is emitted in pieces, so a runaway writer cannot grow memory. */
  maxLineChars?: number;
  /** Cancels the underlying reader (ends the iteration) when aborted. */
  signal?: AbortSignal;
}

const MAX_LINE_CHARS = 64 * 1024;

/**
 * Splits a byte stream into text lines: UTF-8 safe across chunk boundaries, `\n` and `\r\n` endings, a final
 * unterminated line included. A bare `\r` (tqdm progress bars) overwrites the line like a terminal does, so
 * only the last state of a progress bar comes out.
 */
export async function* readLines(
  stream: ReadableStream<Uint8Array>,
  options: ReadLinesOptions = {},
): AsyncGenerator<string, void, undefined> {
  const maxChars = options.maxLineChars ?? MAX_LINE_CHARS;
  const reader = stream.getReader();
  const cancel = () => void reader.cancel().catch(() => undefined);
  options.signal?.addEventListener("abort", cancel, { once: true });
  const decoder = new TextDecoder();
  let pending = "";
  try {
    if (options.signal?.aborted) return;
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      pending += decoder.decode(read.value, { stream: true });
      const lines = _takeLines(pending);
      pending = _compact(lines.rest, maxChars, lines.done);
      yield* lines.done;
    }
    pending += decoder.decode();
    if (pending.length > 0) yield _finishLine(pending);
  } finally {
    options.signal?.removeEventListener("abort", cancel);
    reader.releaseLock();
  }
}

function _takeLines(text: string): { done: string[]; rest: string } {
  const done: string[] = [];
  let start = 0;
  for (let end = text.indexOf("\n"); end !== -1; end = text.indexOf("\n", start)) {
    done.push(_finishLine(text.slice(start, end)));
    start = end + 1;
  }
  return { done, rest: text.slice(start) };
}

// keeps only what a terminal would still show of an unfinished line, and splits it when it grows too long
function _compact(rest: string, maxChars: number, out: string[]): string {
  // a trailing \r may be the first half of \r\n, so only \r followed by text overwrites
  const overwrite = rest.length < 2 ? -1 : rest.lastIndexOf("\r", rest.length - 2);
  let line = overwrite === -1 ? rest : rest.slice(overwrite + 1);
  while (line.length > maxChars) {
    out.push(line.slice(0, maxChars));
    line = line.slice(maxChars);
  }
  return line;
}

function _finishLine(raw: string): string {
  const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
  const segments = line.split("\r");
  // "text\r\r" style endings leave empty segments; show the last one that has text
  for (let i = segments.length - 1; i >= 0; i--) if (segments[i]) return segments[i] as string;
  return "";
}
