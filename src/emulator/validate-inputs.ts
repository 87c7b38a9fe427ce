/**
 * How ComfyUI's validate_inputs judges one input on its own: a literal cast to the input's type and checked
 * against its min, max and combo list, a link's type against the input's, in ComfyUI's own words.
 */
import { comboOptions } from "../comfy/object-info.ts";
import type { ComfyError } from "./validate.ts";

// a longer combo list is described by its length
const MAX_LISTED_OPTIONS = 20;

/** `[type, options]` of an input spec. */
export type InputSpec = [unknown, Record<string, unknown>];

/** The error of a literal input value, or undefined when ComfyUI accepts it. */
export function checkLiteral(
  name: string,
  raw: unknown,
  spec: InputSpec,
  fileValidated: boolean,
): ComfyError | undefined {
  const [type, options] = spec;
  const config = [type, options];
  const value = typeof raw === "object" && raw !== null && "__value__" in raw ? raw.__value__ : raw;
  const cast = _cast(type, value);
  if ("error" in cast) {
    const message = `Failed to convert an input value to a ${String(type)} value`;
    const extra = { input_name: name, input_config: config, received_value: value, exception_message: cast.error };
    // f"{x}, {val}, {ex}": str(), so a string shows without quotes
    const shown = typeof value === "string" ? value : py(value);
    return comfyReason("invalid_input_type", message, `${name}, ${shown}, ${cast.error}`, extra);
  }
  if (fileValidated) return undefined;
  const extra = { input_name: name, input_config: config, received_value: cast.value };
  const min = options.min;
  if (typeof min === "number" && typeof cast.value === "number" && cast.value < min) {
    return comfyReason("value_smaller_than_min", `Value ${cast.value} smaller than min of ${min}`, name, extra);
  }
  const max = options.max;
  if (typeof max === "number" && typeof cast.value === "number" && cast.value > max) {
    return comfyReason("value_bigger_than_max", `Value ${cast.value} bigger than max of ${max}`, name, extra);
  }
  const combo = comboOptions(spec);
  if (!combo || options.remote || combo.includes(cast.value as string)) return undefined;
  const long = combo.length > MAX_LISTED_OPTIONS;
  const list = long ? `(list of length ${combo.length})` : `[${combo.map(py).join(", ")}]`;
  const details = `${name}: '${String(cast.value)}' not in ${list}`;
  return comfyReason("value_not_in_list", "Value not in list", details, {
    ...extra,
    input_config: long ? null : config,
  });
}

function _cast(type: unknown, value: unknown): { value: unknown } | { error: string } {
  if (type === "INT" || type === "FLOAT") {
    const number = typeof value === "boolean" ? Number(value) : typeof value === "string" ? Number(value) : value;
    const ok = typeof number === "number" && Number.isFinite(number) && !(typeof value === "string" && !value.trim());
    if (!ok && type === "INT") return { error: `invalid literal for int() with base 10: ${py(value)}` };
    if (!ok) return { error: `could not convert string to float: ${py(value)}` };
    return { value: type === "INT" ? Math.trunc(number) : number };
  }
  if (type === "STRING") return { value: typeof value === "string" ? value : py(value) };
  if (type === "BOOLEAN") return { value: Boolean(value) };
  return { value };
}

/** Whether a link's output type fits an input type (`*`, comma lists, combos). */
export function typesMatch(received: unknown, expected: unknown): boolean {
  if (received === expected) return true;
  // combo inputs (V1 lists or COMBO) accept COMBO-typed links such as primitives
  if (Array.isArray(expected) || expected === "COMBO") return received === "COMBO" || Array.isArray(received);
  if (typeof received !== "string" || typeof expected !== "string") return false;
  const have = received.split(",").map((t) => t.trim());
  const want = expected.split(",").map((t) => t.trim());
  return have.includes("*") || want.includes("*") || have.some((t) => want.includes(t));
}

/** One error reason as ComfyUI words it. */
export function comfyReason(
  type: string,
  message: string,
  details: string,
  extra_info: Record<string, unknown>,
): ComfyError {
  return { type, message, details, extra_info };
}

/** Python's repr of a simple value, as ComfyUI's messages embed it. */
export function py(value: unknown): string {
  if (typeof value === "string")
    return value.includes("'") && !value.includes('"') ? `"${value}"` : `'${value.replaceAll("'", "\\'")}'`;
  if (value === null || value === undefined) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}
