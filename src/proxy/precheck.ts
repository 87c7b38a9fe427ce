/**
 * What POST /prompt checks before a prompt goes to the endpoint, answering as ComfyUI would (400 with
 * `{error, node_errors}`): ComfyUI's own validation against the local /object_info — except that model files
 * are the endpoint's business, so a file name missing from a local model list is let through — the input files
 * LoadImage-like nodes name (read through the local ComfyUI), and weights the endpoint said it lacks.
 */
import type { NodeInfo, ObjectInfo } from "../comfy/object-info.ts";
import { comboOptions } from "../comfy/object-info.ts";
import type { Prompt } from "../emulator/graph.ts";
import { type ComfyError, type NodeError, validatePrompt } from "../emulator/validate.ts";
import { requiredFiles } from "../weights/required.ts";
import type { ApiWorkflow } from "../workflow/api.ts";
import type { KnownMissing } from "./known-missing.ts";

/** RunPod's `/run` payload limit (reference §4.5). */
export const RUN_PAYLOAD_MAX_BYTES = 10 * 1024 * 1024;

export type PromptCheck =
  | { ok: true; outputs: string[]; nodeErrors: Record<string, NodeError>; input: Record<string, unknown> }
  | { ok: false; error: ComfyError; nodeErrors: Record<string, unknown> };

export interface PrecheckDeps {
  info: ObjectInfo;
  /** Reads an input file through the local ComfyUI's /view; undefined when it is not there. */
  readInput: (file: { filename: string; subfolder: string; type: string }) => Promise<Uint8Array | undefined>;
  known: KnownMissing;
  partialTargets?: string[];
}

const FILE_NAME_RE = /\.[A-Za-z0-9]{1,12}$/;

/** Validates a prompt for the endpoint and builds the job input (`workflow` + every input file inline). */
export async function precheckPrompt(prompt: Prompt, deps: PrecheckDeps): Promise<PromptCheck> {
  const workflow = structuredClone(prompt) as ApiWorkflow;
  const files = await _readInputs(workflow, deps);
  const validation = validatePrompt(prompt, {
    info: _widened(deps.info, prompt),
    fileExists: (name) => files.has(name),
    // an unknown node answered as current ComfyUI does (0.28: missing_node_type); the frontend shows either form
    missingNodeType: true,
    ...(deps.partialTargets ? { partialTargets: deps.partialTargets } : {}),
  });
  if (!validation.ok) return { ok: false, error: validation.error, nodeErrors: validation.nodeErrors };
  const known = deps.known.check(prompt, validation.outputs);
  if (known) return { ok: false, ...known };
  const images = [...files.values()].map((file) => ({
    name: file.name,
    image: Buffer.from(file.bytes).toString("base64"),
  }));
  const input = { workflow, ...(images.length > 0 ? { images } : {}) };
  const size = Buffer.byteLength(JSON.stringify({ input }));
  if (size > RUN_PAYLOAD_MAX_BYTES) return { ok: false, ...tooLarge(size), nodeErrors: {} };
  return { ok: true, outputs: validation.outputs, nodeErrors: validation.nodeErrors, input };
}

/** The 400 a prompt gets when its inline input files push the request over RunPod's `/run` limit. */
export function tooLarge(size: number): { error: ComfyError } {
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
  const message = `The prompt and its input files are ${mb(size)}, over RunPod's ${mb(RUN_PAYLOAD_MAX_BYTES)} /run limit`;
  const details =
    'use smaller input images, or queue this one locally (POST /comfy-worker/queue-target {"target":"local"})';
  return { error: { type: "payload_too_large", message, details, extra_info: { bytes: size } } };
}

// every input file goes with the job; an "[output]"/"[temp]" annotation is resolved here and dropped
async function _readInputs(workflow: ApiWorkflow, deps: PrecheckDeps) {
  const files = new Map<string, { name: string; bytes: Uint8Array }>();
  for (const input of requiredFiles(workflow, { objectInfo: deps.info }).inputs) {
    if (input.url) continue;
    const slash = input.file.lastIndexOf("/");
    const filename = input.file.slice(slash + 1);
    const subfolder = slash < 0 ? "" : input.file.slice(0, slash);
    const bytes = await deps.readInput({ filename, subfolder, type: input.dir });
    if (!bytes) continue;
    files.set(input.name, { name: input.file, bytes });
    if (input.name === input.file) continue;
    for (const id of input.nodes) {
      const node = workflow[id];
      if (!node) continue;
      for (const [key, value] of Object.entries(node.inputs)) if (value === input.name) node.inputs[key] = input.file;
    }
  }
  return files;
}

// a file name the local model list lacks may well be on the endpoint: add it to that combo's options
function _widened(info: ObjectInfo, prompt: Prompt): ObjectInfo {
  const copy: ObjectInfo = { ...info };
  for (const node of Object.values(prompt)) {
    const classType = typeof node === "object" && node !== null ? node.class_type : undefined;
    const base = classType ? info[classType] : undefined;
    if (!classType || !base) continue;
    for (const [name, value] of Object.entries(node.inputs ?? {})) {
      if (typeof value !== "string" || !FILE_NAME_RE.test(value)) continue;
      if (copy[classType] === base) copy[classType] = structuredClone(base);
      _addOption(copy[classType] as NodeInfo, name, value);
    }
  }
  return copy;
}

function _addOption(info: NodeInfo, input: string, value: string): void {
  const section = info.input.required?.[input] !== undefined ? info.input.required : info.input.optional;
  const spec = section?.[input];
  const options = comboOptions(spec);
  if (!options || options.includes(value) || !Array.isArray(spec)) return;
  if (Array.isArray(spec[0])) spec[0] = [...options, value];
  else if (typeof spec[1] === "object" && spec[1] !== null)
    (spec[1] as { options: unknown[] }).options = [...options, value];
}
