import { open } from "node:fs/promises";

/** A file to bring into the page cache, in the order it will be needed. */
export interface PrefetchFile {
  path: string;
  size: number;
  /** `folder/name`, for reports. */
  label: string;
}

export interface ReadOptions {
  /** Parallel readers: network volumes give more throughput to parallel reads than to one stream. */
  readers?: number;
  /** Bytes per read call; large reads keep syscall cost far below the transfer. */
  chunkBytes?: number;
  /** Files are split into ranges of this size so that one big file is read by every reader. */
  rangeBytes?: number;
  signal?: AbortSignal;
  /** Bytes read so far, after every chunk. */
  onBytes?: (bytes: number) => void;
}

export interface ReadResult {
  bytes: number;
  /** Labels of files read to the end. */
  files: string[];
  stopped: boolean;
}

const READERS = 4;
const CHUNK_BYTES = 8 * 1024 * 1024;
const RANGE_BYTES = 64 * 1024 * 1024;

type Range = { file: PrefetchFile; index: number; start: number; end: number };

/**
 * Reads every byte of `files` once and throws it away: the point is the page cache, so a later open by
 * ComfyUI reads memory instead of the volume. Each reader reuses one buffer, so memory stays at
 * readers × chunkBytes whatever the file sizes. Stops between chunks when `signal` aborts; a file that
 * cannot be read is skipped (prefetch is an optimisation, never a failure).
 */
export async function readIntoCache(files: readonly PrefetchFile[], options: ReadOptions = {}): Promise<ReadResult> {
  const chunkBytes = options.chunkBytes ?? CHUNK_BYTES;
  const ranges = _ranges(files, options.rangeBytes ?? RANGE_BYTES);
  const remaining = new Map(files.map((file) => [file, ranges.filter((range) => range.file === file).length]));
  const done: string[] = [];
  let next = 0;
  let bytes = 0;
  const reader = async () => {
    const buffer = Buffer.allocUnsafe(chunkBytes);
    for (let range = ranges[next++]; range; range = ranges[next++]) {
      if (options.signal?.aborted) return;
      const complete = await _readRange(range, buffer, options.signal, (n) => {
        bytes += n;
        options.onBytes?.(bytes);
      });
      const left = (remaining.get(range.file) ?? 1) - 1;
      remaining.set(range.file, left);
      if (complete && left === 0) done.push(range.file.label);
    }
  };
  const count = Math.max(1, Math.min(options.readers ?? READERS, ranges.length));
  await Promise.all(Array.from({ length: count }, reader));
  return { bytes, files: done, stopped: options.signal?.aborted === true };
}

function _ranges(files: readonly PrefetchFile[], rangeBytes: number): Range[] {
  return files.flatMap((file) => {
    const count = Math.max(1, Math.ceil(file.size / rangeBytes));
    return Array.from({ length: count }, (_, index) => ({
      file,
      index,
      start: index * rangeBytes,
      end: Math.min(file.size, (index + 1) * rangeBytes),
    }));
  });
}

async function _readRange(
  range: Range,
  buffer: Buffer,
  signal: AbortSignal | undefined,
  onRead: (bytes: number) => void,
): Promise<boolean> {
  const handle = await open(range.file.path, "r").catch(() => undefined);
  if (!handle) return false;
  try {
    for (let position = range.start; position < range.end; ) {
      if (signal?.aborted) return false;
      const length = Math.min(buffer.length, range.end - position);
      const { bytesRead } = await handle.read(buffer, 0, length, position);
      if (bytesRead === 0) return true;
      position += bytesRead;
      onRead(bytesRead);
    }
    return true;
  } catch {
    return false;
  } finally {
    await handle.close().catch(() => {});
  }
}
