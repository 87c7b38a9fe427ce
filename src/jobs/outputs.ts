import { resolve, sep } from "node:path";
import type { ComfyClient } from "../comfy/client.ts";
import type { ComfyFileDirs } from "../comfy/file-dirs.ts";
import { WorkerError } from "../errors.ts";
import { formatBytes } from "../lib/bytes.ts";
import { mimeFromName } from "../lib/mime.ts";
import { outputIdentity, outputKind } from "./output-kind.ts";
import type { JobOutput, OutputFile } from "./schema.ts";

/** A file an output node reported in history: where it is and which result list it belongs to. */
export interface OutputRef {
  node_id: string;
  filename: string;
  subfolder: string;
  type: "output" | "temp" | "input";
  kind: "images" | "videos" | "audio" | "files";
}

// enough to overlap transfers; more would only make a batch of a hundred frames compete with itself
const FETCH_CONCURRENCY = 6;

export type CollectedOutputs = Pick<JobOutput, "images" | "videos" | "audio" | "files" | "text" | "errors">;

/** Stores one output file somewhere else (a bucket) and returns its URL; absent = inline only. */
export type OutputUploader = (ref: OutputRef, bytes: Uint8Array, mime: string) => Promise<string>;

export interface CollectOptions {
  includeTemp: boolean;
  inlineMaxBytes: number;
  /** "bucket" forces the uploader; "auto" uses it only when inline outputs would exceed the limit. */
  mode: "inline" | "bucket" | "auto";
  upload?: OutputUploader;
  /**
   * A ComfyUI on this machine: files are read from its folders instead of /view (several times cheaper for
   * large outputs); a file that is missing there or older than `notBefore` (epoch ms) comes through /view.
   */
  local?: { dirs: ComfyFileDirs; notBefore: number };
}

/** Every file and text any output node produced, in node order; temp files only when asked for. */
export function listOutputs(
  outputs: Record<string, unknown>,
  includeTemp: boolean,
): { files: OutputRef[]; text: CollectedOutputs["text"]; skippedTemp: number } {
  const files: OutputRef[] = [];
  const seen = new Set<string>();
  const text: CollectedOutputs["text"] = [];
  let skippedTemp = 0;
  for (const [nodeId, ui] of Object.entries(outputs)) {
    if (typeof ui !== "object" || ui === null) continue;
    const animated = (ui as { animated?: unknown }).animated;
    for (const [key, value] of Object.entries(ui)) {
      if (!Array.isArray(value)) continue;
      if (key === "text" || key === "string") {
        for (const item of value)
          text.push({ node_id: nodeId, text: typeof item === "string" ? item : JSON.stringify(item) });
        continue;
      }
      for (const item of value) {
        const ref = _fileRef(nodeId, key, item, Array.isArray(animated) && animated.some(Boolean));
        if (ref?.type === "temp" && !includeTemp) skippedTemp++;
        if (!ref || (ref.type === "temp" && !includeTemp) || seen.has(outputIdentity(ref))) continue;
        seen.add(outputIdentity(ref));
        files.push(ref);
      }
    }
  }
  return { files, text, skippedTemp };
}

function _fileRef(nodeId: string, key: string, item: unknown, animated: boolean): OutputRef | undefined {
  if (typeof item !== "object" || item === null || typeof (item as { filename?: unknown }).filename !== "string")
    return;
  const { filename, subfolder, type } = item as { filename: string; subfolder?: string; type?: string };
  const safeType = type === "temp" || type === "input" ? type : "output";
  return {
    node_id: nodeId,
    filename,
    subfolder: subfolder ?? "",
    type: safeType,
    kind: outputKind(key, filename, animated),
  };
}

/** Fetches every output through /view and returns it inline (base64) or as bucket URLs. */
export async function collectOutputs(
  client: ComfyClient,
  outputs: Record<string, unknown>,
  options: CollectOptions,
): Promise<{ result: CollectedOutputs; uploadMs: number }> {
  const { files, text, skippedTemp } = listOutputs(outputs, options.includeTemp);
  // a few at a time: one job's outputs come from the same ComfyUI, which answers /view concurrently
  const fetched = await _mapLimited(files, FETCH_CONCURRENCY, async (ref) => ({
    ref,
    bytes: (await _readLocal(ref, options.local)) ?? new Uint8Array(await (await client.view(ref)).arrayBuffer()),
  }));
  const total = fetched.reduce((sum, file) => sum + file.bytes.byteLength, 0);
  const useBucket = options.mode === "bucket" || (options.mode === "auto" && total > options.inlineMaxBytes);
  if (useBucket && !options.upload) {
    const why =
      options.mode === "bucket"
        ? 'output.mode is "bucket"'
        : `outputs total ${formatBytes(total)}, over OUTPUT_INLINE_MAX_MB (${formatBytes(options.inlineMaxBytes)})`;
    throw new WorkerError(
      "E_TOO_LARGE",
      `${why} but no bucket is configured; set BUCKET_ENDPOINT_URL, BUCKET_ACCESS_KEY_ID, BUCKET_SECRET_ACCESS_KEY and BUCKET_NAME (or raise OUTPUT_INLINE_MAX_MB)`,
    );
  }
  const result: CollectedOutputs = { images: [], videos: [], audio: [], files: [], text };
  // a job whose only files are previews would come back empty without a word
  if (files.length === 0 && skippedTemp > 0)
    result.errors = [
      `the workflow's only outputs are ${skippedTemp} temp file(s) (PreviewImage and the like), left out unless input.output.include_temp is true; add a SaveImage node or set it`,
    ];
  const started = performance.now();
  const stored = await _mapLimited(fetched, FETCH_CONCURRENCY, async ({ ref, bytes }): Promise<OutputFile> => {
    const mime = mimeFromName(ref.filename);
    const data =
      useBucket && options.upload
        ? await options.upload(ref, bytes, mime)
        : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
    const type = useBucket ? "s3_url" : "base64";
    return { filename: ref.filename, subfolder: ref.subfolder, node_id: ref.node_id, type, data, mime };
  });
  // results keep node order whatever order the transfers finished in
  for (const [i, { ref }] of fetched.entries()) result[ref.kind].push(stored[i] as OutputFile);
  return { result, uploadMs: useBucket ? performance.now() - started : 0 };
}

// the guessed folder may be wrong (a custom --output-directory in a wrapper script): a file this prompt did not
// write there (absent, or older than the prompt) is left to /view, which knows where ComfyUI really saved it
async function _readLocal(ref: OutputRef, local: CollectOptions["local"]): Promise<Uint8Array | undefined> {
  if (!local) return undefined;
  const root = resolve(local.dirs[ref.type]);
  const path = resolve(root, ref.subfolder, ref.filename);
  if (!path.startsWith(root + sep)) return undefined;
  try {
    const file = Bun.file(path);
    const stat = await file.stat();
    if (!stat.isFile() || stat.mtimeMs < local.notBefore) return undefined;
    return await file.bytes();
  } catch {
    return undefined;
  }
}

/** `fn` over `items` with at most `limit` calls in flight; results in input order. */
async function _mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}
