/**
 * What to make present: the union of kit files, manifest files and the weights of workflows, deduplicated
 * on (folder, name) with the first known source kept and missing hashes/sizes filled from later ones.
 */
import { coreObjectInfo, type ObjectInfo } from "../comfy/object-info.ts";
import type { Manifest } from "../kits/manifest.ts";
import { canonicalFolder } from "../weights/folders.ts";
import type { WeightSource } from "../weights/metadata.ts";
import { prepareWorkflow } from "../weights/prepare.ts";
import { type RequiredWeight, requiredFiles } from "../weights/required.ts";
import { weightKey } from "../weights/weight-state.ts";
import type { LoadedWorkflow } from "../workflow/load.ts";

/** One weight to make present; `source` undefined = nobody says where to get it. */
export interface PlanItem {
  folder: string;
  name: string;
  source?: WeightSource;
  size?: number;
  gated?: boolean;
  /** How ComfyUI finds it (a workflow's loader folder and match kind); kit files are exact names. */
  lookup: Pick<RequiredWeight, "lookup" | "match">;
  /** Kits, manifests and workflows that asked for it. */
  from: string[];
}

/** Items keyed by `folder/name`, in the order first asked for. */
export type Plan = Map<string, PlanItem>;

const MANIFEST_PATH_RE = /[/\\]|\.ya?ml$/i;

/** A kit by name (`sdxl`), or a manifest file when the value looks like a path (has a `/` or ends in .yaml). */
export async function loadKitOrManifest(spec: string): Promise<Manifest> {
  // the manifest schemas load with the first kit: a `run`, which preloads none, never builds them (~0.8 ms)
  const { loadKit, loadManifest } = await import("../kits/manifest.ts");
  return MANIFEST_PATH_RE.test(spec) ? loadManifest(spec) : loadKit(spec);
}

/** Adds every file of a kit or manifest (trusted sources). */
export function addManifest(plan: Plan, manifest: Manifest, from: string): void {
  for (const file of manifest.files) {
    const folder = canonicalFolder(file.folder);
    _add(plan, {
      folder,
      name: file.name,
      source: { url: file.url, ...(file.sha256 ? { sha256: file.sha256 } : {}) },
      ...(file.size !== undefined ? { size: file.size } : {}),
      gated: file.gated,
      lookup: { lookup: folder, match: "exact" },
      from: [from],
    });
  }
}

/** Adds every weight a workflow needs, with the source its metadata gives (if any). */
export function addWorkflow(plan: Plan, loaded: LoadedWorkflow, objectInfo: ObjectInfo = coreObjectInfo()): void {
  const prepared = prepareWorkflow(loaded, objectInfo);
  const required = requiredFiles(prepared.api, { objectInfo, ...(prepared.ui ? { ui: prepared.ui } : {}) });
  for (const weight of required.weights) addRequired(plan, weight, loaded.file);
}

/** Adds one required weight (from a workflow or a check report). */
export function addRequired(
  plan: Plan,
  weight: Pick<RequiredWeight, "folder" | "name" | "lookup" | "match" | "source" | "size">,
  from: string,
): void {
  _add(plan, {
    folder: weight.folder,
    name: weight.name,
    ...(weight.source ? { source: weight.source } : {}),
    ...(weight.size !== undefined ? { size: weight.size } : {}),
    lookup: { lookup: weight.lookup, match: weight.match },
    from: [from],
  });
}

function _add(plan: Plan, item: PlanItem): void {
  const key = weightKey(item);
  const known = plan.get(key);
  if (!known) {
    plan.set(key, item);
    return;
  }
  for (const from of item.from) if (!known.from.includes(from)) known.from.push(from);
  if (!known.source && item.source) known.source = item.source;
  else if (known.source && !known.source.sha256 && item.source?.sha256 && item.source.url === known.source.url)
    known.source = { ...known.source, sha256: item.source.sha256 };
  known.size ??= item.size;
  if (item.gated) known.gated = true;
  // a kit's exact name is the surer lookup than a workflow's prefix or embedding match
  if (item.lookup.match === "exact") known.lookup = item.lookup;
}
