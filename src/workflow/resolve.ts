/**
 * Where a node input's value comes from, following links the way the editor's graphToPrompt does
 * (litegraph ExecutableNodeDTO): through Reroutes and other editor-only nodes, bypassed nodes, and
 * subgraph boundaries in both directions.
 */
import { childId, type FlatNode, type FlatWorkflow } from "./subgraphs.ts";
import { nodeMode, SUBGRAPH_INPUT_ID, type UiNode } from "./ui.ts";
import { CONTROL_VALUES } from "./widgets.ts";

/** An input's source: another node's output, or a literal (a PrimitiveNode or a promoted subgraph widget). */
export type InputSource = { kind: "link"; id: string; slot: number } | { kind: "value"; value: unknown };

/** What resolution needs besides the graph. */
export interface ResolveContext {
  flat: FlatWorkflow;
  /** Editor-only node types (Reroute, PrimitiveNode, GetNode, …) that pass links through or hold a value. */
  isVirtual: (type: string) => boolean;
  warnings: string[];
}

/** The source of input `slot` of `node`, or undefined when nothing (reachable) is connected. */
export function resolveInput(
  ctx: ResolveContext,
  node: FlatNode,
  slot: number,
  visited = new Set<string>(),
  type?: string,
): InputSource | undefined {
  if (_revisits(ctx, visited, `${node.id}[I]${slot}`)) return undefined;
  const input = node.node.inputs[slot];
  const link = input?.link == null ? undefined : node.graph.links.get(input.link);
  if (!input || !link) return undefined;
  if (node.parent && link.origin_id === SUBGRAPH_INPUT_ID) {
    return _fromInstanceInput(ctx, node.parent, link.origin_slot, visited);
  }
  const origin = ctx.flat.nodes.get(childId(node.parent, link.origin_id));
  return origin ? _resolveOutput(ctx, origin, link.origin_slot, type ?? input.type, visited) : undefined;
}

/** True when two slot types may connect (LiteGraph.isValidConnection): "*", "" and comma lists included. */
export function isValidConnection(a: string, b: string): boolean {
  if (a === "" || a === "*" || b === "" || b === "*" || a === b) return true;
  const left = a.toLowerCase();
  const right = b.toLowerCase();
  if (!left.includes(",") && !right.includes(",")) return left === right;
  return left.split(",").some((x) => right.split(",").some((y) => isValidConnection(x.trim(), y.trim())));
}

/** The input a bypassed node passes to output `slot` for a consumer of `type`, or -1 when none fits. */
export function bypassSlotIndex(node: UiNode, slot: number, type: string): number {
  const { inputs } = node;
  if (type === "*" || type === "") return inputs.length > slot ? slot : 0;
  const outputType = node.outputs[slot]?.type ?? "*";
  const fits = (t: string) => isValidConnection(t, outputType) && isValidConnection(t, type);
  const opposite = inputs[slot];
  if (opposite && fits(opposite.type)) return slot;
  const exact = inputs.findIndex((input) => input.type === type);
  return exact >= 0 ? exact : inputs.findIndex((input) => fits(input.type));
}

/** The value a subgraph instance's own widget holds for its input `slot` (a widget promoted from inside). */
export function promotedWidgetValue(instance: UiNode, slot: number): InputSource | undefined {
  const name = instance.inputs[slot]?.widget?.name;
  const saved = instance.widgets_values;
  if (!name || !saved) return undefined;
  if (!Array.isArray(saved)) return name in saved ? { kind: "value", value: saved[name] } : undefined;
  let next = 0;
  for (const [index, input] of instance.inputs.entries()) {
    if (!input.widget) continue;
    if (index === slot) return next < saved.length ? { kind: "value", value: saved[next] } : undefined;
    next++;
    if (input.type === "INT" && CONTROL_VALUES.has(String(saved[next]))) next++;
  }
  return undefined;
}

// --- internal ---

function _resolveOutput(
  ctx: ResolveContext,
  node: FlatNode,
  slot: number,
  type: string,
  visited: Set<string>,
): InputSource | undefined {
  if (_revisits(ctx, visited, `${node.id}[O]${slot}`)) return undefined;
  if (nodeMode(node.node) === "bypassed") {
    const index = bypassSlotIndex(node.node, slot, type);
    return index < 0 ? undefined : resolveInput(ctx, node, index, visited);
  }
  if (node.expansion) return _fromSubgraphOutput(ctx, node, slot, type, visited);
  // muted nodes still answer with a link here; the caller drops inputs whose source was not emitted
  if (!ctx.isVirtual(node.node.type)) return { kind: "link", id: node.id, slot };
  return _throughVirtual(ctx, node, slot, type, visited);
}

function _throughVirtual(ctx: ResolveContext, node: FlatNode, slot: number, type: string, visited: Set<string>) {
  const { type: kind, widgets_values: saved } = node.node;
  // the editor copies a PrimitiveNode's value into every widget it feeds (applyToGraph)
  if (kind === "PrimitiveNode") return Array.isArray(saved) && saved.length > 0 ? _value(saved[0]) : undefined;
  if (node.node.inputs[slot]) return resolveInput(ctx, node, slot, visited, type);
  const setter = kind === "GetNode" ? _setterOf(ctx, node) : undefined;
  return setter ? resolveInput(ctx, setter, 0, visited, type) : undefined;
}

// KJNodes-style variables: a GetNode reads what the SetNode of the same name (same graph) stores
function _setterOf(ctx: ResolveContext, getter: FlatNode): FlatNode | undefined {
  const name = _firstValue(getter.node);
  for (const node of getter.graph.nodes.values()) {
    if (node.type === "SetNode" && _firstValue(node) === name)
      return ctx.flat.nodes.get(childId(getter.parent, node.id));
  }
  ctx.warnings.push(`GetNode ${getter.id} reads "${String(name)}", which no SetNode stores`);
  return undefined;
}

function _fromInstanceInput(ctx: ResolveContext, instance: FlatNode, slot: number, visited: Set<string>) {
  const outer = instance.node.inputs[slot];
  if (!outer) return undefined;
  return outer.link == null ? promotedWidgetValue(instance.node, slot) : resolveInput(ctx, instance, slot, visited);
}

function _fromSubgraphOutput(ctx: ResolveContext, node: FlatNode, slot: number, type: string, visited: Set<string>) {
  const { def, graph } = node.expansion ?? {};
  const linkId = def?.outputs[slot]?.linkIds[0];
  const link = linkId === undefined ? undefined : graph?.links.get(linkId);
  if (!link) return undefined;
  if (link.origin_id === SUBGRAPH_INPUT_ID) return _fromInstanceInput(ctx, node, link.origin_slot, visited);
  const inner = ctx.flat.nodes.get(childId(node, link.origin_id));
  return inner ? _resolveOutput(ctx, inner, link.origin_slot, type, visited) : undefined;
}

function _revisits(ctx: ResolveContext, visited: Set<string>, key: string): boolean {
  if (!visited.has(key)) {
    visited.add(key);
    return false;
  }
  ctx.warnings.push(`links form a loop through ${key.replace(/\[[IO]\]/, " slot ")}; that input was left unconnected`);
  return true;
}

function _firstValue(node: UiNode): unknown {
  return Array.isArray(node.widgets_values) ? node.widgets_values[0] : undefined;
}

function _value(value: unknown): InputSource {
  return { kind: "value", value };
}
