/**
 * Streaming sha256 of weight files, cached in a sidecar `<file>.sha256.json` keyed by size and mtime.
 *
 * Why a sidecar next to the file rather than a cache directory: weights usually live on a network volume
 * shared by many short-lived workers, so a sidecar written once is reused by every worker and survives
 * container restarts, and it moves or disappears together with its file. Model folders list only model
 * extensions, so ComfyUI never shows the `.json`. When the folder is read-only the entry goes to
 * `cacheDir` instead (keyed by the file's path), which is then per machine.
 */
import { mkdir, rename, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { z } from "zod";

/** What a sidecar holds; a stale one (other size or mtime) is ignored and rewritten. */
export const HashRecord = z.object({
  version: z.literal(1),
  size: z.number().int().min(0),
  mtimeMs: z.number(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type HashRecord = z.infer<typeof HashRecord>;

export interface HashOptions {
  /** Where records go when the sidecar can't be written next to the file. */
  cacheDir?: string;
  signal?: AbortSignal;
}

/** A digest and whether it came from a valid cached record (true) or from reading the file (false). */
export interface HashResult {
  sha256: string;
  cached: boolean;
}

/** The sidecar path for a weight file. */
export function sidecarPath(path: string): string {
  return `${path}.sha256.json`;
}

/** sha256 of `path` (lower-case hex), reusing a record whose size and mtime still match. */
export async function hashFile(path: string, options: HashOptions = {}): Promise<HashResult> {
  const before = await stat(path);
  const places = [sidecarPath(path), ...(options.cacheDir ? [_cachePath(options.cacheDir, path)] : [])];
  for (const place of places) {
    const record = await _readRecord(place);
    if (record && record.size === before.size && record.mtimeMs === before.mtimeMs) {
      return { sha256: record.sha256, cached: true };
    }
  }
  const sha256 = await sha256File(path, options.signal);
  const after = await stat(path);
  // a file that changed while we read it gets no record: the digest matches neither version
  if (after.size === before.size && after.mtimeMs === before.mtimeMs) {
    await _writeRecord(places, { version: 1, size: after.size, mtimeMs: after.mtimeMs, sha256 });
  }
  return { sha256, cached: false };
}

/** Streams the file through Bun.CryptoHasher; never holds more than one chunk in memory. */
export async function sha256File(path: string, signal?: AbortSignal): Promise<string> {
  const hasher = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) {
    signal?.throwIfAborted();
    hasher.update(chunk);
  }
  return hasher.digest("hex");
}

async function _readRecord(place: string): Promise<HashRecord | undefined> {
  try {
    const parsed = HashRecord.safeParse(await Bun.file(place).json());
    return parsed.success ? parsed.data : undefined;
  } catch {
    // absent or unreadable: treated as no record
    return undefined;
  }
}

async function _writeRecord(places: string[], record: HashRecord): Promise<void> {
  for (const place of places) {
    try {
      await mkdir(dirname(place), { recursive: true });
      // write then rename, so a concurrent reader never sees half a record
      const temp = `${place}.${process.pid}.tmp`;
      await Bun.write(temp, `${JSON.stringify(record)}\n`);
      await rename(temp, place);
      return;
    } catch {
      // read-only folder: try the next place; with none left the hash is simply not cached
    }
  }
}

function _cachePath(cacheDir: string, path: string): string {
  return join(cacheDir, `${new Bun.CryptoHasher("sha1").update(path).digest("hex")}.sha256.json`);
}
