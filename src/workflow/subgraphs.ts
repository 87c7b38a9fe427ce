/**
 * Subgraph expansion: every active subgraph instance is replaced by its definition's nodes, numbered as
 * ComfyUI's frontend numbers them for execution (instance id, then inner id, joined by ":").
 */
import {
  nodeMode,
  subgraphDefinitions,
  type UiGraph,
  type UiLink,
  type UiNode,
  type UiSubgraph,
  type UiWorkflow,
} from "./ui.ts";

/** One graph's nodes and links by id: the workflow itself or one copy of a subgraph definition. */
export interface FlatGraph {
  nodes: Map<string, UiNode>;
  links: Map<number, UiLink>;
}

/** One node after expansion. */
export interface FlatNode {
  /** Execution id: "7" at the top level, "12:5" inside instance 12, "12:3:9" one level deeper. */
  id: string;
  node: UiNode;
  /** The graph the node lives in; its links are the ones the node's inputs name. */
  graph: FlatGraph;
  /** The subgraph instance this node sits inside; undefined at the top level. */
  parent?: FlatNode;
  /** Set on an expanded instance: its definition and the inner graph its inner nodes live in. */
  expansion?: { def: UiSubgraph; graph: FlatGraph };
}

/** Every node of a workflow with subgraphs expanded, in document order (inner nodes after their instance). */
export interface FlatWorkflow {
  nodes: Map<string, FlatNode>;
  /** Subgraph definitions by id; instance nodes carry one of these ids as their `type`. */
  definitions: Map<string, UiSubgraph>;
  warnings: string[];
}

// nesting deeper than this is a definition that (indirectly) contains itself
const MAX_SUBGRAPH_DEPTH = 32;

/**
 * Expands every active subgraph instance, recursively. Muted and bypassed instances stay whole, so
 * the caller drops or bypasses them like any other node.
 */
export function flattenWorkflow(ui: UiWorkflow): FlatWorkflow {
  const out: FlatWorkflow = { nodes: new Map(), definitions: subgraphDefinitions(ui), warnings: [] };
  _addGraph(out, _index(ui), ui, undefined, []);
  return out;
}

/** The execution id of node `id` of the graph inside `parent` (or of the top level). */
export function childId(parent: FlatNode | undefined, id: string | number): string {
  return parent ? `${parent.id}:${id}` : String(id);
}

// --- internal ---

function _addGraph(out: FlatWorkflow, flat: FlatGraph, graph: UiGraph, parent: FlatNode | undefined, stack: string[]) {
  for (const node of graph.nodes) {
    const id = childId(parent, node.id);
    if (out.nodes.has(id)) {
      out.warnings.push(`node id ${id} appears twice; the second (${node.type}) was ignored`);
      continue;
    }
    const entry: FlatNode = { id, node, graph: flat, ...(parent ? { parent } : {}) };
    out.nodes.set(id, entry);
    const def = out.definitions.get(node.type);
    if (!def || nodeMode(node) !== "active") continue;
    if (stack.includes(def.id) || stack.length >= MAX_SUBGRAPH_DEPTH) {
      out.warnings.push(`subgraph "${def.name ?? def.id}" (node ${id}) contains itself; it was not expanded`);
      continue;
    }
    const inner = _index(def);
    entry.expansion = { def, graph: inner };
    _addGraph(out, inner, def, entry, [...stack, def.id]);
  }
}

function _index(graph: UiGraph): FlatGraph {
  return {
    nodes: new Map(graph.nodes.map((node) => [String(node.id), node])),
    links: new Map(graph.links.map((link) => [link.id, link])),
  };
}
