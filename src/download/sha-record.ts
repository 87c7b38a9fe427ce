import { rename, stat, writeFile } from "node:fs/promises";
import { type HashRecord, sidecarPath } from "../weights/hash.ts";

/**
 * Records the sha256 we computed while downloading in the weights checker's sidecar
 * (`<file>.sha256.json`, keyed by size and mtime), so `check --verify sha256` has a reference without
 * hashing the file again. Called after the rename: a rename keeps the mtime the record is keyed on.
 */
export async function recordSha256(path: string, sha256: string): Promise<HashRecord> {
  const info = await stat(path);
  const record: HashRecord = { version: 1, size: info.size, mtimeMs: info.mtimeMs, sha256 };
  const place = sidecarPath(path);
  const temp = `${place}.${process.pid}.tmp`;
  // write then rename, so a concurrent reader never sees half a record
  await writeFile(temp, `${JSON.stringify(record)}\n`);
  await rename(temp, place);
  return record;
}
