// Refreshes the bundled /object_info snapshot from a running ComfyUI:
//
//   bun scripts/object-info-snapshot.ts http://127.0.0.1:8188 [out dir, default src/comfy]
//
// Run it against a ComfyUI whose model folders are empty (a fresh checkout of the release to bundle), so every
// file-picker combo comes back as an empty list. It keeps the core nodes (python_module "nodes" or
// "comfy_extras.*"; API nodes and custom nodes are left out), empties the file-picker combos of the loader table
// (fillFileCombos fills them from the live folders; a "none"-style choice is kept), keeps every number exactly as ComfyUI wrote it, and writes
// src/comfy/object-info.json (one node per line) and object-info.meta.json (the ComfyUI version).
// It prints the core combos that came back empty but are not in the loader table: new file pickers to map.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { LOADERS, NO_FILE_VALUES } from "../src/weights/loaders.ts";

type Json = Record<string, unknown>;
// JSON.rawJSON (Bun, V8) is newer than the TypeScript lib this project targets
const rawJSON = (JSON as unknown as { rawJSON: (text: string) => unknown }).rawJSON;

const url = (process.argv[2] ?? "").replace(/\/+$/, "");
if (!/^https?:\/\//.test(url)) {
  console.error("usage: bun scripts/object-info-snapshot.ts <ComfyUI URL, e.g. http://127.0.0.1:8188>");
  process.exit(2);
}
const outDir = process.argv[3] ?? join(import.meta.dir, "..", "src", "comfy");

const stats = (await _get("/system_stats")) as { system?: { comfyui_version?: string } };
const version = stats.system?.comfyui_version;
if (!version) throw new Error(`${url}/system_stats names no comfyui_version; is it ComfyUI?`);
const all = (await _get("/object_info")) as Record<string, Json>;
const core = Object.entries(all).filter(([, node]) => _isCore(String(node.python_module ?? "")));
const unmapped: string[] = [];
for (const [classType, node] of core) unmapped.push(..._trim(classType, node));

const lines = core.map(([classType, node]) => `${JSON.stringify(classType)}: ${JSON.stringify(node)}`);
await writeFile(join(outDir, "object-info.json"), `{\n${lines.join(",\n")}\n}\n`);
const meta = { comfyui_version: version, nodes: core.length };
await writeFile(join(outDir, "object-info.meta.json"), `${JSON.stringify(meta, null, 2)}\n`);
console.log(`wrote ${core.length} core nodes of ComfyUI ${version} (of ${Object.keys(all).length} served)`);
if (unmapped.length > 0) {
  console.log("empty combos not in src/weights/loaders.ts (map them, or list them in test/weights/loaders-coverage):");
  for (const line of unmapped) console.log(`  ${line}`);
}

async function _get(path: string): Promise<unknown> {
  const res = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(300_000) });
  if (!res.ok) throw new Error(`${url}${path} answered HTTP ${res.status}`);
  // keep each number's source text: 18446744073709551615 and 8.0 must survive the round trip
  return JSON.parse(await res.text(), (_key, value, context?: { source?: string }) =>
    typeof value === "number" && context?.source ? rawJSON(context.source) : value,
  );
}

function _isCore(module: string): boolean {
  return module === "nodes" || module.startsWith("comfy_extras.");
}

/** Empties the loader table's combos of one node; returns "Class.input" for other combos that came back empty. */
function _trim(classType: string, node: Json): string[] {
  const mapped = Object.hasOwn(LOADERS, classType) ? LOADERS[classType] : {};
  const input = (node.input ?? {}) as Record<string, Record<string, unknown> | undefined>;
  const empty: string[] = [];
  for (const section of ["required", "optional"]) {
    for (const [name, spec] of Object.entries(input[section] ?? {})) {
      if (!Array.isArray(spec)) continue;
      if (mapped && Object.hasOwn(mapped, name)) _empty(spec);
      else if (_options(spec)?.length === 0) empty.push(`${classType}.${name}`);
    }
  }
  return empty;
}

function _options(spec: unknown[]): unknown[] | undefined {
  if (Array.isArray(spec[0])) return spec[0];
  const opts = spec[0] === "COMBO" ? (spec[1] as { options?: unknown } | undefined)?.options : undefined;
  return Array.isArray(opts) ? opts : undefined;
}

// the files go; a "no file" choice ("none", "[None]") is part of the node and stays
function _empty(spec: unknown[]): void {
  const keep = (options: unknown) =>
    Array.isArray(options) ? options.filter((o) => NO_FILE_VALUES.includes(String(o))) : [];
  if (Array.isArray(spec[0])) spec[0] = keep(spec[0]);
  else if (spec[0] === "COMBO" && typeof spec[1] === "object" && spec[1] && "options" in spec[1])
    spec[1] = { ...spec[1], options: keep((spec[1] as { options?: unknown }).options) };
}
