/**
 * Which saved `widgets_values` entry belongs to which input, driven by a node's /object_info entry, the way
 * the editor creates widgets: widget inputs in `input_order` (required, then optional), one value each, plus
 * the extra values of "control after generate" and upload-button widgets, which are not inputs.
 */
import { comboOptions, type NodeInfo } from "../comfy/object-info.ts";

/** Values of the "control after generate" widget the editor adds after seed-like widgets. */
export const CONTROL_VALUES: ReadonlySet<string> = new Set(["fixed", "increment", "decrement", "randomize"]);

/** An input spec as /object_info gives it: `[type, options]` (type is a list for V1 combos). */
export type InputSpec = [type: unknown, options: Record<string, unknown>];

/** Saved widget values by input name. */
export interface WidgetValues {
  /** input name → saved value, in widget order; dynamic-combo sub-inputs as "combo.sub". */
  values: Map<string, unknown>;
  /** Widget inputs the node has no saved value for (saved by an older version of the node). */
  missing: { name: string; spec: InputSpec }[];
  /** Saved values left over after every widget took its own. */
  extra: number;
}

// input types the editor draws as widgets (and saves in widgets_values); the rest are connection slots
const WIDGET_TYPES = new Set([
  "INT",
  "FLOAT",
  "STRING",
  "BOOLEAN",
  "COMBO",
  "COLOR",
  "WEBCAM",
  "AUDIO_RECORD",
  "LOAD_3D",
]);
const DYNAMIC_COMBO = "COMFY_DYNAMICCOMBO_V3";
// the editor appends an upload button widget (value "image", …) when a required combo has one of these
const UPLOAD_FLAGS = ["image_upload", "video_upload", "audio_upload", "animated_image_upload"];
// dict-form widgets_values keys that only drive previews in the editor
const PREVIEW_KEYS = new Set(["videopreview", "preview"]);

/** The node's inputs of one section as `[name, spec]`, in `input_order` then any the order leaves out. */
export function orderedInputs(info: NodeInfo, section: "required" | "optional"): [string, InputSpec][] {
  const specs = info.input[section] ?? {};
  const order = info.input_order[section] ?? [];
  const names = [...order.filter((name) => name in specs), ...Object.keys(specs).filter((n) => !order.includes(n))];
  return names.map((name) => [name, toSpec(specs[name])]);
}

/** An /object_info input spec normalised to `[type, options]`. */
export function toSpec(raw: unknown): InputSpec {
  const list = Array.isArray(raw) ? raw : [raw];
  const options = list[1];
  return [list[0], typeof options === "object" && options !== null ? (options as Record<string, unknown>) : {}];
}

/** True for inputs the editor shows as a widget (a saved value), false for connection-only slots. */
export function isWidgetSpec([type, options]: InputSpec): boolean {
  if (options.forceInput === true) return false;
  if (Array.isArray(type)) return true;
  return typeof type === "string" && (WIDGET_TYPES.has(type) || type === DYNAMIC_COMBO);
}

/** Maps a node's saved widgets_values (positional or dict) onto its definition's widget inputs. */
export function mapWidgetValues(
  info: NodeInfo,
  saved: unknown[] | Record<string, unknown> | null | undefined,
): WidgetValues {
  const out: WidgetValues = { values: new Map(), missing: [], extra: 0 };
  if (saved && !Array.isArray(saved)) {
    for (const [name, value] of Object.entries(saved)) if (!PREVIEW_KEYS.has(name)) out.values.set(name, value);
    return out;
  }
  const walk = { saved: saved ?? [], next: 0, out };
  const required = orderedInputs(info, "required");
  _take(walk, required, "");
  // legacy editors place the upload button right after the required widgets; no core loader has optional widgets
  if (required.some(([, [, options]]) => UPLOAD_FLAGS.some((flag) => options[flag] === true))) walk.next++;
  _take(walk, orderedInputs(info, "optional"), "");
  out.extra = Math.max(0, walk.saved.length - walk.next);
  return out;
}

/** The value the editor gives a fresh widget: its default, a combo's first option, else the type's zero. */
export function widgetDefault([type, options]: InputSpec): unknown {
  if ("default" in options) return options.default;
  const combo = comboOptions([type, options]);
  if (combo) return combo[0];
  if (type === "INT" || type === "FLOAT") return typeof options.min === "number" ? Math.max(0, options.min) : 0;
  if (type === "STRING") return "";
  return type === "BOOLEAN" ? false : undefined;
}

// --- internal ---

type Walk = { saved: unknown[]; next: number; out: WidgetValues };

function _take(walk: Walk, entries: [string, InputSpec][], prefix: string): void {
  const widgets = entries.filter(([, spec]) => isWidgetSpec(spec));
  for (const [index, [name, spec]] of widgets.entries()) {
    const full = prefix + name;
    if (walk.next >= walk.saved.length) {
      walk.out.missing.push({ name: full, spec });
      continue;
    }
    const value = walk.saved[walk.next++];
    walk.out.values.set(full, value);
    if (spec[0] === DYNAMIC_COMBO) _take(walk, _dynamicInputs(spec, value), `${full}.`);
    else if (_isControlValue(name, spec, walk.saved[walk.next], widgets[index + 1]?.[1])) walk.next++;
  }
}

// a V3 dynamic combo's selected option brings its own inputs, saved right after the selector
function _dynamicInputs([, options]: InputSpec, selected: unknown): [string, InputSpec][] {
  const choices = Array.isArray(options.options) ? (options.options as { key?: unknown; inputs?: unknown }[]) : [];
  const inputs = choices.find((choice) => choice?.key === selected)?.inputs;
  if (typeof inputs !== "object" || inputs === null) return [];
  const sections = inputs as Record<string, Record<string, unknown> | undefined>;
  return ["required", "optional"].flatMap((section) =>
    Object.entries(sections[section] ?? {}).map(([name, raw]): [string, InputSpec] => [name, toSpec(raw)]),
  );
}

// the control value is only there when the editor added the widget; a saved value that is not one of
// its keywords belongs to the next widget (older editors, or a node that gained the flag later)
function _isControlValue(name: string, [type, options]: InputSpec, next: unknown, nextSpec?: InputSpec): boolean {
  if (typeof next !== "string" || !CONTROL_VALUES.has(next)) return false;
  if (options.control_after_generate) return true;
  // editors also add it to seed-like INTs whose definition omits the flag (API/partner nodes)
  if (type !== "INT" || !name.toLowerCase().includes("seed")) return false;
  return !(nextSpec && comboOptions(nextSpec)?.includes(next));
}
