// Writes manifests/manifest.schema.json from the zod `Manifest` schema: `bun scripts/manifest-schema.ts`.
// test/kits/schema.test.ts fails when the committed file differs from a fresh generation.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { manifestJsonSchema } from "../src/kits/manifest.ts";

const out = join(import.meta.dir, "..", "manifests", "manifest.schema.json");
await writeFile(out, `${JSON.stringify(manifestJsonSchema(), null, 2)}\n`);
console.log(`wrote ${out}`);
