/** Builders for small UI-format workflows, so each conversion test states only the graph it is about. */
import { parseUiWorkflow, type UiWorkflow } from "../../src/workflow/ui.ts";

/** `[name, type, link id or null, is a widget slot]`. */
export type Slot = [name: string, type: string, link?: number | null, widget?: boolean];
/** `[link id, origin node, origin slot, target node, target slot, type]` (schema 0.4). */
export type LinkTuple = [number, number | string, number, number | string, number, string];

export interface NodeSpec {
  id: number | string;
  type: string;
  mode?: number;
  title?: string;
  inputs?: Slot[];
  outputs?: [name: string, type: string][];
  widgets_values?: unknown;
  properties?: Record<string, unknown>;
}

/** A node as the editor saves it. */
export function uiNode(spec: NodeSpec): Record<string, unknown> {
  return {
    id: spec.id,
    type: spec.type,
    pos: [0, 0],
    size: [200, 100],
    flags: {},
    order: 0,
    mode: spec.mode ?? 0,
    ...(spec.title ? { title: spec.title } : {}),
    inputs: (spec.inputs ?? []).map(([name, type, link, widget]) => ({
      name,
      type,
      link: link ?? null,
      ...(widget ? { widget: { name } } : {}),
    })),
    outputs: (spec.outputs ?? []).map(([name, type]) => ({ name, type, links: [] })),
    properties: spec.properties ?? { "Node name for S&R": spec.type },
    ...(spec.widgets_values === undefined ? {} : { widgets_values: spec.widgets_values }),
  };
}

/** A schema-0.4 workflow as raw JSON (before parsing). */
export function rawUi(nodes: NodeSpec[], links: LinkTuple[], extra: Record<string, unknown> = {}) {
  return {
    last_node_id: 99,
    last_link_id: 99,
    nodes: nodes.map(uiNode),
    links,
    groups: [],
    config: {},
    version: 0.4,
    ...extra,
  };
}

/** A parsed schema-0.4 workflow. */
export function ui(nodes: NodeSpec[], links: LinkTuple[], extra: Record<string, unknown> = {}): UiWorkflow {
  return parseUiWorkflow(rawUi(nodes, links, extra), "test workflow");
}

/** Link tuples as schema-1 link objects. */
export function linkObjects(links: LinkTuple[]) {
  return links.map(([id, origin_id, origin_slot, target_id, target_slot, type]) => ({
    id,
    origin_id,
    origin_slot,
    target_id,
    target_slot,
    type,
  }));
}

/** The SD 1.5 txt2img graph of test/helpers/emulator.ts `sd15Workflow()`, as the editor saves it. */
export function sd15Nodes(): NodeSpec[] {
  return [
    {
      id: 3,
      type: "KSampler",
      inputs: [
        ["model", "MODEL", 1],
        ["positive", "CONDITIONING", 4],
        ["negative", "CONDITIONING", 6],
        ["latent_image", "LATENT", 2],
      ],
      outputs: [["LATENT", "LATENT"]],
      widgets_values: [712610403220747, "randomize", 20, 8, "euler", "normal", 1],
    },
    {
      id: 4,
      type: "CheckpointLoaderSimple",
      outputs: [
        ["MODEL", "MODEL"],
        ["CLIP", "CLIP"],
        ["VAE", "VAE"],
      ],
      widgets_values: ["dreamshaper_8.safetensors"],
    },
    { id: 5, type: "EmptyLatentImage", outputs: [["LATENT", "LATENT"]], widgets_values: [512, 512, 1] },
    {
      id: 6,
      type: "CLIPTextEncode",
      inputs: [["clip", "CLIP", 3]],
      outputs: [["CONDITIONING", "CONDITIONING"]],
      widgets_values: ["beautiful scenery nature glass bottle landscape, , purple galaxy bottle,"],
    },
    {
      id: 7,
      type: "CLIPTextEncode",
      inputs: [["clip", "CLIP", 5]],
      outputs: [["CONDITIONING", "CONDITIONING"]],
      widgets_values: ["text, watermark"],
    },
    {
      id: 8,
      type: "VAEDecode",
      inputs: [
        ["samples", "LATENT", 7],
        ["vae", "VAE", 8],
      ],
      outputs: [["IMAGE", "IMAGE"]],
    },
    { id: 9, type: "SaveImage", inputs: [["images", "IMAGE", 9]], widgets_values: ["ComfyUI"] },
  ];
}

/** The links of `sd15Nodes()`. */
export function sd15Links(): LinkTuple[] {
  return [
    [1, 4, 0, 3, 0, "MODEL"],
    [2, 5, 0, 3, 3, "LATENT"],
    [3, 4, 1, 6, 0, "CLIP"],
    [4, 6, 0, 3, 1, "CONDITIONING"],
    [5, 4, 1, 7, 0, "CLIP"],
    [6, 7, 0, 3, 2, "CONDITIONING"],
    [7, 3, 0, 8, 0, "LATENT"],
    [8, 4, 2, 8, 1, "VAE"],
    [9, 8, 0, 9, 0, "IMAGE"],
  ];
}

/** Replaces the node with `id` in `nodes` by `change(node)`. */
export function edit(nodes: NodeSpec[], id: number, change: (node: NodeSpec) => NodeSpec): NodeSpec[] {
  return nodes.map((node) => (node.id === id ? change(node) : node));
}

/** Rewires link `id` (keeps the rest). */
export function relink(links: LinkTuple[], id: number, link: LinkTuple): LinkTuple[] {
  return [...links.filter((l) => l[0] !== id), link];
}
