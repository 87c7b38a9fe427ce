/**
 * Multipart uploads a killed sync left behind for files that this run will not send (deleted, excluded, or now the
 * same as the remote copy): their parts take space on the volume (RunPod stages them in `.s3compat_uploads/`) until
 * aborted, and nothing else would ever abort them.
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { S3Client } from "./s3/client.ts";
import { abortUpload } from "./s3/ops.ts";
import { dropState, loadState } from "./state.ts";

/** Aborts the recorded uploads of `targetId` under `prefix` whose key is not in `sending`; returns their keys. */
export async function abortStaleUploads(
  s3: S3Client,
  options: { stateDir: string; targetId: string; prefix: string; sending: ReadonlySet<string>; signal?: AbortSignal },
): Promise<string[]> {
  const names = await readdir(options.stateDir).catch(() => [] as string[]);
  const aborted: string[] = [];
  for (const name of names.filter((n) => n.endsWith(".json"))) {
    const path = join(options.stateDir, name);
    const state = await loadState(path);
    if (!state || state.target !== options.targetId || !state.key.startsWith(options.prefix)) continue;
    if (options.sending.has(state.key)) continue;
    // an upload the server no longer knows is fine: the record goes either way
    await abortUpload(s3, state.key, state.uploadId, options.signal).catch(() => {});
    await dropState(path);
    aborted.push(state.key);
  }
  return aborted;
}
