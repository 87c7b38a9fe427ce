/** Smallest and largest byte span one ranged request fetches. */
export const MIN_SEGMENT_BYTES = 1024 * 1024;
// small enough that the in-order hasher trails the transfer by little (≤ connections × this)
export const MAX_SEGMENT_BYTES = 16 * 1024 * 1024;

/** A slice `[start, end)` of the file, of which `written` bytes from `start` are on disk. */
export interface Segment {
  start: number;
  end: number;
  written: number;
  /** A connection is working on it (runtime only, never saved). */
  claimed?: boolean;
}

/** The segment size for a new download: the file split across connections, clamped to sane request sizes. */
export function segmentBytesFor(size: number, connections: number): number {
  const even = Math.ceil(size / Math.max(1, connections));
  return Math.min(MAX_SEGMENT_BYTES, Math.max(MIN_SEGMENT_BYTES, even));
}

/** Splits `[0, size)` into segments of `segmentBytes`, with progress from a saved state when given. */
export function planSegments(size: number, segmentBytes: number, written: readonly number[] = []): Segment[] {
  const segments: Segment[] = [];
  for (let start = 0, index = 0; start < size; start += segmentBytes, index++) {
    const end = Math.min(size, start + segmentBytes);
    segments.push({ start, end, written: Math.min(written[index] ?? 0, end - start) });
  }
  return segments;
}

/** True when a segment has all its bytes. */
export function isComplete(segment: Segment): boolean {
  return segment.start + segment.written >= segment.end;
}

/**
 * Tracks the end of the contiguous written prefix of the file (what the in-order hasher may read).
 * Segments are sorted by start, so the prefix only ever grows: amortised O(1) per call.
 */
export function createFrontier(segments: readonly Segment[]): () => number {
  let index = 0;
  return () => {
    while (index < segments.length && isComplete(segments[index] as Segment)) index++;
    const current = segments[index];
    return current ? current.start + current.written : (segments.at(-1)?.end ?? 0);
  };
}
