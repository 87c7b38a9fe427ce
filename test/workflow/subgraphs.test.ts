import { expect, test } from "bun:test";
import { coreObjectInfo } from "../../src/comfy/object-info.ts";
import { convertUiToApi } from "../../src/workflow/convert.ts";
import { flattenWorkflow } from "../../src/workflow/subgraphs.ts";
import { edit, type LinkTuple, linkObjects, type NodeSpec, relink, sd15Links, sd15Nodes, ui, uiNode } from "./_ui.ts";

const INFO = coreObjectInfo();
const ENCODE = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
const NESTED = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb";
const PASS = "cccccccc-cccc-4ccc-8ccc-cccccccccccc";

function definition(id: string, inputs: [string, string, number[]][], outputs: [string, string, number[]][]) {
  return (nodes: NodeSpec[], links: LinkTuple[]) => ({
    id,
    version: 1,
    name: `sub ${id.slice(0, 4)}`,
    inputNode: { id: -10, bounding: [0, 0, 10, 10] },
    outputNode: { id: -20, bounding: [0, 0, 10, 10] },
    inputs: inputs.map(([name, type, linkIds]) => ({ id: `${name}-in`, name, type, linkIds })),
    outputs: outputs.map(([name, type, linkIds]) => ({ id: `${name}-out`, name, type, linkIds })),
    widgets: [],
    nodes: nodes.map(uiNode),
    links: linkObjects(links),
  });
}

// Encode: CLIPTextEncode 1 with clip and text from the subgraph's inputs
const encode = definition(
  ENCODE,
  [
    ["clip", "CLIP", [101]],
    ["text", "STRING", [102]],
  ],
  [["CONDITIONING", "CONDITIONING", [103]]],
)(
  [
    {
      id: 1,
      type: "CLIPTextEncode",
      inputs: [
        ["clip", "CLIP", 101],
        ["text", "STRING", 102, true],
      ],
      outputs: [["CONDITIONING", "CONDITIONING"]],
      widgets_values: ["inner value, overridden"],
    },
  ],
  [
    [101, -10, 0, 1, 0, "CLIP"],
    [102, -10, 1, 1, 1, "STRING"],
    [103, 1, 0, -20, 0, "CONDITIONING"],
  ],
);

// Nested: an Encode instance (node 5) inside another subgraph
const nested = definition(
  NESTED,
  [["clip", "CLIP", [201]]],
  [["CONDITIONING", "CONDITIONING", [202]]],
)(
  [
    {
      id: 5,
      type: ENCODE,
      inputs: [
        ["clip", "CLIP", 201],
        ["text", "STRING", null, true],
      ],
      outputs: [["CONDITIONING", "CONDITIONING"]],
      widgets_values: ["text, watermark"],
    },
  ],
  [
    [201, -10, 0, 5, 0, "CLIP"],
    [202, 5, 0, -20, 0, "CONDITIONING"],
  ],
);

// Pass: its output is wired straight from its input
const pass = definition(
  PASS,
  [["model", "MODEL", [301]]],
  [["MODEL", "MODEL", [301]]],
)([], [[301, -10, 0, -20, 0, "MODEL"]]);

const instance = (id: number, type: string, clipLink: number | null, text?: string): NodeSpec => ({
  id,
  type,
  inputs: [
    ["clip", "CLIP", clipLink],
    ...(text === undefined ? [] : [["text", "STRING", null, true] as const]),
  ] as never,
  outputs: [["CONDITIONING", "CONDITIONING"]],
  widgets_values: text === undefined ? [] : [text],
  properties: { cnr_id: "comfy-core" },
});

function graph(changes: (nodes: NodeSpec[]) => NodeSpec[] = (n) => n) {
  let nodes = sd15Nodes().filter((n) => n.id !== 6 && n.id !== 7);
  nodes.push(
    instance(20, ENCODE, 3, "beautiful scenery nature glass bottle landscape, , purple galaxy bottle,"),
    instance(30, NESTED, 5),
    { id: 40, type: PASS, inputs: [["model", "MODEL", 40]], outputs: [["MODEL", "MODEL"]] },
  );
  nodes = changes(nodes);
  let links = relink(sd15Links(), 3, [3, 4, 1, 20, 0, "CLIP"]);
  links = relink(links, 4, [4, 20, 0, 3, 1, "CONDITIONING"]);
  links = relink(links, 5, [5, 4, 1, 30, 0, "CLIP"]);
  links = relink(links, 6, [6, 30, 0, 3, 2, "CONDITIONING"]);
  links = relink(links, 1, [1, 40, 0, 3, 0, "MODEL"]);
  links.push([40, 4, 0, 40, 0, "MODEL"]);
  return ui(nodes, links, { definitions: { subgraphs: [encode, nested, pass] } });
}

test("instances expand to 'instance:inner' ids, wired through inputs, outputs and promoted widgets, nested too", () => {
  const { api, warnings } = convertUiToApi(graph(), INFO);
  expect(Object.keys(api).sort()).toEqual(["20:1", "3", "30:5:1", "4", "5", "8", "9"]);
  expect(api["20:1"]).toEqual({
    class_type: "CLIPTextEncode",
    inputs: { text: "beautiful scenery nature glass bottle landscape, , purple galaxy bottle,", clip: ["4", 1] },
    _meta: { title: "CLIP Text Encode (Prompt)" },
  });
  expect(api["30:5:1"]?.inputs).toEqual({ text: "text, watermark", clip: ["4", 1] });
  expect(api["3"]?.inputs).toMatchObject({ model: ["4", 0], positive: ["20:1", 0], negative: ["30:5:1", 0] });
  expect(warnings).toEqual([]);
});

test("a linked subgraph input overrides the promoted widget", () => {
  const workflow = graph((nodes) => [
    ...edit(nodes, 20, (n) => ({
      ...n,
      inputs: [
        ["clip", "CLIP", 3],
        ["text", "STRING", 50, true],
      ],
    })),
    { id: 50, type: "PrimitiveStringMultiline", outputs: [["STRING", "STRING"]], widgets_values: ["linked"] },
  ]);
  workflow.links.push({ id: 50, origin_id: 50, origin_slot: 0, target_id: 20, target_slot: 1, type: "STRING" });
  expect(convertUiToApi(workflow, INFO).api["20:1"]?.inputs.text).toEqual(["50", 0]);
});

test("muted instances are dropped whole; bypassed ones pass a matching input through or nothing", () => {
  const muted = convertUiToApi(
    graph((nodes) => edit(nodes, 20, (n) => ({ ...n, mode: 2 }))),
    INFO,
  );
  expect(Object.keys(muted.api).some((id) => id.startsWith("20"))).toBe(false);
  expect("positive" in (muted.api["3"]?.inputs ?? {})).toBe(false);

  const bypassed = convertUiToApi(
    graph((nodes) => edit(nodes, 40, (n) => ({ ...n, mode: 4 }))),
    INFO,
  );
  expect(bypassed.api["3"]?.inputs.model).toEqual(["4", 0]);
  const noMatch = convertUiToApi(
    graph((nodes) => edit(nodes, 30, (n) => ({ ...n, mode: 4 }))),
    INFO,
  );
  expect("negative" in (noMatch.api["3"]?.inputs ?? {})).toBe(false);
});

test("muted nodes inside a subgraph are dropped as at the top level", () => {
  const def = structuredClone(encode);
  (def.nodes[0] as { mode: number }).mode = 2;
  const workflow = ui(
    [
      instance(20, ENCODE, null, "x"),
      { id: 2, type: "ConditioningZeroOut", inputs: [["conditioning", "CONDITIONING", 2]] },
    ],
    [[2, 20, 0, 2, 0, "CONDITIONING"]],
    { definitions: { subgraphs: [def] } },
  );
  const { api } = convertUiToApi(workflow, INFO);
  expect(api["20:1"]).toBeUndefined();
  expect(api["2"]?.inputs).toEqual({});
});

test("a subgraph that contains itself is not expanded, with a warning", () => {
  const loop = structuredClone(nested);
  loop.nodes[0] = uiNode({ id: 5, type: NESTED, inputs: [["clip", "CLIP", 201]], outputs: [["C", "CONDITIONING"]] });
  const workflow = ui([instance(30, NESTED, null)], [], { definitions: { subgraphs: [loop] } });
  const flat = flattenWorkflow(workflow);
  expect(flat.warnings.join("\n")).toContain("contains itself");
  expect(() => convertUiToApi(workflow, INFO)).not.toThrow();
});
