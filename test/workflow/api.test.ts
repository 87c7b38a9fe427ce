import { expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { applyOverrides, unknownNodeTypes } from "../../src/jobs/overrides.ts";
import { isUiWorkflow, parseApiWorkflow } from "../../src/workflow/api.ts";

const CORPUS = join(import.meta.dir, "../../../shared/corpus/workflows");

test("parses every API-format workflow of the corpus and recognises every UI one", async () => {
  const files = readdirSync(CORPUS).filter((f) => f.endsWith(".json"));
  expect(files.length).toBeGreaterThan(20);
  for (const file of files) {
    const value = JSON.parse(await Bun.file(join(CORPUS, file)).text());
    if (file.startsWith("ui-")) {
      expect([file, isUiWorkflow(value)]).toEqual([file, true]);
      expect(() => parseApiWorkflow(value, file)).toThrow('export it with "Export (API)"');
    } else {
      expect(Object.keys(parseApiWorkflow(value, file)).length).toBeGreaterThan(2);
    }
  }
});

test("names the node and field that is wrong", () => {
  expect(() => parseApiWorkflow({ "3": { inputs: {} } }, "job")).toThrow('job: node "3".class_type');
  expect(() => parseApiWorkflow({ "3": { class_type: "X", inputs: { a: ["9", 0] } } }, "job")).toThrow(
    'links to missing node "9"',
  );
  expect(() => parseApiWorkflow([], "job")).toThrow("must be an object of nodes");
  expect(() => parseApiWorkflow({}, "job")).toThrow("has no nodes");
});

test("a node id that names a prototype key is refused, not dropped; a link to one is a missing node", () => {
  const node = { class_type: "EmptyImage", inputs: {} };
  // JSON.parse keeps "__proto__" as an own key; assigning it would set the copy's prototype and lose the node
  const proto = JSON.parse(`{"1": ${JSON.stringify(node)}, "__proto__": ${JSON.stringify(node)}}`);
  expect(() => parseApiWorkflow(proto, "job")).toThrow('job: node id "__proto__" is a reserved name');
  expect(() => parseApiWorkflow({ constructor: node }, "job")).toThrow('node id "constructor" is a reserved name');
  const linked = { "1": { class_type: "X", inputs: { a: ["constructor", 0], b: ["toString", 0] } } };
  expect(() => parseApiWorkflow(linked, "job")).toThrow('input "a" links to missing node "constructor"');
});

test("applies overrides and refuses unknown nodes and inputs", () => {
  const workflow = parseApiWorkflow({
    "6": { class_type: "CLIPTextEncode", inputs: { text: "a dog", clip: ["4", 1] } },
    "4": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: "x" } },
  });
  const info = { CLIPTextEncode: { input: { required: { text: ["STRING", {}], clip: ["CLIP"] } } } } as never;
  applyOverrides(workflow, { "6.text": "a cat", "4.ckpt_name": "y.safetensors" }, info);
  expect(workflow["6"]?.inputs.text).toBe("a cat");
  expect(workflow["4"]?.inputs.ckpt_name).toBe("y.safetensors");
  expect(() => applyOverrides(workflow, { "99.text": "x" }, info)).toThrow('no node "99"');
  expect(() => applyOverrides(workflow, { "6.txt": "x" }, info)).toThrow(
    'CLIPTextEncode has no input "txt" (it has: text, clip)',
  );
  expect(unknownNodeTypes(workflow, info)).toEqual(["CheckpointLoaderSimple"]);
});
