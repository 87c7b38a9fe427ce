/**
 * `check`: what each workflow needs, what is present, what is missing (with close matches and a known
 * source), as the SPEC §4 `--json` report.
 */
import { stat } from "node:fs/promises";
import { join } from "node:path";
import type { ObjectInfo } from "../comfy/object-info.ts";
import type { UnknownNode } from "../workflow/convert.ts";
import { type LoadedWorkflow, loadWorkflowFile, type WorkflowFormat } from "../workflow/load.ts";
import { knownNodePack } from "../workflow/node-packs.ts";
import { createCandidateFinder } from "./candidates.ts";
import type { HashOptions } from "./hash.ts";
import { locateWeights, type WeightReport } from "./locate.ts";
import type { ModelIndex, ModelSnapshot } from "./model-index.ts";
import { prepareWorkflow } from "./prepare.ts";
import { type RequiredInput, requiredFiles } from "./required.ts";
import type { Expected, VerifyLevel } from "./verify.ts";

/** An input file's state; `url` values are fetched by wrappers, never by ComfyUI itself. */
export interface InputReport {
  name: string;
  status: "present" | "missing" | "url";
  /** Where the file is, or where it was looked for. */
  path?: string;
  nodes: string[];
}

/** One workflow's part of the report. */
export interface WorkflowReport {
  file: string;
  format: WorkflowFormat;
  weights: WeightReport[];
  inputs: InputReport[];
  unknown_nodes: UnknownNode[];
  warnings?: string[];
}

/** The whole `check --json` report; `ok` is false when any weight is not present and valid. */
export interface CheckReport {
  ok: boolean;
  workflows: WorkflowReport[];
}

export interface CheckOptions {
  index: ModelIndex;
  objectInfo: ObjectInfo;
  /** True when `objectInfo` came from a running ComfyUI, so its file COMBOs reflect real folders. */
  live: boolean;
  level: VerifyLevel;
  /** ComfyUI's input, output and temp directories, for LoadImage-style files. */
  dirs: { input: string; output: string; temp: string };
  hash?: HashOptions;
  /** What a manifest (a built-in kit) says a weight should be; `--verify size|sha256` holds files to it. */
  expected?: (folder: string, name: string) => Expected | undefined;
}

/** Loads and checks each file (one index snapshot for all); throws E_INPUT/E_NOT_FOUND for unreadable files. */
export async function checkWorkflowFiles(files: readonly string[], options: CheckOptions): Promise<CheckReport> {
  const loaded: LoadedWorkflow[] = [];
  for (const file of files) loaded.push(await loadWorkflowFile(file));
  const snapshot = await options.index.snapshot();
  const workflows: WorkflowReport[] = [];
  for (const workflow of loaded) workflows.push(await checkLoadedWorkflow(workflow, snapshot, options));
  return { ok: workflows.every(isWorkflowOk), workflows };
}

/** Checks one loaded workflow against a snapshot of the model roots. */
export async function checkLoadedWorkflow(
  loaded: LoadedWorkflow,
  snapshot: ModelSnapshot,
  options: Omit<CheckOptions, "index">,
): Promise<WorkflowReport> {
  const prepared = prepareWorkflow(loaded, options.objectInfo);
  const required = requiredFiles(prepared.api, {
    objectInfo: options.objectInfo,
    ...(options.live ? { comboFolder: comboFolderFor(snapshot) } : {}),
    ...(prepared.ui ? { ui: prepared.ui } : {}),
  });
  const weights = await locateWeights(snapshot, required.weights, {
    level: options.level,
    candidates: createCandidateFinder(snapshot),
    ...(options.hash ? { hash: options.hash } : {}),
    ...(options.expected ? { expected: options.expected } : {}),
  });
  const inputs = await Promise.all(required.inputs.map((input) => _input(input, options.dirs)));
  const warnings = [...prepared.warnings, ...required.warnings];
  return {
    file: loaded.file,
    format: loaded.format,
    weights,
    inputs,
    // the editor saves the pack (cnr_id/aux_id) only in UI files; otherwise name a well-known one
    unknown_nodes: prepared.unknownNodes.map((node) => {
      const pack = node.pack ?? knownNodePack(node.class_type);
      return pack ? { ...node, pack } : node;
    }),
    ...(warnings.length > 0 ? { warnings } : {}),
  };
}

/** Missing input files don't fail a check: jobs usually bring them (`images`), and exit 3 is about weights. */
export function isWorkflowOk(report: WorkflowReport): boolean {
  return report.weights.every((weight) => weight.status === "present");
}

/**
 * Maps a file COMBO to the folder it lists: the folder with the most files whose whole listing is among
 * the options (ComfyUI fills such combos from get_filename_list). Only option lists that look like file
 * names are considered; an empty folder can't be recognised.
 */
export function comboFolderFor(snapshot: ModelSnapshot): (options: readonly string[]) => string | undefined {
  const lists = new Map<string, string[]>();
  const listed = (folder: string) => lists.get(folder) ?? lists.set(folder, snapshot.list(folder)).get(folder) ?? [];
  return (options) => {
    if (!options.some((option) => FILE_LIKE_RE.test(option))) return undefined;
    const offered = new Set(options);
    let best: { folder: string; size: number } | undefined;
    for (const folder of snapshot.folders()) {
      if (SKIPPED_FOLDERS.has(folder)) continue;
      const names = listed(folder);
      if (names.length === 0 || names.length > offered.size || (best && names.length <= best.size)) continue;
      if (names.every((name) => offered.has(name))) best = { folder, size: names.length };
    }
    return best?.folder;
  };
}

const FILE_LIKE_RE = /\.[A-Za-z0-9]{2,12}$/;
const SKIPPED_FOLDERS = new Set(["custom_nodes", "datasets", "fonts", "configs"]);

async function _input(input: RequiredInput, dirs: CheckOptions["dirs"]): Promise<InputReport> {
  const base = { name: input.name, nodes: input.nodes };
  if (input.url) return { ...base, status: "url" };
  // like get_annotated_filepath: the name is relative to the chosen directory and never leaves it
  const relative = input.file.replace(/^[/\\]+/, "");
  if (relative.split(/[/\\]/).includes("..")) return { ...base, status: "missing" };
  const path = join(dirs[input.dir], relative);
  const found = await stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
  return { ...base, status: found ? "present" : "missing", path };
}
