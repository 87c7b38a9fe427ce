/**
 * The weights and input files a workflow needs. Only nodes that ComfyUI would validate count: those an
 * output node depends on. Sources, in order: the LOADERS table, file COMBO inputs of a live /object_info,
 * `_meta.required_weights`, `embedding:name` in prompt text, and the UI's `models` metadata (which adds
 * a source URL/hash, and a folder for a file no other source placed).
 */
import { comboOptions, type ObjectInfo } from "../comfy/object-info.ts";
import { type ApiNode, type ApiWorkflow, isLink } from "../workflow/api.ts";
import type { UiWorkflow } from "../workflow/ui.ts";
import { embeddingRefs } from "./embedding-refs.ts";
import { canonicalFolder } from "./folders.ts";
import { FOLDER_UNION_SEPARATOR, GGUF_FOLDERS, loaderFolder, NO_FILE_VALUES, VAE_SPECIAL } from "./loaders.ts";
import { apiRequiredWeights, type DeclaredWeight, uiModelMetadata, type WeightSource } from "./metadata.ts";

/** How a name is matched against a folder's files: as listed, by `<prefix>.*`, or as load_embed does. */
export type MatchKind = "exact" | "prefix" | "embedding";

/** One weight file a workflow needs; `folder` is where it is stored, `lookup` what the loader lists. */
export interface RequiredWeight {
  folder: string;
  name: string;
  lookup: string;
  match: MatchKind;
  source?: WeightSource;
  size?: number;
  /** API node ids that use it. */
  nodes: string[];
  /** An embedding written with commas ("bad-hands-5,"): ComfyUI loads a file of that name first, if there is one. */
  written?: string;
}

/** One input file (LoadImage and co.); `file` is `name` without a `[input]`-style annotation. */
export interface RequiredInput {
  name: string;
  dir: "input" | "output" | "temp";
  file: string;
  /** True for a URL value, which ComfyUI itself cannot load (some wrappers download it first). */
  url: boolean;
  nodes: string[];
}

export interface Requirements {
  weights: RequiredWeight[];
  inputs: RequiredInput[];
  warnings: string[];
}

export interface RequiredOptions {
  /** Output nodes and, when live, file COMBOs; without it every sink node counts as an output. */
  objectInfo?: ObjectInfo;
  /** The folder a file COMBO lists (e.g. by comparing its options with `/models/{folder}`), if any. */
  comboFolder?: (options: readonly string[]) => string | undefined;
  /** The UI workflow the API one came from, for its `models` metadata. */
  ui?: UiWorkflow;
}

const ANNOTATION_RE = /^(.*) \[(input|output|temp)\]$/;
const URL_RE = /^https?:\/\//i;
const UPLOAD_FLAGS = ["image_upload", "video_upload", "audio_upload", "upload"];

/** Every weight and input file of `api` (deduplicated on folder+name), plus notes on ignored metadata. */
export function requiredFiles(api: ApiWorkflow, options: RequiredOptions = {}): Requirements {
  const found = new _Found();
  const strings = new Set<string>();
  const declared: Array<[DeclaredWeight, string | undefined]> = [];
  for (const id of reachableNodeIds(api, options.objectInfo)) {
    const node = api[id] as ApiNode;
    for (const [input, raw] of Object.entries(node.inputs)) {
      const value = literalString(raw);
      if (value === undefined) continue;
      strings.add(value);
      _fromInput(found, options, id, node, input, value);
      for (const ref of embeddingRefs(value)) {
        const weight = found.weight("embeddings", ref.name, "embeddings", "embedding", id);
        if (ref.written) weight.written = ref.written;
      }
    }
    for (const weight of apiRequiredWeights(id, node, found.warnings)) declared.push([weight, id]);
  }
  if (options.ui) {
    const meta = uiModelMetadata(options.ui);
    found.warnings.push(...meta.warnings);
    // metadata for a file no reachable node uses is stale (a widget changed, a bypassed loader): ignored
    for (const weight of meta.declared) if (strings.has(weight.name)) declared.push([weight, undefined]);
  }
  // after every input is placed, so a declaration merges with its loader's entry whatever the node order
  for (const [weight, id] of declared) found.declared(weight, id);
  return { weights: found.weights(), inputs: found.inputs(), warnings: found.warnings };
}

/** Ids of the nodes ComfyUI validates: output nodes and everything they link from. */
export function reachableNodeIds(api: ApiWorkflow, objectInfo?: ObjectInfo): string[] {
  const consumed = new Set<string>();
  for (const node of Object.values(api)) {
    for (const value of Object.values(node.inputs)) if (isLink(value)) consumed.add(String(value[0]));
  }
  // a node type we know nothing about may be an output node; a sink of that kind is kept to be safe
  const isOutput = (id: string, node: ApiNode) => {
    const info = objectInfo && Object.hasOwn(objectInfo, node.class_type) ? objectInfo[node.class_type] : undefined;
    return info ? info.output_node === true : !consumed.has(id);
  };
  const seen = new Set<string>();
  const stack = Object.entries(api)
    .filter(([id, node]) => isOutput(id, node))
    .map(([id]) => id);
  while (stack.length > 0) {
    const id = stack.pop() as string;
    const node = api[id];
    if (seen.has(id) || !node) continue;
    seen.add(id);
    for (const value of Object.values(node.inputs)) if (isLink(value)) stack.push(String(value[0]));
  }
  return Object.keys(api).filter((id) => seen.has(id));
}

/** The string an input holds: a literal string, or the `content` of a pysssss-style `{content, image}`. */
export function literalString(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  const content = (value as { content?: unknown } | null)?.content;
  return typeof value === "object" && typeof content === "string" ? content : undefined;
}

/** `embedding:name` references in prompt text, as sd1_clip tokenizes them (see embedding-refs.ts). */
export function embeddingNames(text: string): string[] {
  return embeddingRefs(text).map((ref) => ref.name);
}

/** The folder a file lives in for a loader folder spec: the first of a union, GGUF folders' source. */
export function storageFolder(lookup: string): string {
  const first = canonicalFolder(lookup.split(FOLDER_UNION_SEPARATOR)[0] ?? lookup);
  return Object.hasOwn(GGUF_FOLDERS, first) ? (GGUF_FOLDERS[first]?.source ?? first) : first;
}

// --- internal ---

function _fromInput(
  found: _Found,
  options: RequiredOptions,
  id: string,
  node: ApiNode,
  input: string,
  value: string,
): void {
  if (NO_FILE_VALUES.includes(value)) return;
  const folder = loaderFolder(node.class_type, input);
  if (folder === "input" || folder === "output") found.input(value, folder, id);
  else if (folder && node.class_type === "VAELoader") _vae(found, value, id);
  else if (folder) found.weight(storageFolder(folder), value, folder, "exact", id);
  else _fromCombo(found, options, id, node, input, value);
}

// a live /object_info shows custom file pickers: upload combos take input files, others list a folder
function _fromCombo(
  found: _Found,
  options: RequiredOptions,
  id: string,
  node: ApiNode,
  input: string,
  value: string,
): void {
  const info = options.objectInfo?.[node.class_type];
  const spec = info?.input.required?.[input] ?? info?.input.optional?.[input];
  const choices = comboOptions(spec);
  if (!choices) return;
  const flags = (Array.isArray(spec) ? spec[1] : undefined) as Record<string, unknown> | undefined;
  if (UPLOAD_FLAGS.some((flag) => flags?.[flag] === true)) {
    found.input(value, "input", id);
    return;
  }
  const comboFolder = options.comboFolder?.(choices);
  if (comboFolder) found.weight(storageFolder(comboFolder), value, comboFolder, "exact", id);
}

// VAELoader.vae_name: special values that are no file, pairs of TAESD files, and video TAEs in vae_approx
function _vae(found: _Found, value: string, id: string): void {
  const approx = VAE_SPECIAL.approxFolder;
  if ((VAE_SPECIAL.noFile as readonly string[]).includes(value)) return;
  if ((VAE_SPECIAL.approxPairs as readonly string[]).includes(value)) {
    found.weight(approx, `${value}_encoder.*`, approx, "prefix", id);
    found.weight(approx, `${value}_decoder.*`, approx, "prefix", id);
  } else if (VAE_SPECIAL.videoTaePrefixes.some((prefix) => value.startsWith(prefix))) {
    found.weight(approx, value, approx, "exact", id);
  } else {
    found.weight("vae", value, "vae", "exact", id);
  }
}

class _Found {
  readonly warnings: string[] = [];
  #weights = new Map<string, RequiredWeight>();
  #inputs = new Map<string, RequiredInput>();

  weight(folder: string, name: string, lookup: string, match: MatchKind, node?: string): RequiredWeight {
    const key = `${folder}\0${name}`;
    const entry = this.#weights.get(key) ?? { folder, name, lookup, match, nodes: [] };
    this.#weights.set(key, entry);
    if (node && !entry.nodes.includes(node)) entry.nodes.push(node);
    return entry;
  }

  /** A declared weight: merged into entries of the same name (its source kept), else added as a file. */
  declared(declared: DeclaredWeight, node?: string): void {
    const same = [...this.#weights.values()].filter((w) => w.name === declared.name && w.match === "exact");
    const inFolder = same.filter((w) => w.folder === declared.folder);
    // a loader knows its folder better than metadata does (legacy or mistyped `directory`)
    const targets =
      inFolder.length > 0
        ? inFolder
        : same.length > 0
          ? same
          : [this.weight(declared.folder, declared.name, declared.folder, "exact")];
    for (const target of targets) {
      if (node && !target.nodes.includes(node)) target.nodes.push(node);
      if (declared.source && (!target.source || (!target.source.sha256 && declared.source.sha256))) {
        target.source = declared.source;
      }
      if (declared.size !== undefined) target.size ??= declared.size;
    }
  }

  input(value: string, dir: "input" | "output", node: string): void {
    const annotated = ANNOTATION_RE.exec(value);
    const entry = this.#inputs.get(value) ?? {
      name: value,
      dir: (annotated?.[2] as RequiredInput["dir"] | undefined) ?? dir,
      file: annotated?.[1] ?? value,
      url: URL_RE.test(value),
      nodes: [],
    };
    this.#inputs.set(value, entry);
    if (!entry.nodes.includes(node)) entry.nodes.push(node);
  }

  weights(): RequiredWeight[] {
    return [...this.#weights.values()].sort((a, b) => a.folder.localeCompare(b.folder) || a.name.localeCompare(b.name));
  }

  inputs(): RequiredInput[] {
    return [...this.#inputs.values()].sort((a, b) => a.name.localeCompare(b.name));
  }
}
