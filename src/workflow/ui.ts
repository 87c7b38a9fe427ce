/**
 * ComfyUI's UI ("workflow") format as the editor saves it: schema 0.4 (links as tuples) and 1 (links as
 * objects), subgraph definitions in `definitions.subgraphs`, node modes. Links are normalised to objects.
 */
import { z } from "zod";
import { WorkerError } from "../errors.ts";
import { builtOnce } from "../lib/built-once.ts";
import { describeProblem } from "../lib/issues.ts";

/** litegraph's LGraphEventMode values that matter for execution. */
export const NODE_MODE = { always: 0, never: 2, bypass: 4 } as const;

/** What a node's mode means for execution. */
export type NodeMode = "active" | "muted" | "bypassed";

/** The id litegraph gives the inputs box inside a subgraph definition (links from it carry instance inputs). */
export const SUBGRAPH_INPUT_ID = -10;
/** The id of the outputs box inside a subgraph definition. */
export const SUBGRAPH_OUTPUT_ID = -20;

// built on first use: zod builds each schema at import, and a `run` of an API workflow (most runs) parses no UI
// workflow; these took about 0.8 ms of every command's start
const parts = builtOnce(() => {
  const NodeId = z.union([z.number(), z.string()]);
  // litegraph slot types: a name, "*", a comma list, a legacy combo list or a numeric event type
  const SlotType = z.unknown().transform((t): string => {
    if (typeof t === "string") return t;
    return Array.isArray(t) ? "COMBO" : "*";
  });
  const LinkId = z.number().int();
  const LinkTuple = z
    .tuple([LinkId, NodeId, z.number().int(), NodeId, z.number().int()])
    .rest(z.unknown())
    .transform(([id, origin_id, origin_slot, target_id, target_slot, type]) => ({
      id,
      origin_id,
      origin_slot,
      target_id,
      target_slot,
      type: SlotType.parse(type),
    }));
  const LinkObject = z.looseObject({
    id: LinkId,
    origin_id: NodeId,
    origin_slot: z.number().int(),
    target_id: NodeId,
    target_slot: z.number().int(),
    type: SlotType,
  });
  // a link, whichever form the file used: `[id, origin, slot, target, slot, type]` or an object
  const UiLink = z.union([LinkTuple, LinkObject]);
  // some editors leave null holes in links[]; they carry nothing
  const Links = z
    .array(UiLink.nullable())
    .default([])
    .transform((links) => links.filter((link): link is z.infer<typeof UiLink> => link !== null));
  // one input slot; `widget` is set when the slot belongs to a widget (converted or promoted)
  const UiInput = z.looseObject({
    name: z.string(),
    type: SlotType,
    link: LinkId.nullable().optional(),
    widget: z.looseObject({ name: z.string() }).optional(),
    label: z.string().optional(),
  });
  const UiOutput = z.looseObject({
    name: z.string().optional(),
    type: SlotType,
    links: z.array(LinkId).nullable().optional(),
  });
  // `type` is the node's class_type, or a subgraph definition's id for a subgraph instance
  const UiNode = z.looseObject({
    id: NodeId,
    type: z.string().min(1),
    mode: z.number().int().default(NODE_MODE.always),
    title: z.string().optional(),
    inputs: z
      .array(UiInput)
      .nullable()
      .default([])
      .transform((v) => v ?? []),
    outputs: z
      .array(UiOutput)
      .nullable()
      .default([])
      .transform((v) => v ?? []),
    properties: z
      .record(z.string(), z.unknown())
      .nullable()
      .default({})
      .transform((v) => v ?? {}),
    widgets_values: z
      .union([z.array(z.unknown()), z.record(z.string(), z.unknown())])
      .nullable()
      .optional(),
  });
  // a subgraph's input or output as its definition lists it; `linkIds` are links inside the definition
  const UiSubgraphSlot = z.looseObject({
    name: z.string(),
    type: SlotType,
    linkIds: z
      .array(LinkId)
      .nullable()
      .default([])
      .transform((v) => v ?? []),
  });
  return { Links, UiLink, UiInput, UiOutput, UiNode, UiSubgraphSlot };
});
type Parts = ReturnType<typeof parts>;

/** A link, whichever form the file used, as an object. */
export type UiLink = z.infer<Parts["UiLink"]>;
/** One input slot; `widget` is set when the slot belongs to a widget (converted or promoted). */
export type UiInput = z.infer<Parts["UiInput"]>;
/** One output slot. */
export type UiOutput = z.infer<Parts["UiOutput"]>;
/** One node; `type` is its class_type, or a subgraph definition's id for a subgraph instance. */
export type UiNode = z.infer<Parts["UiNode"]>;
/** A subgraph's input or output as its definition lists it; `linkIds` are links inside the definition. */
export type UiSubgraphSlot = z.infer<Parts["UiSubgraphSlot"]>;

/** A subgraph definition: a graph of its own whose boxes are nodes -10 (inputs) and -20 (outputs). */
export type UiSubgraph = {
  id: string;
  name?: string;
  nodes: UiNode[];
  links: UiLink[];
  inputs: UiSubgraphSlot[];
  outputs: UiSubgraphSlot[];
  definitions?: { subgraphs: UiSubgraph[] };
  [key: string]: unknown;
};

/** A UI-format workflow (schema 0.4 or 1). */
export type UiWorkflow = {
  version?: number;
  nodes: UiNode[];
  links: UiLink[];
  definitions?: { subgraphs: UiSubgraph[] };
  extra?: Record<string, unknown>;
  [key: string]: unknown;
};

const uiWorkflow = builtOnce((): z.ZodType<UiWorkflow> => {
  const { Links, UiNode, UiSubgraphSlot } = parts();
  const UiSubgraph: z.ZodType<UiSubgraph> = z.lazy(() =>
    z.looseObject({
      id: z.string().min(1),
      name: z.string().optional(),
      nodes: z.array(UiNode),
      links: Links,
      inputs: z.array(UiSubgraphSlot).default([]),
      outputs: z.array(UiSubgraphSlot).default([]),
      definitions: z.looseObject({ subgraphs: z.array(UiSubgraph).default([]) }).optional(),
    }),
  ) as z.ZodType<UiSubgraph>;
  return z.looseObject({
    version: z.number().optional(),
    nodes: z.array(UiNode),
    links: Links,
    definitions: z.looseObject({ subgraphs: z.array(UiSubgraph).default([]) }).optional(),
    extra: z.record(z.string(), z.unknown()).optional(),
  }) as z.ZodType<UiWorkflow>;
});

/** A graph: the workflow itself or one subgraph definition. */
export type UiGraph = { nodes: UiNode[]; links: UiLink[] };

/** What a node's `mode` means: 2 is muted ("never"), 4 is bypassed, everything else runs. */
export function nodeMode(node: Pick<UiNode, "mode">): NodeMode {
  if (node.mode === NODE_MODE.never) return "muted";
  return node.mode === NODE_MODE.bypass ? "bypassed" : "active";
}

/** Every subgraph definition by id, nested definitions included. */
export function subgraphDefinitions(ui: UiWorkflow): Map<string, UiSubgraph> {
  const out = new Map<string, UiSubgraph>();
  const visit = (defs: UiSubgraph[] | undefined) => {
    for (const def of defs ?? []) {
      if (out.has(def.id)) continue;
      out.set(def.id, def);
      visit(def.definitions?.subgraphs);
    }
  };
  visit(ui.definitions?.subgraphs);
  return out;
}

/**
 * Validates a UI-format workflow; throws E_INPUT naming `where`, the JSON path (and node) and what was
 * expected, or a live link whose source node is not in its graph.
 */
export function parseUiWorkflow(value: unknown, where = "workflow"): UiWorkflow {
  const parsed = uiWorkflow().safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = _jsonPath(issue?.path ?? [], value);
    const problem = issue ? describeProblem(issue, value) : "is not valid";
    throw new WorkerError("E_INPUT", `${where}: ${path} ${problem} (UI-format workflow)`);
  }
  const ui = parsed.data;
  _checkLinks(ui, where, "");
  for (const def of subgraphDefinitions(ui).values()) _checkLinks(def, where, ` in subgraph "${def.name ?? def.id}"`);
  return ui;
}

// --- internal ---

// a link that an input uses must start at a node of the same graph, or the editor can't queue it either
function _checkLinks(graph: UiGraph, where: string, scope: string): void {
  const ids = new Set(graph.nodes.map((node) => String(node.id)));
  ids.add(String(SUBGRAPH_INPUT_ID));
  const links = new Map(graph.links.map((link) => [link.id, link]));
  for (const node of graph.nodes) {
    for (const input of node.inputs) {
      const link = input.link == null ? undefined : links.get(input.link);
      if (!link || ids.has(String(link.origin_id))) continue;
      throw new WorkerError(
        "E_INPUT",
        `${where}: node ${node.id} (${node.type})${scope} input "${input.name}" uses link ${link.id} from node ${link.origin_id}, which is not in the workflow; reconnect or delete that input in the editor`,
      );
    }
  }
}

// zod's path as `nodes[3].inputs[0].link`, naming the node when the path runs through one
function _jsonPath(path: readonly PropertyKey[], root: unknown): string {
  let text = "";
  let current: unknown = root;
  let nodeLabel = "";
  for (const [i, key] of path.entries()) {
    text += typeof key === "number" ? `[${key}]` : `${text ? "." : ""}${String(key)}`;
    current =
      typeof current === "object" && current !== null ? (current as Record<PropertyKey, unknown>)[key] : undefined;
    const parent = path[i - 1];
    if (parent === "nodes" && typeof current === "object" && current !== null) {
      const node = current as { id?: unknown; type?: unknown };
      nodeLabel = ` (node ${String(node.id)}${typeof node.type === "string" ? ` ${node.type}` : ""})`;
    }
  }
  return (text || "(top level)") + nodeLabel;
}
