import { expect, test } from "bun:test";
import { embeddingRefs } from "../../src/weights/embedding-refs.ts";
import { resolveWeight } from "../../src/weights/locate.ts";
import type { ModelSnapshot } from "../../src/weights/model-index.ts";
import { requiredFiles } from "../../src/weights/required.ts";

test("names end at whitespace (newlines count as spaces) or at < and [; only whitespace-led 'embedding:' counts", () => {
  expect(embeddingRefs("a embedding:foo\nbar embedding:baz\tqux")).toEqual([{ name: "foo" }, { name: "baz" }]);
  expect(embeddingRefs("embedding:foo[bar] and embedding:style<lora:x:1>")).toEqual([
    { name: "foo" },
    { name: "style" },
  ]);
  // sd1_clip splits at "embedding:" only after whitespace, so this is a plain word
  expect(embeddingRefs("word,embedding:foo")).toEqual([]);
  // str.split() skips the space after the colon
  expect(embeddingRefs("embedding: foo")).toEqual([{ name: "foo" }]);
});

test("weights come off only inside parentheses; escaped parentheses are text", () => {
  expect(embeddingRefs("(embedding:style/foo:1.2), ((embedding:bar)), (embedding:baz:x)")).toEqual([
    { name: "style/foo" },
    { name: "bar" },
    { name: "baz:x" },
  ]);
  // outside parentheses ":1.2" is part of the name, as ComfyUI reads it
  expect(embeddingRefs("x embedding:foo:1.2")).toEqual([{ name: "foo:1.2" }]);
  expect(embeddingRefs("\\(embedding:foo\\)")).toEqual([]);
});

test("a trailing comma is kept as written (tried first) with the comma-less name as the fallback", () => {
  expect(embeddingRefs("embedding:EasyNegative, embedding:bad-hands-5,\nnude")).toEqual([
    { name: "EasyNegative", written: "EasyNegative," },
    { name: "bad-hands-5", written: "bad-hands-5," },
  ]);
});

test("the comma is part of the name only when a file with the comma exists", () => {
  const api = {
    "1": { class_type: "CLIPTextEncode", inputs: { text: "embedding:bad-hands-5,\nnude", clip: ["2", 1] } },
    "2": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: "x.safetensors" } },
    "3": { class_type: "PreviewAny", inputs: { source: ["1", 0] } },
  };
  const weight = requiredFiles(api).weights.find((w) => w.folder === "embeddings");
  expect(weight).toMatchObject({ name: "bad-hands-5", written: "bad-hands-5," });
  const snapshot = (names: string[]) =>
    ({ files: () => new Map(names.map((n) => [n, `/m/embeddings/${n}`])) }) as unknown as ModelSnapshot;
  if (!weight) throw new Error("no embedding found");
  expect(resolveWeight(snapshot(["bad-hands-5.pt"]), weight)).toBe("/m/embeddings/bad-hands-5.pt");
  expect(resolveWeight(snapshot(["bad-hands-5.pt", "bad-hands-5,.pt"]), weight)).toBe("/m/embeddings/bad-hands-5,.pt");
  expect(resolveWeight(snapshot(["other.pt"]), weight)).toBeUndefined();
});
