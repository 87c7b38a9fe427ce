import { createDownloadQueue } from "../download/queue.ts";
import { withRetry } from "../download/retry.ts";
import { WorkerError } from "../errors.ts";
import { hashFile } from "../weights/hash.ts";
import { type LocalFile, type PathFilter, wanted } from "./local.ts";
import type { S3Client } from "./s3/client.ts";
import { headObject, type ListedObject } from "./s3/ops.ts";

const HEADS_IN_FLIGHT = 8;

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
  /** Local folders that could not be listed: nothing under them is deleted. */
  unreadable?: readonly string[];
  signal?: AbortSignal;
}

/**
 * `models/` style prefix: no leading slash, one trailing slash (or empty for the volume's root). A `.` or `..`
 * segment is refused: an HTTP client resolves it in the request path, and `../vol2/` would write to another volume.
 */
export function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+/, "").replace(/\/+$/, "");
  const parts = trimmed.split("/");
  const oddPart = trimmed !== "" && parts.some((part) => part === "" || part === "." || part === "..");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we refuse
  if (oddPart || /[\\\u0000-\u001f]/.test(trimmed)) {
    throw new WorkerError(
      "E_USAGE",
      `--prefix ${JSON.stringify(prefix)} must be a plain key prefix on the volume (no empty, "." or ".." parts, no backslash), e.g. models/`,
    );
  }
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
  const same: Omit<PlannedFile, "action">[] = [];
  for (const file of local) {
    const key = prefix + file.rel;
    const there = remoteByKey.get(key);
    const base = { rel: file.rel, key, size: file.size, path: file.path };
    if (!there) plan.push({ ...base, action: "new" });
    else if (there.size !== file.size) plan.push({ ...base, action: "changed", why: `remote size ${there.size}` });
    else same.push(base);
  }
  // a HEAD each: several at once, since a volume's S3 API answers slowly and a no-op sync is mostly these
  const queue = createDownloadQueue(HEADS_IN_FLIGHT);
  plan.push(...(await Promise.all(same.map((base) => queue.add(() => _compareHashes(s3, base, options))))));
  if (options.delete) {
    const localKeys = new Set(local.map((file) => prefix + file.rel));
    // a folder that could not be listed may hold any of the remote files under it
    const unlisted = options.unreadable ?? [];
    for (const object of remote) {
      const rel = object.key.slice(prefix.length);
      if (!object.key.startsWith(prefix) || localKeys.has(object.key) || !wanted(rel, options.filter)) continue;
      if (unlisted.some((entry) => rel === entry || rel.startsWith(`${entry}/`))) continue;
      plan.push({ rel, key: object.key, action: "delete", size: object.size });
    }
  }
  return plan.sort((a, b) => (a.rel < b.rel ? -1 : 1));
}

async function _compareHashes(
  s3: S3Client,
  base: Omit<PlannedFile, "action">,
  options: PlanOptions,
): Promise<PlannedFile> {
  const head = await withRetry(`HEAD ${s3.label(base.key)}`, () => headObject(s3, base.key, options.signal), {
    ...(options.signal ? { signal: options.signal } : {}),
  });
  options.signal?.throwIfAborted();
  let sha256: string;
  try {
    ({ sha256 } = await hashFile(base.path as string, { cacheDir: options.hashCacheDir, signal: options.signal }));
  } catch (error) {
    if (options.signal?.aborted) throw error;
    // its upload will fail with the reason, and the other files go on
    return { ...base, action: "changed", why: `cannot be read (${(error as NodeJS.ErrnoException).code ?? error})` };
  }
  if (head?.sha256 === sha256) return { ...base, sha256, action: "unchanged" };
  return {
    ...base,
    sha256,
    action: "changed",
    why: head?.sha256 ? "different sha256" : "no sha256 metadata on the remote copy",
  };
}
