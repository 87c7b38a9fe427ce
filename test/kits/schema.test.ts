import { expect, test } from "bun:test";
import { join } from "node:path";
import { manifestJsonSchema } from "../../src/kits/manifest.ts";

test("manifests/manifest.schema.json is what `bun scripts/manifest-schema.ts` generates today", async () => {
  const committed = await Bun.file(join(import.meta.dir, "../../manifests/manifest.schema.json")).text();
  expect(committed).toBe(`${JSON.stringify(manifestJsonSchema(), null, 2)}\n`);
});

test("the JSON Schema closes objects and requires folder, name and url for every file", () => {
  const schema = manifestJsonSchema() as {
    required: string[];
    additionalProperties: boolean;
    properties: { files: { items: { required: string[]; additionalProperties: boolean } } };
  };
  expect(schema.required).toEqual(["name", "description", "files"]);
  expect(schema.additionalProperties).toBe(false);
  expect(schema.properties.files.items.required).toEqual(["folder", "name", "url"]);
  expect(schema.properties.files.items.additionalProperties).toBe(false);
});
