import { withRetry } from "../download/retry.ts";
import { hashFile } from "../weights/hash.ts";
import { type LocalFile, type PathFilter, wanted } from "./local.ts";
import type { S3Client } from "./s3/client.ts";
import { headObject, type ListedObject } from "./s3/ops.ts";

/** What sync will do about one file. */
export type SyncAction = "new" | "changed" | "unchanged" | "delete";

/** One line of the plan. */
export interface PlannedFile {
  /** Path relative to the models folder (and to the prefix). */
  rel: string;
  key: string;
  action: SyncAction;
  size: number;
  /** Local file (absent for a remote file to delete). */
  path?: string;
  /** The local file's sha256, once known (always for unchanged files). */
  sha256?: string;
  /** Why a same-size remote file counts as changed. */
  why?: string;
}

/** How planning reads hashes. */
export interface PlanOptions {
  delete: boolean;
  filter: PathFilter;
  /** Where sha256 records go when the models folder is read-only. */
  hashCacheDir: string;
  signal?: AbortSignal;
}

/** `models/` style prefix: no leading slash, one trailing slash (or empty for the volume's root). */
export function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+/, "").replace(/\/+$/, "");
  return trimmed ? `${trimmed}/` : "";
}

/**
 * Compares the local files with the remote listing under `prefix`: absent remotely → new; other size → changed;
 * same size → unchanged only when the object's sha256 metadata equals the local sha256 (read from the sidecar
 * `check --verify sha256` keeps, computed once when missing). With `delete`, wanted remote files that are not
 * local are listed for deletion (hidden folders such as the workers' inventory and RunPod's staging never are).
 */
export async function planSync(
  s3: S3Client,
  prefix: string,
  local: LocalFile[],
  remote: ListedObject[],
  options: PlanOptions,
): Promise<PlannedFile[]> {
  const remoteByKey = new Map(remote.map((object) => [object.key, object]));
  const plan: PlannedFile[] = [];
  for (const file of local) {
    options.signal?.throwIfAborted();
    const key = prefix + file.rel;
    const there = remoteByKey.get(key);
    const base = { rel: file.rel, key, size: file.size, path: file.path };
    if (!there) plan.push({ ...base, action: "new" });
    else if (there.size !== file.size) plan.push({ ...base, action: "changed", why: `remote size ${there.size}` });
    else plan.push(await _compareHashes(s3, base, options));
  }
  if (options.delete) {
    const localKeys = new Set(local.map((file) => prefix + file.rel));
    for (const object of remote) {
      const rel = object.key.slice(prefix.length);
      if (!object.key.startsWith(prefix) || localKeys.has(object.key) || !wanted(rel, options.filter)) continue;
      plan.push({ rel, key: object.key, action: "delete", size: object.size });
    }
  }
  return plan;
}

async function _compareHashes(
  s3: S3Client,
  base: Omit<PlannedFile, "action">,
  options: PlanOptions,
): Promise<PlannedFile> {
  const head = await withRetry(`HEAD ${s3.label(base.key)}`, () => headObject(s3, base.key, options.signal), {
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const { sha256 } = await hashFile(base.path as string, { cacheDir: options.hashCacheDir, signal: options.signal });
  if (head?.sha256 === sha256) return { ...base, sha256, action: "unchanged" };
  return {
    ...base,
    sha256,
    action: "changed",
    why: head?.sha256 ? "different sha256" : "no sha256 metadata on the remote copy",
  };
}
