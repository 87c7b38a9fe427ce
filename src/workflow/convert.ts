/**
 * UI format → API format, driven by /object_info, producing what the editor's "Export (API)" produces:
 * widgets_values mapped onto widget inputs, links resolved through Reroutes, PrimitiveNodes, bypassed
 * nodes and subgraphs, muted and editor-only nodes left out.
 */
import type { NodeInfo, ObjectInfo } from "../comfy/object-info.ts";
import type { ApiNode, ApiWorkflow } from "./api.ts";
import { isLink } from "./api.ts";
import type { LoadedWorkflow } from "./load.ts";
import { type InputSource, type ResolveContext, resolveInput } from "./resolve.ts";
import { type FlatNode, flattenWorkflow } from "./subgraphs.ts";
import { nodeMode, type UiNode, type UiWorkflow } from "./ui.ts";
import {
  CONTROL_VALUES,
  type InputSpec,
  mapWidgetValues,
  toSpec,
  type WidgetValues,
  widgetDefault,
} from "./widgets.ts";

/** A node type the workflow uses that /object_info lacks, with the node pack that provides it when known. */
export interface UnknownNode {
  class_type: string;
  /** The pack's Comfy Registry id (`cnr_id`) or GitHub `user/repo` (`aux_id`), as the editor saved it. */
  pack?: string;
}

/** An API-format workflow plus what could not be converted faithfully. */
export interface ConvertResult {
  api: ApiWorkflow;
  unknownNodes: UnknownNode[];
  warnings: string[];
}

/** Editor-only node types: never sent to ComfyUI; they pass links through or hold a value. */
export const VIRTUAL_NODE_TYPES: ReadonlySet<string> = new Set([
  "Note",
  "MarkdownNote",
  "PrimitiveNode",
  "Reroute",
  "GetNode",
  "SetNode",
  "Reroute (rgthree)",
  "Label (rgthree)",
  "Bookmark (rgthree)",
  "Fast Groups Muter (rgthree)",
  "Fast Groups Bypasser (rgthree)",
  "Fast Muter (rgthree)",
  "Fast Bypasser (rgthree)",
  "Node Collector (rgthree)",
  "Note Plus (mtb)",
]);

const DYNAMIC_PROMPT_RE = /\{[^{}]*\|[^{}]*\}/;
// legacy group nodes ("workflow>Name") were never expanded by anything but the old editor
const GROUP_NODE_RE = /^workflow[>/]/;

/**
 * Converts a UI-format workflow to API format. Nodes /object_info lacks are kept with the inputs their
 * links give them and reported in `unknownNodes`; nothing here throws for a well-formed UiWorkflow.
 */
export function convertUiToApi(ui: UiWorkflow, objectInfo: ObjectInfo): ConvertResult {
  const flat = flattenWorkflow(ui);
  const warnings = flat.warnings;
  const known = (type: string) => Object.hasOwn(objectInfo, type);
  const ctx: ResolveContext = { flat, warnings, isVirtual: (type) => !known(type) && VIRTUAL_NODE_TYPES.has(type) };
  const api: ApiWorkflow = {};
  const unknown = new Map<string, UnknownNode>();
  for (const entry of flat.nodes.values()) {
    const { type } = entry.node;
    if (nodeMode(entry.node) !== "active" || ctx.isVirtual(type) || entry.expansion || flat.definitions.has(type)) {
      continue;
    }
    const info = known(type) ? objectInfo[type] : undefined;
    if (!info && !unknown.has(type)) unknown.set(type, _unknownNode(entry.node));
    api[entry.id] = _convertNode(ctx, entry, info);
  }
  _dropDanglingLinks(api, warnings);
  if (Object.keys(ui.extra?.groupNodes ?? {}).length > 0 || [...unknown.keys()].some((t) => GROUP_NODE_RE.test(t))) {
    warnings.push("the workflow uses legacy group nodes; convert them to subgraphs in the editor");
  }
  return { api, unknownNodes: [...unknown.values()], warnings };
}

/** The API form of any loaded workflow: an API one as it is, a UI one converted. */
export function apiWorkflowOf(loaded: LoadedWorkflow, objectInfo: ObjectInfo): ConvertResult {
  if (loaded.api) return { api: loaded.api, unknownNodes: [], warnings: [] };
  if (loaded.ui) return convertUiToApi(loaded.ui, objectInfo);
  return { api: {}, unknownNodes: [], warnings: [`${loaded.file} holds no workflow`] };
}

// --- internal ---

function _convertNode(ctx: ResolveContext, entry: FlatNode, info: NodeInfo | undefined): ApiNode {
  const { node } = entry;
  const label = `node ${entry.id} (${node.type})`;
  const widgets = info ? mapWidgetValues(info, node.widgets_values) : _unknownWidgets(node, ctx.warnings, label);
  const specs = { ...info?.input.required, ...info?.input.optional };
  const inputs: Record<string, unknown> = {};
  for (const [name, value] of widgets.values) inputs[name] = _literal(value, toSpec(specs[name]), ctx.warnings, label);
  for (const [slot, input] of node.inputs.entries()) {
    const source: InputSource | undefined = resolveInput(ctx, entry, slot);
    if (source) inputs[input.name] = source.kind === "link" ? [source.id, source.slot] : _wrap(source.value);
  }
  for (const { name, spec } of widgets.missing) {
    if (name in inputs) continue;
    const value = widgetDefault(spec);
    if (value === undefined) continue;
    inputs[name] = _wrap(value);
    ctx.warnings.push(
      `${label}: no saved value for "${name}" (saved by an older version); using ${JSON.stringify(value)}`,
    );
  }
  if (widgets.extra > 0) {
    ctx.warnings.push(`${label}: ${widgets.extra} saved widget value(s) beyond its definition were ignored`);
  }
  // key order as the editor's export writes it
  return { inputs, class_type: node.type, _meta: { title: node.title ?? info?.display_name ?? node.type } };
}

// without a definition, only a dict or the editor's own widget slots (newer editors list every widget
// as an input with `widget`) say which value is which; anything else can't be mapped safely
function _unknownWidgets(node: UiNode, warnings: string[], label: string): WidgetValues {
  const out: WidgetValues = { values: new Map(), missing: [], extra: 0 };
  const saved = node.widgets_values;
  if (!saved) return out;
  if (!Array.isArray(saved)) {
    for (const [name, value] of Object.entries(saved)) out.values.set(name, value);
    return out;
  }
  const names = node.inputs.filter((input) => input.widget).map((input) => input.widget?.name ?? input.name);
  const values = saved.filter((value, i) => !(CONTROL_VALUES.has(String(value)) && typeof saved[i - 1] === "number"));
  if (names.length !== values.length) {
    if (values.length > 0)
      warnings.push(`${label}: unknown node type, so its ${values.length} widget value(s) were left out`);
    return out;
  }
  for (const [i, name] of names.entries()) out.values.set(name, values[i]);
  return out;
}

// lists would read as links; some combo extensions save {content: "name", image: …} objects
function _literal(value: unknown, spec: InputSpec, warnings: string[], label: string): unknown {
  if (spec[1].dynamicPrompts === true && typeof value === "string" && DYNAMIC_PROMPT_RE.test(value)) {
    warnings.push(
      `${label}: its text has {a|b} choices, which the editor picks at random when queueing; kept as written`,
    );
  }
  const isCombo = Array.isArray(spec[0]) || spec[0] === "COMBO";
  if (
    isCombo &&
    typeof value === "object" &&
    value !== null &&
    typeof (value as { content?: unknown }).content === "string"
  ) {
    warnings.push(`${label}: a combo value was saved as an object by an editor extension; its "content" was used`);
    return (value as { content: string }).content;
  }
  return _wrap(value);
}

function _wrap(value: unknown): unknown {
  return Array.isArray(value) ? { __value__: value } : value;
}

// the editor's last pass: an input whose source node was not emitted (muted, editor-only) is removed
function _dropDanglingLinks(api: ApiWorkflow, warnings: string[]): void {
  for (const [id, node] of Object.entries(api)) {
    for (const [name, value] of Object.entries(node.inputs)) {
      if (!isLink(value) || String(value[0]) in api) continue;
      delete node.inputs[name];
      warnings.push(
        `node ${id} (${node.class_type}): input "${name}" came from node ${value[0]}, which is muted or was not converted; it was removed`,
      );
    }
  }
}

function _unknownNode(node: UiNode): UnknownNode {
  const { cnr_id: cnr, aux_id: aux } = node.properties;
  const pack = typeof cnr === "string" && cnr ? cnr : typeof aux === "string" && aux ? aux : undefined;
  return { class_type: node.type, ...(pack ? { pack } : {}) };
}
