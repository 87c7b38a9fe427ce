/**
 * A ModelSnapshot read from a running ComfyUI's `/models/{folder}` listings, for a worker attached to a
 * ComfyUI whose disk it cannot see. Paths are URLs of the listing; there is nothing to stat or hash.
 */
import type { ComfyClient } from "../comfy/client.ts";
import { canonicalFolder } from "./folders.ts";
import { FOLDER_UNION_SEPARATOR } from "./loaders.ts";
import type { ModelSnapshot } from "./model-index.ts";

/** Lists each folder key in `lookups` (unions split, legacy names mapped) once; unknown keys list nothing. */
export async function createRemoteSnapshot(client: ComfyClient, lookups: readonly string[]): Promise<ModelSnapshot> {
  const keys = [...new Set(lookups.flatMap((lookup) => lookup.split(FOLDER_UNION_SEPARATOR).map(canonicalFolder)))];
  const lists = new Map<string, Map<string, string>>();
  await Promise.all(
    keys.map(async (key) => {
      // a 404 means ComfyUI has no such folder key (a custom node pack that is not installed)
      const names = await client.models(key).catch(() => [] as string[]);
      lists.set(key, new Map(names.map((name) => [name, `${client.url}/models/${key}/${name}`])));
    }),
  );
  const parts = (folder: string) => folder.split(FOLDER_UNION_SEPARATOR).map(canonicalFolder);
  const files = (folder: string) => {
    const out = new Map<string, string>();
    for (const part of parts(folder))
      for (const [name, url] of lists.get(part) ?? []) if (!out.has(name)) out.set(name, url);
    return out;
  };
  return {
    list: (folder) => [...files(folder).keys()].sort(),
    find: (folder, name) => files(folder).get(name),
    files,
    searched: (folder) => parts(folder).map((part) => `${client.url}/models/${part}`),
    folders: () => [...lists.keys()],
  };
}
