import { expect, test } from "bun:test";
import { coreObjectInfo } from "../../src/comfy/object-info.ts";
import { convertUiToApi } from "../../src/workflow/convert.ts";
import { sd15Workflow } from "../helpers/emulator.ts";
import { edit, type LinkTuple, type NodeSpec, relink, sd15Links, sd15Nodes, ui } from "./_ui.ts";

const INFO = coreObjectInfo();
const convert = (nodes: NodeSpec[], links: LinkTuple[], extra?: Record<string, unknown>) =>
  convertUiToApi(ui(nodes, links, extra), INFO);

test("the SD 1.5 graph converts to exactly its API export (control_after_generate value skipped, titles)", () => {
  const result = convert(sd15Nodes(), sd15Links());
  expect(result.api).toEqual(sd15Workflow());
  expect(result.unknownNodes).toEqual([]);
  expect(result.warnings).toEqual([]);
});

test("a seed saved without its control value (older editor) does not shift the next widgets", () => {
  const nodes = edit(sd15Nodes(), 3, (n) => ({ ...n, widgets_values: [5, 30, 7, "dpmpp_2m", "karras", 0.5] }));
  const { api } = convert(nodes, sd15Links());
  expect(api["3"]?.inputs).toMatchObject({ seed: 5, steps: 30, cfg: 7, sampler_name: "dpmpp_2m", denoise: 0.5 });
});

test("converted widgets take the link's value, still consume their slot; PrimitiveNode values propagate", () => {
  const nodes = edit(sd15Nodes(), 3, (n) => ({
    ...n,
    inputs: [...(n.inputs ?? []), ["seed", "INT", 10, true], ["cfg", "FLOAT", 11, true]],
  }));
  nodes.push(
    { id: 10, type: "PrimitiveNode", outputs: [["INT", "INT"]], widgets_values: [1234, "fixed"] },
    { id: 11, type: "PrimitiveFloat", outputs: [["FLOAT", "FLOAT"]], widgets_values: [6.5] },
  );
  const links = [...sd15Links(), [10, 10, 0, 3, 4, "INT"], [11, 11, 0, 3, 5, "FLOAT"]] as LinkTuple[];
  const { api } = convert(nodes, links);
  expect(api["3"]?.inputs).toMatchObject({ seed: 1234, steps: 20, cfg: ["11", 0], sampler_name: "euler" });
  expect(api["10"]).toBeUndefined();
  expect(api["11"]).toEqual({ class_type: "PrimitiveFloat", inputs: { value: 6.5 }, _meta: { title: "Float" } });
});

test("Reroute chains are followed, also from a PrimitiveNode", () => {
  const nodes = edit(sd15Nodes(), 3, (n) => ({ ...n, inputs: [...(n.inputs ?? []), ["seed", "INT", 23, true]] }));
  nodes.push(
    { id: 20, type: "Reroute", inputs: [["", "*", 20]], outputs: [["", "MODEL"]] },
    { id: 21, type: "Reroute", inputs: [["", "*", 21]], outputs: [["", "MODEL"]] },
    { id: 22, type: "Reroute", inputs: [["", "*", 22]], outputs: [["", "INT"]] },
    { id: 10, type: "PrimitiveNode", outputs: [["INT", "INT"]], widgets_values: [99, "increment"] },
  );
  let links = relink(sd15Links(), 1, [1, 21, 0, 3, 0, "MODEL"]);
  links = [...links, [20, 4, 0, 20, 0, "MODEL"], [21, 20, 0, 21, 0, "MODEL"], [22, 10, 0, 22, 0, "INT"]];
  links.push([23, 22, 0, 3, 4, "INT"]);
  const { api } = convert(nodes, links);
  expect(api["3"]?.inputs.model).toEqual(["4", 0]);
  expect(api["3"]?.inputs.seed).toBe(99);
  expect(Object.keys(api).sort()).toEqual(["3", "4", "5", "6", "7", "8", "9"]);
});

test("a bypassed node passes its first input of the output's type through; no match leaves the input out", () => {
  const lora: NodeSpec = {
    id: 13,
    type: "LoraLoader",
    mode: 4,
    inputs: [
      ["model", "MODEL", 30],
      ["clip", "CLIP", 31],
    ],
    outputs: [
      ["MODEL", "MODEL"],
      ["CLIP", "CLIP"],
    ],
    widgets_values: ["style.safetensors", 1, 1],
  };
  let links = relink(sd15Links(), 1, [1, 13, 0, 3, 0, "MODEL"]);
  links = relink(links, 3, [3, 13, 1, 6, 0, "CLIP"]);
  links = relink(links, 5, [5, 13, 1, 7, 0, "CLIP"]);
  links.push([30, 4, 0, 13, 0, "MODEL"], [31, 4, 1, 13, 1, "CLIP"]);
  const bypassedLatent = edit([...sd15Nodes(), lora], 5, (n) => ({ ...n, mode: 4 }));
  const { api } = convert(bypassedLatent, links);
  expect(api["13"]).toBeUndefined();
  expect(api["3"]?.inputs.model).toEqual(["4", 0]);
  expect(api["6"]?.inputs.clip).toEqual(["4", 1]);
  expect(api["7"]?.inputs.clip).toEqual(["4", 1]);
  // EmptyLatentImage has no LATENT input to pass through
  expect(api["5"]).toBeUndefined();
  expect("latent_image" in (api["3"]?.inputs ?? {})).toBe(false);
});

test("muted nodes are dropped with the inputs that linked to them", () => {
  const result = convert(
    edit(sd15Nodes(), 8, (n) => ({ ...n, mode: 2 })),
    sd15Links(),
  );
  expect(result.api["8"]).toBeUndefined();
  expect(result.api["9"]?.inputs).toEqual({ filename_prefix: "ComfyUI" });
  expect(result.warnings.join("\n")).toContain('node 9 (SaveImage): input "images" came from node 8');
});

test("upload widgets add a value that is not an input; dict widgets_values map by name", () => {
  const nodes: NodeSpec[] = [
    { id: 1, type: "LoadImage", outputs: [["IMAGE", "IMAGE"]], widgets_values: ["photo.png", "image"] },
    { id: 2, type: "LoadImageMask", outputs: [["MASK", "MASK"]], widgets_values: ["mask.png", "red", "image"] },
    { id: 3, type: "CLIPTextEncode", inputs: [["clip", "CLIP"]], widgets_values: { text: "dict", videopreview: {} } },
  ];
  const { api, warnings } = convert(nodes, []);
  expect(api["1"]?.inputs).toEqual({ image: "photo.png" });
  expect(api["2"]?.inputs).toEqual({ image: "mask.png", channel: "red" });
  expect(api["3"]?.inputs).toEqual({ text: "dict" });
  expect(warnings).toEqual([]);
});

test("widgets missing from an older save get the definition's defaults, with a warning; extra values are reported", () => {
  const nodes: NodeSpec[] = [
    { id: 5, type: "EmptyLatentImage", title: "Size", widgets_values: [768] },
    { id: 6, type: "SaveImage", inputs: [["images", "IMAGE"]], widgets_values: ["out", "surplus"] },
  ];
  const { api, warnings } = convert(nodes, []);
  expect(api["5"]).toEqual({
    class_type: "EmptyLatentImage",
    inputs: { width: 768, height: 512, batch_size: 1 },
    _meta: { title: "Size" },
  });
  expect(warnings).toContain(
    'node 5 (EmptyLatentImage): no saved value for "height" (saved by an older version); using 512',
  );
  expect(warnings).toContain("node 6 (SaveImage): 1 saved widget value(s) beyond its definition were ignored");
});

test("V3 dynamic combos save the selected option's widgets after the selector", () => {
  const nodes: NodeSpec[] = [
    { id: 1, type: "LoadImage", outputs: [["IMAGE", "IMAGE"]], widgets_values: ["a.png", "image"] },
    {
      id: 2,
      type: "ResizeImageMaskNode",
      inputs: [["input", "IMAGE,MASK", 1]],
      widgets_values: ["scale dimensions", 640, 480, "center", "bilinear"],
    },
  ];
  const { api } = convert(nodes, [[1, 1, 0, 2, 0, "IMAGE"]]);
  expect(api["2"]?.inputs).toEqual({
    input: ["1", 0],
    resize_type: "scale dimensions",
    "resize_type.width": 640,
    "resize_type.height": 480,
    "resize_type.crop": "center",
    scale_method: "bilinear",
  });
});

test("unknown node types are kept with their linked inputs and reported with their pack", () => {
  const nodes = sd15Nodes();
  nodes.push(
    {
      id: 30,
      type: "FancyUpscale",
      inputs: [
        ["image", "IMAGE", 30],
        ["scale", "FLOAT", null, true],
        ["points", "STRING", null, true],
      ],
      outputs: [["IMAGE", "IMAGE"]],
      widgets_values: [2, [1, 2]],
      properties: { cnr_id: "comfyui-fancy", aux_id: "someone/ComfyUI-Fancy" },
    },
    { id: 31, type: "Mystery", inputs: [["image", "IMAGE", 31]], widgets_values: [1, 2, 3], properties: {} },
  );
  const links = relink(sd15Links(), 9, [9, 30, 0, 9, 0, "IMAGE"]);
  links.push([30, 8, 0, 30, 0, "IMAGE"], [31, 30, 0, 31, 0, "IMAGE"]);
  const result = convert(nodes, links);
  expect(result.api["30"]).toEqual({
    class_type: "FancyUpscale",
    inputs: { scale: 2, points: { __value__: [1, 2] }, image: ["8", 0] },
    _meta: { title: "FancyUpscale" },
  });
  expect(result.api["9"]?.inputs.images).toEqual(["30", 0]);
  expect(result.api["31"]?.inputs).toEqual({ image: ["30", 0] });
  expect(result.unknownNodes).toEqual([
    { class_type: "FancyUpscale", pack: "comfyui-fancy" },
    { class_type: "Mystery" },
  ]);
  expect(result.warnings).toContain("node 31 (Mystery): unknown node type, so its 3 widget value(s) were left out");
});

test("GetNode/SetNode pairs resolve to the SetNode's source", () => {
  const nodes = sd15Nodes();
  nodes.push(
    { id: 40, type: "SetNode", inputs: [["VAE", "VAE", 40]], outputs: [["*", "*"]], widgets_values: ["vae"] },
    { id: 41, type: "GetNode", outputs: [["VAE", "VAE"]], widgets_values: ["vae"] },
  );
  const links = relink(sd15Links(), 8, [8, 41, 0, 8, 1, "VAE"]);
  links.push([40, 4, 2, 40, 0, "VAE"]);
  const { api } = convert(nodes, links);
  expect(api["8"]?.inputs.vae).toEqual(["4", 2]);
  expect(api["40"] ?? api["41"]).toBeUndefined();
});

test("schema 1 (links as objects) converts like schema 0.4", () => {
  const links = sd15Links().map(([id, origin_id, origin_slot, target_id, target_slot, type]) => ({
    id,
    origin_id,
    origin_slot,
    target_id,
    target_slot,
    type,
  }));
  const state = { lastGroupId: 0, lastNodeId: 9, lastLinkId: 9, lastRerouteId: 0 };
  const workflow = ui(sd15Nodes(), [], { version: 1, state, links });
  expect(convertUiToApi(workflow, INFO).api).toEqual(sd15Workflow());
});

test("a link loop is reported instead of recursing forever", () => {
  const nodes: NodeSpec[] = [
    { id: 1, type: "Reroute", inputs: [["", "*", 2]], outputs: [["", "IMAGE"]] },
    { id: 2, type: "Reroute", inputs: [["", "*", 1]], outputs: [["", "IMAGE"]] },
    { id: 3, type: "SaveImage", inputs: [["images", "IMAGE", 3]], widgets_values: ["x"] },
  ];
  const links: LinkTuple[] = [
    [1, 1, 0, 2, 0, "IMAGE"],
    [2, 2, 0, 1, 0, "IMAGE"],
    [3, 2, 0, 3, 0, "IMAGE"],
  ];
  const result = convert(nodes, links);
  expect(result.api["3"]?.inputs).toEqual({ filename_prefix: "x" });
  expect(result.warnings.join("\n")).toContain("links form a loop");
});
