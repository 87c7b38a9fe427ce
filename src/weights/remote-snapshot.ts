/**
 * A ModelSnapshot read from a running ComfyUI's `/models/{folder}` listings, for a worker attached to a
 * ComfyUI whose disk it cannot see. Paths of listed files are URLs of the listing (nothing to stat or hash);
 * the folders searched are the paths ComfyUI reports in `/experiment/models` (on its machine), never a URL.
 */
import type { ComfyClient } from "../comfy/client.ts";
import { canonicalFolder } from "./folders.ts";
import { FOLDER_UNION_SEPARATOR } from "./loaders.ts";
import type { ModelSnapshot } from "./model-index.ts";

/** Lists each folder key in `lookups` (unions split, legacy names mapped) once; unknown keys list nothing. */
export async function createRemoteSnapshot(client: ComfyClient, lookups: readonly string[]): Promise<ModelSnapshot> {
  const keys = [...new Set(lookups.flatMap((lookup) => lookup.split(FOLDER_UNION_SEPARATOR).map(canonicalFolder)))];
  const lists = new Map<string, Map<string, string>>();
  // older builds (and fakes) lack /experiment/models: then the folder is named, not its paths; asked alongside the
  // listings, since it only names folders in messages and every job of an attached worker waits for this
  const folderPaths = Promise.resolve()
    .then(() => client.modelFolders())
    .catch(() => ({}) as Record<string, string[]>);
  await Promise.all(
    keys.map(async (key) => {
      // a 404 means ComfyUI has no such folder key (a custom node pack that is not installed)
      const names = await client.models(key).catch(() => [] as string[]);
      lists.set(key, new Map(names.map((name) => [name, `${client.url}/models/${key}/${name}`])));
    }),
  );
  const paths = await folderPaths;
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
    searched: (folder) =>
      parts(folder).flatMap((part) => (paths[part]?.length ? paths[part] : [remoteFolderLabel(part)])),
    folders: () => [...lists.keys()],
  };
}

/** How a folder of an attached ComfyUI is named when it does not report its paths. */
export function remoteFolderLabel(folder: string): string {
  return `ComfyUI's ${folder} folder (a ${folder} path of its models/ folder or extra_model_paths.yaml)`;
}
