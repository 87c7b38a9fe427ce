import { listKits, loadManifest, type Manifest, type ManifestFile } from "../../kits/manifest.ts";
import { canonicalFolder } from "../../weights/folders.ts";
import type { WeightReport } from "../../weights/locate.ts";
import { weightKey } from "../../weights/weight-state.ts";
import type { Candidate, SourceName, WantedWeight } from "./types.ts";

/** Files of kits or manifests by `folder/name`, each with where it was declared. */
export type ManifestIndex = Map<string, { file: ManifestFile; ref: string }>;

/** Indexes the built-in kits (`kit`) or the given manifest files (`manifest`). */
export async function indexManifests(kind: "kit" | "manifest", paths: readonly string[] = []): Promise<ManifestIndex> {
  const manifests: Array<{ manifest: Manifest; ref: string }> =
    kind === "kit"
      ? listKits().map((manifest) => ({ manifest, ref: `kit ${manifest.name}` }))
      : await Promise.all(paths.map(async (path) => ({ manifest: await loadManifest(path), ref: path })));
  const index: ManifestIndex = new Map();
  for (const { manifest, ref } of manifests)
    for (const file of manifest.files)
      index.set(weightKey({ folder: canonicalFolder(file.folder), name: file.name }), { file, ref });
  return index;
}

/** The workflow's own `models` metadata: the URL the workflow's author gave for this file. */
export function fromWorkflow(weight: WeightReport): Candidate | undefined {
  if (!weight.source) return undefined;
  return {
    source: "workflow",
    url: weight.source.url,
    name: weight.name,
    confidence: weight.source.sha256 || weight.size !== undefined ? "exact+verified" : "exact",
    ...(weight.source.sha256 ? { sha256: weight.source.sha256 } : {}),
    ...(weight.size !== undefined ? { size: weight.size } : {}),
  };
}

/** A kit or manifest entry with the same folder and name (these are trusted, declared sources). */
export function fromManifests(
  source: Extract<SourceName, "kit" | "manifest">,
  index: ManifestIndex,
  wanted: WantedWeight,
): Candidate | undefined {
  const hit = index.get(weightKey({ folder: canonicalFolder(wanted.folder), name: wanted.name }));
  if (!hit) return undefined;
  const { file, ref } = hit;
  return {
    source,
    url: file.url,
    name: file.name,
    confidence: file.sha256 || file.size !== undefined ? "exact+verified" : "exact",
    ref,
    ...(file.sha256 ? { sha256: file.sha256 } : {}),
    ...(file.size !== undefined ? { size: file.size } : {}),
    ...(file.gated ? { gated: true } : {}),
  };
}
