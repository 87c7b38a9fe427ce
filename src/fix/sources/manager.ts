import { mkdir, rename, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod";
import type { LookupHttp } from "../http.ts";
import { baseName, type Candidate, closeName, type WantedWeight } from "./types.ts";

/** One entry of ComfyUI-Manager's model-list.json (every entry has these keys; `size` is a human string). */
const ModelEntry = z.object({
  name: z.string(),
  type: z.string(),
  base: z.string().optional(),
  save_path: z.string(),
  description: z.string().optional(),
  reference: z.string().optional(),
  filename: z.string(),
  url: z.string(),
  size: z.string().optional(),
});
const ModelList = z.object({ models: z.array(z.unknown()) });
export type ModelEntry = z.infer<typeof ModelEntry>;

/** A successful download of a public list is kept this long; a failed one is never kept. */
export const LIST_CACHE_MS = 24 * 3600 * 1000;

// Manager's model_dir_name_map: `type.lower()` → ComfyUI folder when save_path is "default"
const TYPE_FOLDERS: Record<string, string> = {
  checkpoints: "checkpoints",
  checkpoint: "checkpoints",
  unclip: "checkpoints",
  text_encoders: "text_encoders",
  clip: "text_encoders",
  vae: "vae",
  lora: "loras",
  "t2i-adapter": "controlnet",
  "t2i-style": "controlnet",
  controlnet: "controlnet",
  clip_vision: "clip_vision",
  gligen: "gligen",
  upscale: "upscale_models",
  embedding: "embeddings",
  embeddings: "embeddings",
  unet: "diffusion_models",
  diffusion_model: "diffusion_models",
};

/** The list's entries (valid ones only), from a fresh cache file or the network. */
export async function loadModelList(
  http: LookupHttp,
  url: string,
  cacheFile: string,
): Promise<ModelEntry[] | { error: string }> {
  const body = await cachedJson(http, url, cacheFile, ModelList);
  if ("error" in body) return body;
  return body.models.flatMap((entry) => {
    const parsed = ModelEntry.safeParse(entry);
    return parsed.success ? [parsed.data] : [];
  });
}

/** Exact file-name hits in the list, and close names when there is none. */
export function fromModelList(entries: readonly ModelEntry[], wanted: WantedWeight): Candidate[] {
  const want = baseName(wanted.name);
  const fileOf = (entry: ModelEntry) =>
    entry.filename === "<huggingface>" ? baseName(new URL(entry.url).pathname) : entry.filename;
  const exact = entries.filter((entry) => fileOf(entry) === want && _folderFits(entry, wanted.folder));
  const pick =
    exact.length > 0
      ? exact
      : entries.filter((entry) => closeName(fileOf(entry), want) && _folderFits(entry, wanted.folder));
  return pick.map((entry) => ({
    source: "comfyui-manager" as const,
    url: entry.url,
    name: fileOf(entry),
    confidence: exact.length > 0 ? ("exact" as const) : ("close" as const),
    ref: entry.name,
  }));
}

/** GETs a JSON document, reusing a copy younger than LIST_CACHE_MS; only successful answers are written. */
export async function cachedJson<T>(
  http: LookupHttp,
  url: string,
  cacheFile: string,
  schema: z.ZodType<T>,
): Promise<T | { error: string }> {
  const age = await stat(cacheFile).then(
    (s) => Date.now() - s.mtimeMs,
    () => Number.POSITIVE_INFINITY,
  );
  if (age < LIST_CACHE_MS) {
    const cached = schema.safeParse(
      await Bun.file(cacheFile)
        .json()
        .catch(() => undefined),
    );
    if (cached.success) return cached.data;
  }
  const fetched = await http.json(url, schema);
  if (!fetched.ok) return { error: fetched.reason };
  await mkdir(dirname(cacheFile), { recursive: true });
  const temp = `${cacheFile}.${process.pid}.tmp`;
  await Bun.write(temp, JSON.stringify(fetched.value));
  await rename(temp, cacheFile);
  return fetched.value;
}

function _folderFits(entry: ModelEntry, folder: string): boolean {
  const target = entry.save_path === "default" ? TYPE_FOLDERS[entry.type.toLowerCase()] : entry.save_path.split("/")[0];
  // entries for custom-node folders or unmapped types are still offered; a clearly different folder is not
  return (
    target === undefined ||
    target === folder ||
    (folder === "diffusion_models" && target === "unet") ||
    (folder === "text_encoders" && target === "clip")
  );
}
