/**
 * Weights a workflow declares about itself: the frontend's `models` metadata (UI top level, per node
 * `properties.models`, inside subgraph definitions) and `_meta.required_weights` on API nodes.
 */
import { z } from "zod";
import { builtOnce } from "../lib/built-once.ts";
import { describeIssues } from "../lib/issues.ts";
import type { ApiNode } from "../workflow/api.ts";
import { nodeMode, subgraphDefinitions, type UiNode, type UiWorkflow } from "../workflow/ui.ts";
import { canonicalFolder, isFolderKey } from "./folders.ts";

// built on first use: most workflows declare no weights, and a schema costs every command's start when built at
// import (lib/built-once.ts)
const schemas = builtOnce(() => {
  // the folder becomes a directory under the models dir when the file is downloaded
  const folderKey = () => z.string().min(1).refine(isFolderKey, FOLDER_KEY_ERROR);
  return {
    // ComfyUI_frontend's zModelFile: the file name as the widget holds it, its folder key and where to get it
    ModelFile: z.looseObject({
      name: z.string().min(1),
      url: z.string().optional(),
      directory: folderKey(),
      hash: z.string().optional(),
      hash_type: z.string().optional(),
    }),
    // one `_meta.required_weights` entry: `"folder/name"` or an object naming the folder and file
    RequiredWeightEntry: z.union([
      z
        .string()
        .regex(/^[^/]+\/.+$/, "expected folder/name")
        .refine((value) => isFolderKey(value.slice(0, value.indexOf("/"))), FOLDER_KEY_ERROR),
      z.looseObject({
        folder: folderKey().optional(),
        directory: folderKey().optional(),
        name: z.string().min(1),
        url: z.string().optional(),
        sha256: z.string().optional(),
        hash: z.string().optional(),
        size: z.number().int().min(0).optional(),
      }),
    ]),
  };
});

const FOLDER_KEY_ERROR = "must name a model folder such as loras (one name, no '/' or '..')";

/** ComfyUI_frontend's zModelFile: the file name as the widget holds it, its folder key and where to get it. */
export type ModelFile = z.infer<ReturnType<typeof schemas>["ModelFile"]>;

/** Where a weight can be fetched from, when the workflow says. */
export interface WeightSource {
  url: string;
  sha256?: string;
}

/** A weight the workflow itself declares. */
export interface DeclaredWeight {
  folder: string;
  name: string;
  source?: WeightSource;
  size?: number;
}

const SHA256_RE = /^[0-9a-fA-F]{64}$/;

/**
 * `models` entries of a UI workflow: the top level, active nodes, and subgraph definitions that an active
 * node instantiates (recursively). Muted and bypassed nodes contribute nothing; malformed entries are
 * skipped and described in `warnings`.
 */
export function uiModelMetadata(ui: UiWorkflow): { declared: DeclaredWeight[]; warnings: string[] } {
  const warnings: string[] = [];
  const declared: DeclaredWeight[] = [];
  const take = (entries: unknown, where: string) => {
    if (entries === undefined) return;
    for (const [i, entry] of (Array.isArray(entries) ? entries : [entries]).entries()) {
      const parsed = schemas().ModelFile.safeParse(entry);
      if (parsed.success) declared.push(fromModelFile(parsed.data));
      else warnings.push(`${describeIssues(parsed.error, entry, `${where} models[${i}]`).join("; ")}; ignored`);
    }
  };
  take((ui as { models?: unknown }).models, "workflow");
  const definitions = subgraphDefinitions(ui);
  const visited = new Set<string>();
  const visit = (nodes: UiNode[], scope: string) => {
    for (const node of nodes) {
      if (nodeMode(node) !== "active") continue;
      take(node.properties.models, `${scope}node ${node.id}`);
      const def = definitions.get(node.type);
      if (!def || visited.has(def.id)) continue;
      visited.add(def.id);
      take(def.models, `subgraph "${def.name ?? def.id}"`);
      visit(def.nodes, `subgraph "${def.name ?? def.id}" `);
    }
  };
  visit(ui.nodes, "");
  return { declared, warnings };
}

/** `_meta.required_weights` of one API node; malformed entries are described in `warnings`. */
export function apiRequiredWeights(id: string, node: ApiNode, warnings: string[]): DeclaredWeight[] {
  const raw = (node._meta as { required_weights?: unknown } | undefined)?.required_weights;
  if (raw === undefined) return [];
  const out: DeclaredWeight[] = [];
  for (const [i, entry] of (Array.isArray(raw) ? raw : [raw]).entries()) {
    const parsed = schemas().RequiredWeightEntry.safeParse(entry);
    if (!parsed.success) {
      warnings.push(
        `${describeIssues(parsed.error, entry, `node ${id} _meta.required_weights[${i}]`).join("; ")}; ignored`,
      );
      continue;
    }
    const value = parsed.data;
    if (typeof value === "string") {
      const slash = value.indexOf("/");
      out.push({ folder: canonicalFolder(value.slice(0, slash)), name: value.slice(slash + 1) });
      continue;
    }
    const folder = value.folder ?? value.directory;
    if (!folder) {
      warnings.push(`node ${id} _meta.required_weights[${i}] names no folder (give folder or directory); ignored`);
      continue;
    }
    const sha256 = _sha256(value.sha256 ?? value.hash);
    out.push({
      folder: canonicalFolder(folder),
      name: value.name,
      ...(value.url ? { source: { url: value.url, ...(sha256 ? { sha256 } : {}) } } : {}),
      // 0 is no size a weight has: the same as none declared
      ...(value.size ? { size: value.size } : {}),
    });
  }
  return out;
}

/** A frontend ModelFile as a declared weight; the hash counts only when it is a sha256. */
export function fromModelFile(file: ModelFile): DeclaredWeight {
  const isSha = !file.hash_type || file.hash_type.toLowerCase() === "sha256";
  const sha256 = isSha ? _sha256(file.hash) : undefined;
  return {
    folder: canonicalFolder(file.directory),
    name: file.name,
    ...(file.url ? { source: { url: file.url, ...(sha256 ? { sha256 } : {}) } } : {}),
  };
}

function _sha256(value: string | undefined): string | undefined {
  return value && SHA256_RE.test(value) ? value.toLowerCase() : undefined;
}
