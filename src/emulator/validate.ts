import { comboOptions, type ObjectInfo } from "../comfy/object-info.ts";
import { asLink, type Prompt } from "./graph.ts";

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
const MAX_LISTED_OPTIONS = 20;

type NodeResult = [valid: boolean, errors: ComfyError[]];
type InputSpec = [unknown, Record<string, unknown>];

/** Validates an API prompt exactly as ComfyUI's `validate_prompt` does, down to error texts and shapes. */
export function validatePrompt(prompt: Prompt, ctx: ValidateContext): Validation {
  const outputs: string[] = [];
  for (const [id, node] of Object.entries(prompt)) {
    const classType = typeof node === "object" && node !== null ? node.class_type : undefined;
    if (classType === undefined) {
      return _invalid("Cannot execute because a node is missing the class_type property.", id);
    }
    const info = ctx.info[classType];
    if (!info) return _invalid(`Cannot execute because node ${classType} does not exist.`, id);
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
  const nodeErrors: Record<string, NodeError> = {};
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
      if (!nodeErrors[id]) {
        const classType = prompt[id]?.class_type ?? "";
        nodeErrors[id] = { errors, dependent_outputs: [], class_type: classType };
        log.push(`* ${classType} ${id}:`, ...errors.map((e) => `  - ${e.message}: ${e.details}`));
      }
      nodeErrors[id].dependent_outputs.push(output);
    }
    log.push("Output will be ignored");
  }
  if (good.length > 0) return { ok: true, outputs: good, nodeErrors, log };
  const details = failed.map((e) => `${e.message}: ${e.details}`).join("\n");
  const error = { type: "prompt_outputs_failed_validation", message: "Prompt outputs failed validation", details };
  return { ok: false, error: { ...error, extra_info: {} }, nodeErrors, log };
}

/** ComfyUI's KeyError for a link to a node the prompt lacks: it escapes the linking node's validation. */
class MissingLinkTarget extends Error {
  constructor(id: string) {
    super(`'${id}'`);
  }
}

// validate_prompt: an exception out of an output node's own validation is filed under that output
function _validateOutput(prompt: Prompt, ctx: ValidateContext, id: string, validated: Map<string, NodeResult>) {
  try {
    return _validateNode(prompt, ctx, id, validated);
  } catch (error) {
    if (!(error instanceof MissingLinkTarget)) throw error;
    const extra = { exception_type: "KeyError", traceback: [] };
    const result: NodeResult = [
      false,
      [_reason("exception_during_validation", "Exception when validating node", error.message, extra)],
    ];
    validated.set(id, result);
    return result;
  }
}

function _validateNode(prompt: Prompt, ctx: ValidateContext, id: string, validated: Map<string, NodeResult>) {
  const known = validated.get(id);
  if (known) return known;
  const node = prompt[id];
  const info = node ? ctx.info[node.class_type] : undefined;
  if (!node || !info) return [false, []] as NodeResult;
  // seed the entry so a cycle terminates instead of recursing forever
  validated.set(id, [true, []]);
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
      const upstream = _checkLink(prompt, ctx, name, value, spec, validated, errors);
      if (upstream === false) valid = false;
      continue;
    }
    const error = _checkLiteral(name, value, spec, fileCheck?.[0] === name);
    if (error) errors.push(error);
  }
  const custom = fileCheck ? _checkFile(ctx, fileCheck, inputs) : undefined;
  if (custom) errors.push(custom);
  const result: NodeResult = [valid && errors.length === 0, errors];
  validated.set(id, result);
  return result;
}

// what LoadImage.VALIDATE_INPUTS & co. return for a file that is not there
function _checkFile(ctx: ValidateContext, [name, message]: [string, string], inputs: Record<string, unknown>) {
  const value = inputs[name];
  if (typeof value !== "string" || ctx.fileExists(value)) return undefined;
  const details = `${name} - ${message}: ${value}`;
  return _reason("custom_validation_failed", "Custom validation failed for node", details, { input_name: name });
}

function _checkLink(
  prompt: Prompt,
  ctx: ValidateContext,
  name: string,
  value: unknown[],
  spec: InputSpec,
  validated: Map<string, NodeResult>,
  errors: ComfyError[],
): boolean | undefined {
  const link = asLink(value);
  const config = [spec[0], spec[1]];
  if (!link) {
    const message = "Bad linked input, must be a length-2 list of [node_id, slot_index]";
    errors.push(
      _reason("bad_linked_input", message, name, { input_name: name, input_config: config, received_value: value }),
    );
    return undefined;
  }
  const source = prompt[link[0]];
  const sourceInfo = source ? ctx.info[source.class_type] : undefined;
  // prompt[o_id]['class_type'] raises KeyError out of this node's validation (unknown classes never get here)
  if (!source || !sourceInfo) throw new MissingLinkTarget(link[0]);
  const received = (sourceInfo.output as unknown[] | undefined)?.[link[1]];
  if (!_typesMatch(received, spec[0])) {
    const details = `${name}, received_type(${String(received)}) mismatch input_type(${String(spec[0])})`;
    const extra = { input_name: name, input_config: config, received_type: received, linked_node: value };
    errors.push(_reason("return_type_mismatch", "Return type mismatch between linked nodes", details, extra));
    return undefined;
  }
  try {
    return _validateNode(prompt, ctx, link[0], validated)[0];
  } catch (error) {
    if (!(error instanceof MissingLinkTarget)) throw error;
    // as a real 0.28.2 reports it: filed under the linked node, described with this node's input
    const extra = {
      exception_message: error.message,
      exception_type: "KeyError",
      traceback: [],
      linked_node: value,
      input_name: name,
      input_config: config,
    };
    const message = "Exception when validating inner node";
    validated.set(link[0], [false, [_reason("exception_during_inner_validation", message, error.message, extra)]]);
    return false;
  }
}

function _checkLiteral(name: string, raw: unknown, spec: InputSpec, fileValidated: boolean): ComfyError | undefined {
  const [type, options] = spec;
  const config = [type, options];
  const value = typeof raw === "object" && raw !== null && "__value__" in raw ? raw.__value__ : raw;
  const cast = _cast(type, value);
  if ("error" in cast) {
    const message = `Failed to convert an input value to a ${String(type)} value`;
    const extra = { input_name: name, input_config: config, received_value: value, exception_message: cast.error };
    // f"{x}, {val}, {ex}": str(), so a string shows without quotes
    const shown = typeof value === "string" ? value : _py(value);
    return _reason("invalid_input_type", message, `${name}, ${shown}, ${cast.error}`, extra);
  }
  if (fileValidated) return undefined;
  const extra = { input_name: name, input_config: config, received_value: cast.value };
  const min = options.min;
  if (typeof min === "number" && typeof cast.value === "number" && cast.value < min) {
    return _reason("value_smaller_than_min", `Value ${cast.value} smaller than min of ${min}`, name, extra);
  }
  const max = options.max;
  if (typeof max === "number" && typeof cast.value === "number" && cast.value > max) {
    return _reason("value_bigger_than_max", `Value ${cast.value} bigger than max of ${max}`, name, extra);
  }
  const combo = comboOptions(spec);
  if (!combo || options.remote || combo.includes(cast.value as string)) return undefined;
  const long = combo.length > MAX_LISTED_OPTIONS;
  const list = long ? `(list of length ${combo.length})` : `[${combo.map(_py).join(", ")}]`;
  const details = `${name}: '${String(cast.value)}' not in ${list}`;
  return _reason("value_not_in_list", "Value not in list", details, { ...extra, input_config: long ? null : config });
}

function _cast(type: unknown, value: unknown): { value: unknown } | { error: string } {
  if (type === "INT" || type === "FLOAT") {
    const number = typeof value === "boolean" ? Number(value) : typeof value === "string" ? Number(value) : value;
    const ok = typeof number === "number" && Number.isFinite(number) && !(typeof value === "string" && !value.trim());
    if (!ok && type === "INT") return { error: `invalid literal for int() with base 10: ${_py(value)}` };
    if (!ok) return { error: `could not convert string to float: ${_py(value)}` };
    return { value: type === "INT" ? Math.trunc(number) : number };
  }
  if (type === "STRING") return { value: typeof value === "string" ? value : _py(value) };
  if (type === "BOOLEAN") return { value: Boolean(value) };
  return { value };
}

function _typesMatch(received: unknown, expected: unknown): boolean {
  if (received === expected) return true;
  // combo inputs (V1 lists or COMBO) accept COMBO-typed links such as primitives
  if (Array.isArray(expected) || expected === "COMBO") return received === "COMBO" || Array.isArray(received);
  if (typeof received !== "string" || typeof expected !== "string") return false;
  const have = received.split(",").map((t) => t.trim());
  const want = expected.split(",").map((t) => t.trim());
  return have.includes("*") || want.includes("*") || have.some((t) => want.includes(t));
}

function _spec(raw: unknown): InputSpec {
  const list = Array.isArray(raw) ? raw : [raw];
  const options = list[1];
  return [list[0], typeof options === "object" && options !== null ? (options as Record<string, unknown>) : {}];
}

function _invalid(message: string, id: string): Validation {
  const error = { type: "invalid_prompt", message, details: `Node ID '#${id}'`, extra_info: {} };
  return { ok: false, error, nodeErrors: {}, log: [] };
}

function _missing(name: string): ComfyError {
  return _reason("required_input_missing", "Required input is missing", name, { input_name: name });
}

function _reason(type: string, message: string, details: string, extra_info: Record<string, unknown>): ComfyError {
  return { type, message, details, extra_info };
}

/** Python's repr of a simple value, as ComfyUI's messages embed it. */
function _py(value: unknown): string {
  if (typeof value === "string")
    return value.includes("'") && !value.includes('"') ? `"${value}"` : `'${value.replaceAll("'", "\\'")}'`;
  if (value === null || value === undefined) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}
