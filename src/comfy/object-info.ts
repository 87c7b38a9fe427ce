/**
 * Bundled GET /object_info snapshot for ComfyUI's built-in nodes (nodes.py + comfy_extras).
 *
 * Read from a running ComfyUI (the release in object-info.meta.json, with empty model folders) by
 * `bun scripts/object-info-snapshot.ts <url>`; API nodes and custom nodes are left out. File-picker combos
 * (LOADERS) are stored empty; fillFileCombos fills them from the live folders.
 */

import { readFileSync } from "node:fs";
import { LOADERS, NO_FILE_VALUES, VAE_SPECIAL } from "../weights/loaders.ts";
// embedded as a file and read on first use: as a string in the bundle its 600 KB (1.2 MB as UTF-16) were on the
// heap of every command, and parsing it at import cost ~3 ms; most commands (serve, run) ask the live ComfyUI
import snapshotPath from "./object-info.json" with { type: "file" };
import meta from "./object-info.meta.json" with { type: "json" };

/** The ComfyUI release the bundled snapshot was read from (what `check`/`convert` know without a live server). */
export const CORE_OBJECT_INFO_VERSION: string = meta.comfyui_version;

type Section = "required" | "optional" | "hidden";

/** One node's /object_info entry; upstream adds fields over time, so unknown keys are kept. */
export type NodeInfo = {
  input: Partial<Record<Section, Record<string, unknown>>>;
  input_order: Partial<Record<Section, string[]>>;
  /** Type names; a V1 custom node may return a combo list as a type. */
  output: (string | string[])[];
  output_is_list: boolean[];
  output_name: string[];
  name: string;
  /** null for V3 nodes that declare no display name. */
  display_name: string | null;
  description: string;
  python_module: string;
  category: string;
  output_node: boolean;
  output_tooltips?: (string | null)[];
  [field: string]: unknown;
};

export type ObjectInfo = Record<string, NodeInfo>;

/** A deep copy of the bundled snapshot, safe to mutate. */
export function coreObjectInfo(): ObjectInfo {
  return JSON.parse(_text()) as ObjectInfo;
}

let shared: ObjectInfo | undefined;

/** A deep copy of some nodes' entries of the bundled snapshot (the others are not copied). */
export function coreNodeInfo(types: readonly string[]): ObjectInfo {
  shared ??= coreObjectInfo();
  const all = shared;
  const picked: ObjectInfo = {};
  for (const type of types) if (Object.hasOwn(all, type)) picked[type] = all[type] as NodeInfo;
  return structuredClone(picked);
}

// bun-types types a JSON import as its value even with `type: "file"`, which Bun loads as the file's path
function _text(): string {
  return readFileSync(snapshotPath as unknown as string, "utf8");
}

/**
 * A copy of `info` with every LOADERS input filled from `list(folder)` ("input"/"output" for the
 * dirs). Input-dir loaders filter by content type in ComfyUI (images for LoadImage, …); that is `list`'s job.
 */
export function fillFileCombos(info: ObjectInfo, list: (folder: string) => string[]): ObjectInfo {
  const out = structuredClone(info);
  for (const [classType, inputs] of Object.entries(LOADERS)) {
    const node = Object.hasOwn(out, classType) ? out[classType] : undefined;
    if (!node) continue;
    for (const [input, folder] of Object.entries(inputs)) {
      const spec = node.input.required?.[input] ?? node.input.optional?.[input];
      if (!Array.isArray(spec)) continue;
      const files = classType === "VAELoader" ? _vaeOptions(list) : list(folder);
      // "none" / "[None]" choices stay where upstream puts them: "none" first (Load3DAdvanced), others last
      const kept = (comboOptions(spec) ?? []).filter((o) => NO_FILE_VALUES.includes(o));
      const first = kept.filter((o) => o === "none");
      _setOptions(spec, [...first, ...files.filter((f) => !kept.includes(f)), ...kept.filter((o) => o !== "none")]);
    }
  }
  return out;
}

/** The folders fillFileCombos asks `list` for on `info`, so async callers can list them up front. */
export function fileComboFolders(info: ObjectInfo): string[] {
  const asked = new Set<string>();
  fillFileCombos(info, (folder) => {
    asked.add(folder);
    return [];
  });
  return [...asked].sort();
}

/** The options of a combo spec in either shape (`[[...], opts]` or `["COMBO", {options}]`), else undefined. */
export function comboOptions(spec: unknown): string[] | undefined {
  if (!Array.isArray(spec)) return undefined;
  const [head, opts] = spec as unknown[];
  if (Array.isArray(head)) return head.map(String);
  if (head === "COMBO" && _isRecord(opts) && Array.isArray(opts.options)) return opts.options.map(String);
  return undefined;
}

// --- internal ---

function _setOptions(spec: unknown[], options: string[]): void {
  if (Array.isArray(spec[0])) {
    spec[0] = options;
  } else if (spec[0] === "COMBO") {
    // LoadImageOutput is a COMBO without options upstream (filled by a remote route); give it the list too
    spec[1] = { ...(_isRecord(spec[1]) ? spec[1] : {}), options };
  }
}

/** VAELoader.vae_list: vae files, video TAEs and complete TAESD pairs from vae_approx, then pixel_space. */
function _vaeOptions(list: (folder: string) => string[]): string[] {
  const approx = list(VAE_SPECIAL.approxFolder);
  const has = (prefix: string) => approx.some((file) => file.startsWith(prefix));
  const videos = approx.filter((file) => VAE_SPECIAL.videoTaePrefixes.some((prefix) => file.startsWith(prefix)));
  const pairs = VAE_SPECIAL.approxPairs.filter((name) => has(`${name}_encoder.`) && has(`${name}_decoder.`));
  return [...list("vae"), ...videos, ...pairs, ...VAE_SPECIAL.noFile];
}

function _isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
