/**
 * A ModelSnapshot read from a running ComfyUI's `/models/{folder}` listings, for a worker attached to a
 * ComfyUI whose disk it cannot see. Paths of listed files are URLs of the listing (nothing to stat or hash);
 * the folders searched are the paths ComfyUI reports in `/experiment/models` (on its machine), never a URL.
 */
import type { ComfyClient } from "../comfy/client.ts";
import { canonicalFolder } from "./folders.ts";
import { FOLDER_UNION_SEPARATOR } from "./loaders.ts";
import type { ModelSnapshot } from "./model-index.ts";

/** Kept listings of an attached ComfyUI's model folders. */
export interface RemoteSnapshots {
  /** A snapshot for the given folder keys; `fresh` lists them again now instead of trusting a recent listing. */
  snapshot(lookups: readonly string[], options?: { fresh?: boolean }): Promise<ModelSnapshot>;
  /**
   * Lists `folders` (every folder ComfyUI has, from GET /models, when absent), so the first job finds each one
   * listed already.
   */
  list(folders?: readonly string[]): Promise<void>;
}

// a listing this young is used as it is; an older one is still used, but read again in the background
const REFRESH_AFTER_MS = 2_000;
// past this a listing is read again before it is used: files removed since are not trusted for long
const TRUST_FOR_MS = 30_000;
// folder keys that hold no weights: ComfyUI lists every file under custom_nodes (its extension filter is empty)
const NOT_MODEL_FOLDERS: ReadonlySet<string> = new Set(["custom_nodes"]);

interface Listing {
  names: Map<string, string>;
  at: number;
}

/**
 * Snapshots from listings kept between jobs, each folder key of `lookups` (unions split, legacy names mapped)
 * listed once, unknown keys listing nothing: a file found in a listing up to TRUST_FOR_MS old counts as there,
 * so a job of an attached worker waits for no listing (each job used to pay one request per folder). A file
 * not found is never concluded from a kept listing: the check asks again with `fresh` (job-check.ts).
 */
export function createRemoteSnapshots(client: ComfyClient, now = Date.now): RemoteSnapshots {
  const listings = new Map<string, Listing>();
  const reading = new Map<string, Promise<Listing>>();
  let paths: Promise<Record<string, string[]>> | undefined;
  let pathsAt = 0;

  const read = (key: string): Promise<Listing> => {
    const running = reading.get(key);
    if (running !== undefined) return running;
    // a 404 means ComfyUI has no such folder key (a custom node pack that is not installed)
    const listing = client
      .models(key)
      .catch(() => [] as string[])
      .then((names) => {
        const entry = { names: new Map(names.map((name) => [name, `${client.url}/models/${key}/${name}`])), at: now() };
        listings.set(key, entry);
        return entry;
      })
      .finally(() => reading.delete(key));
    reading.set(key, listing);
    return listing;
  };
  const listed = (key: string, fresh: boolean): Listing | Promise<Listing> => {
    const kept = listings.get(key);
    const age = kept ? now() - kept.at : Number.POSITIVE_INFINITY;
    if (!kept || fresh || age > TRUST_FOR_MS) return read(key);
    if (age > REFRESH_AFTER_MS) void read(key);
    return kept;
  };
  // older builds (and fakes) lack /experiment/models: then the folder is named, not its paths
  const folderPaths = (fresh: boolean) => {
    if (!paths || fresh || now() - pathsAt > REFRESH_AFTER_MS) {
      pathsAt = now();
      const next = Promise.resolve()
        .then(() => client.modelFolders())
        .catch(() => ({}) as Record<string, string[]>);
      // the previous answer serves until the new one is in, unless there is none yet
      const kept = paths;
      paths = next;
      if (kept && !fresh) return kept;
    }
    return paths;
  };

  return {
    async snapshot(lookups, options = {}) {
      const fresh = options.fresh ?? false;
      const keys = _folderKeys(lookups);
      const pathsNow = folderPaths(fresh);
      const entries = await Promise.all(keys.map(async (key) => [key, await listed(key, fresh)] as const));
      return _snapshot(new Map(entries.map(([key, listing]) => [key, listing.names])), await pathsNow);
    },
    async list(folders) {
      const keys = folders
        ? _folderKeys(folders)
        : (await client.models().catch(() => [] as string[])).filter((key) => !NOT_MODEL_FOLDERS.has(key));
      await Promise.all([folderPaths(true), ...keys.map(read)]);
    },
  };
}

// the folder keys ComfyUI lists for lookups: unions split, legacy names mapped
function _parts(folder: string): string[] {
  return folder.split(FOLDER_UNION_SEPARATOR).map(canonicalFolder);
}

function _folderKeys(lookups: readonly string[]): string[] {
  return [...new Set(lookups.flatMap(_parts))];
}

function _snapshot(lists: Map<string, Map<string, string>>, paths: Record<string, string[]>): ModelSnapshot {
  const files = (folder: string) => {
    const out = new Map<string, string>();
    for (const part of _parts(folder))
      for (const [name, url] of lists.get(part) ?? []) if (!out.has(name)) out.set(name, url);
    return out;
  };
  return {
    list: (folder) => [...files(folder).keys()].sort(),
    find: (folder, name) => files(folder).get(name),
    files,
    searched: (folder) =>
      _parts(folder).flatMap((part) => (paths[part]?.length ? paths[part] : [remoteFolderLabel(part)])),
    folders: () => [...lists.keys()],
  };
}

/** How a folder of an attached ComfyUI is named when it does not report its paths. */
export function remoteFolderLabel(folder: string): string {
  return `ComfyUI's ${folder} folder (a ${folder} path of its models/ folder or extra_model_paths.yaml)`;
}
