import type { ObjectInfo } from "../comfy/object-info.ts";
import { asLink, type Prompt } from "./graph.ts";
import { checkLiteral, comfyReason, type InputSpec, typesMatch } from "./validate-inputs.ts";

/** ComfyUI's error object: top-level `error` and every node error reason. */
export interface ComfyError {
  type: string;
  message: string;
  details: string;
  extra_info: Record<string, unknown>;
}

/** One `node_errors` entry. */
export interface NodeError {
  errors: ComfyError[];
  dependent_outputs: string[];
  class_type: string;
}

export type Validation =
  | { ok: true; outputs: string[]; nodeErrors: Record<string, NodeError>; log: string[] }
  | { ok: false; error: ComfyError; nodeErrors: Record<string, NodeError>; log: string[] };

export interface ValidateContext {
  /** /object_info with file combos filled from the folders. */
  info: ObjectInfo;
  /** Whether an (optionally annotated) input file exists, for nodes whose VALIDATE_INPUTS checks it. */
  fileExists: (name: string) => boolean;
  partialTargets?: string[];
  /** Answer an unknown or class-less node as 0.28.2 does (`missing_node_type`), not as the 0.3 line did. */
  missingNodeType?: boolean;
}

// nodes whose VALIDATE_INPUTS checks a file instead of the combo list (input name, message)
const FILE_VALIDATORS: Record<string, [string, string]> = {
  LoadImage: ["image", "Invalid image file"],
  LoadImageMask: ["image", "Invalid image file"],
  LoadImageOutput: ["image", "Invalid image file"],
  LoadAudio: ["audio", "Invalid audio file"],
  LoadVideo: ["file", "Invalid video file"],
  LoadLatent: ["latent", "Invalid latent file"],
};

type NodeResult = [valid: boolean, errors: ComfyError[]];

/** Validates an API prompt exactly as ComfyUI's `validate_prompt` does, down to error texts and shapes. */
export function validatePrompt(prompt: Prompt, ctx: ValidateContext): Validation {
  const outputs: string[] = [];
  for (const [id, node] of Object.entries(prompt)) {
    const classType = typeof node === "object" && node !== null ? node.class_type : undefined;
    if (classType === undefined) return _missingNode(ctx, id, node, undefined);
    const info = _nodeInfo(ctx, classType);
    if (!info) return _missingNode(ctx, id, node, classType);
    if (info.output_node === true && (!ctx.partialTargets || ctx.partialTargets.includes(id))) outputs.push(id);
  }
  if (outputs.length === 0) {
    const error = { type: "prompt_no_outputs", message: "Prompt has no outputs", details: "", extra_info: {} };
    return { ok: false, error, nodeErrors: {}, log: [] };
  }
  return _validateOutputs(prompt, ctx, outputs);
}

function _validateOutputs(prompt: Prompt, ctx: ValidateContext, outputs: string[]): Validation {
  const good: string[] = [];
  const failed: ComfyError[] = [];
  // a Map: a node id is any string to ComfyUI ("__proto__" too), never a key of an object's prototype
  const byNode = new Map<string, NodeError>();
  const validated = new Map<string, NodeResult>();
  const log: string[] = [];
  for (const output of outputs) {
    const [valid, reasons] = _validateOutput(prompt, ctx, output, validated);
    if (valid) {
      good.push(output);
      continue;
    }
    log.push(`Failed to validate prompt for output ${output}:`);
    failed.push(...reasons);
    for (const [id, [ok, errors]] of validated) {
      if (ok || errors.length === 0) continue;
      let entry = byNode.get(id);
      if (!entry) {
        const classType = prompt[id]?.class_type ?? "";
        entry = { errors, dependent_outputs: [], class_type: classType };
        byNode.set(id, entry);
        log.push(`* ${classType} ${id}:`, ...errors.map((e) => `  - ${e.message}: ${e.details}`));
      }
      entry.dependent_outputs.push(output);
    }
    log.push("Output will be ignored");
  }
  // fromEntries makes "__proto__" an own key, as JSON.parse does
  const nodeErrors: Record<string, NodeError> = Object.fromEntries(byNode);
  if (good.length > 0) return { ok: true, outputs: good, nodeErrors, log };
  const details = failed.map((e) => `${e.message}: ${e.details}`).join("\n");
  const error = { type: "prompt_outputs_failed_validation", message: "Prompt outputs failed validation", details };
  return { ok: false, error: { ...error, extra_info: {} }, nodeErrors, log };
}

/** ComfyUI's KeyError for a link to a node the prompt lacks: it escapes the linking node's validation. */
/** A Python exception validate_inputs would raise, with its type name (str(ex) is the message). */
class PythonError extends Error {
  constructor(
    message: string,
    readonly pythonType: string,
  ) {
    super(message);
  }
}

// prompt[o_id]['class_type'] for a node that is not there
class MissingLinkTarget extends PythonError {
  constructor(id: string) {
    super(`'${id}'`, "KeyError");
  }
}

// validate_prompt: an exception out of an output node's own validation is filed under that output
function _validateOutput(prompt: Prompt, ctx: ValidateContext, id: string, validated: Map<string, NodeResult>) {
  try {
    return _validateNode(prompt, ctx, id, validated, []);
  } catch (error) {
    if (!(error instanceof PythonError)) throw error;
    const extra = { exception_type: error.pythonType, traceback: [] };
    const result: NodeResult = [
      false,
      [comfyReason("exception_during_validation", "Exception when validating node", error.message, extra)],
    ];
    validated.set(id, result);
    return result;
  }
}

function _validateNode(
  prompt: Prompt,
  ctx: ValidateContext,
  id: string,
  validated: Map<string, NodeResult>,
  visiting: string[],
): NodeResult {
  const known = validated.get(id);
  if (known) return known;
  if (visiting.includes(id)) return _cycle(prompt, id, validated, visiting);
  const node = prompt[id];
  const info = node ? _nodeInfo(ctx, node.class_type) : undefined;
  if (!node || !info) return [false, []] as NodeResult;
  const inputs = typeof node.inputs === "object" && node.inputs !== null ? node.inputs : {};
  const fileCheck = FILE_VALIDATORS[node.class_type];
  const errors: ComfyError[] = [];
  let valid = true;
  const specs = { ...info.input?.required, ...info.input?.optional } as Record<string, unknown>;
  for (const [name, rawSpec] of Object.entries(specs)) {
    const spec = _spec(rawSpec);
    if (!(name in inputs)) {
      if (info.input?.required && name in info.input.required) errors.push(_missing(name));
      continue;
    }
    const value = inputs[name];
    if (Array.isArray(value)) {
      const upstream = _checkLink(prompt, ctx, { name, value, spec }, validated, errors, [...visiting, id]);
      if (upstream === false) valid = false;
      continue;
    }
    const error = checkLiteral(name, value, spec, fileCheck?.[0] === name);
    if (error) errors.push(error);
  }
  const custom = fileCheck ? _checkFile(ctx, fileCheck, inputs) : undefined;
  if (custom) errors.push(custom);
  // a cycle found below this node may already have filed its error here: joined, as ComfyUI does
  const [ok, filed] = validated.get(id) ?? [true, []];
  const result: NodeResult = [ok && valid && errors.length === 0, [...filed, ...errors]];
  validated.set(id, result);
  return result;
}

// validate_inputs reaching a node it is still validating: every node of the loop gets the same error
function _cycle(prompt: Prompt, id: string, validated: Map<string, NodeResult>, visiting: string[]): NodeResult {
  const path = [...visiting.slice(visiting.indexOf(id)), id];
  const nodes = [...new Set(path)];
  const details = path.map((node) => `${node} (${prompt[node]?.class_type})`).join(" -> ");
  for (const node of nodes) {
    const extra = { node_id: node, cycle_nodes: nodes };
    validated.set(node, [false, [comfyReason("dependency_cycle", "Dependency cycle detected", details, extra)]]);
  }
  return validated.get(id) as NodeResult;
}

// what LoadImage.VALIDATE_INPUTS & co. return for a file that is not there
function _checkFile(ctx: ValidateContext, [name, message]: [string, string], inputs: Record<string, unknown>) {
  const value = inputs[name];
  if (typeof value !== "string" || ctx.fileExists(value)) return undefined;
  const details = `${name} - ${message}: ${value}`;
  return comfyReason("custom_validation_failed", "Custom validation failed for node", details, { input_name: name });
}

function _checkLink(
  prompt: Prompt,
  ctx: ValidateContext,
  { name, value, spec }: { name: string; value: unknown[]; spec: InputSpec },
  validated: Map<string, NodeResult>,
  errors: ComfyError[],
  visiting: string[],
): boolean | undefined {
  const link = asLink(value);
  const config = [spec[0], spec[1]];
  if (!link) {
    const message = "Bad linked input, must be a length-2 list of [node_id, slot_index]";
    errors.push(
      comfyReason("bad_linked_input", message, name, { input_name: name, input_config: config, received_value: value }),
    );
    return undefined;
  }
  const source = Object.hasOwn(prompt, link[0]) ? prompt[link[0]] : undefined;
  const sourceInfo = source ? _nodeInfo(ctx, source.class_type) : undefined;
  // prompt[o_id]['class_type'] raises KeyError out of this node's validation (unknown classes never get here)
  if (!source || !sourceInfo) throw new MissingLinkTarget(link[0]);
  const outputs = (sourceInfo.output as unknown[] | undefined) ?? [];
  // RETURN_TYPES[val[1]] for an output the node does not have: an IndexError out of this node's validation
  if (link[1] >= outputs.length || link[1] < -outputs.length)
    throw new PythonError("tuple index out of range", "IndexError");
  const received = outputs.at(link[1]);
  if (!typesMatch(received, spec[0])) {
    const details = `${name}, received_type(${String(received)}) mismatch input_type(${String(spec[0])})`;
    const extra = { input_name: name, input_config: config, received_type: received, linked_node: value };
    errors.push(comfyReason("return_type_mismatch", "Return type mismatch between linked nodes", details, extra));
    return undefined;
  }
  try {
    return _validateNode(prompt, ctx, link[0], validated, visiting)[0];
  } catch (error) {
    if (!(error instanceof PythonError)) throw error;
    // as a real 0.28.2 reports it: filed under the linked node, described with this node's input
    const extra = {
      exception_message: error.message,
      exception_type: error.pythonType,
      traceback: [],
      linked_node: value,
      input_name: name,
      input_config: config,
    };
    const message = "Exception when validating inner node";
    validated.set(link[0], [false, [comfyReason("exception_during_inner_validation", message, error.message, extra)]]);
    return false;
  }
}

function _spec(raw: unknown): InputSpec {
  const list = Array.isArray(raw) ? raw : [raw];
  const options = list[1];
  return [list[0], typeof options === "object" && options !== null ? (options as Record<string, unknown>) : {}];
}

// own entries only: a class_type "constructor" is an unknown node, not Object's constructor
function _nodeInfo(ctx: ValidateContext, classType: unknown) {
  return typeof classType === "string" && Object.hasOwn(ctx.info, classType) ? ctx.info[classType] : undefined;
}

// validate_prompt's answer for a node it cannot run: class-less (classType undefined) or of an unknown type
function _missingNode(ctx: ValidateContext, id: string, node: unknown, classType: string | undefined): Validation {
  if (!ctx.missingNodeType) {
    const message =
      classType === undefined ? "a node is missing the class_type property" : `node ${classType} does not exist`;
    return _invalid(`Cannot execute because ${message}.`, id);
  }
  // node_data.get('_meta', {}).get('title', class_type): a title key, even null, wins
  const meta = (node as { _meta?: unknown } | null)?._meta;
  const titled = typeof meta === "object" && meta !== null && "title" in meta;
  const title = titled ? (meta as { title: unknown }).title : (classType ?? null);
  const message =
    classType === undefined
      ? `Node '${title || `ID #${id}`}' has no class_type. The workflow may be corrupted or a custom node is missing.`
      : `Node '${title}' not found. The custom node may not be installed.`;
  const extra_info = { node_id: id, class_type: classType ?? null, node_title: title ?? null };
  const error = { type: "missing_node_type", message, details: `Node ID '#${id}'`, extra_info };
  return { ok: false, error, nodeErrors: {}, log: [] };
}

function _invalid(message: string, id: string): Validation {
  const error = { type: "invalid_prompt", message, details: `Node ID '#${id}'`, extra_info: {} };
  return { ok: false, error, nodeErrors: {}, log: [] };
}

function _missing(name: string): ComfyError {
  return comfyReason("required_input_missing", "Required input is missing", name, { input_name: name });
}
