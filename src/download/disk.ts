import { statfs } from "node:fs/promises";
import { WorkerError } from "../errors.ts";
import { formatBytes } from "../lib/bytes.ts";

// room left for everything else on the volume (logs, outputs, the state file) after a download
export const FREE_SPACE_MARGIN_BYTES = 64 * 1024 * 1024;

/** Free bytes available to this user on the volume holding `dir` (injectable for tests). */
export type FreeSpaceFn = (dir: string) => Promise<number>;

/** `statfs` from node:fs: blocks available to unprivileged users × block size. */
export const freeSpace: FreeSpaceFn = async (dir) => {
  const info = await statfs(dir);
  return info.bavail * info.bsize;
};

/** Throws E_DOWNLOAD, before any byte is fetched, when `dir`'s volume cannot take `needed` more bytes. */
export async function ensureFreeSpace(dir: string, needed: number, free: FreeSpaceFn = freeSpace): Promise<void> {
  if (needed <= 0) return;
  const available = await free(dir);
  if (available >= needed + FREE_SPACE_MARGIN_BYTES) return;
  throw new WorkerError(
    "E_DOWNLOAD",
    `not enough disk space in ${dir}: the download needs ${formatBytes(needed)} plus ${formatBytes(FREE_SPACE_MARGIN_BYTES)} kept free for everything else, but only ${formatBytes(available)} is free; free some space or download to another volume`,
    { details: { dir, needed, margin: FREE_SPACE_MARGIN_BYTES, available } },
  );
}
