import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ComfyLog, PyFrame } from "./comfy-log.ts";

const COMFY_ROOT = "/comfyui";
const DEFAULT_MISSING_MODULE = "missing_dependency";

/**
 * `--failed-pack`: what nodes.py's load_custom_node and init_external_custom_nodes print for packs that raise on
 * import (copied from ComfyUI 0.28.2's output): the traceback, "Cannot import … module for custom nodes: …",
 * then the "Import times for custom nodes:" table with " (IMPORT FAILED)" rows. `Pack:module:NodeA,NodeB` also
 * leaves the pack's __init__.py (importing the missing module, then mapping those node types) in custom_nodes/,
 * as an installed pack whose dependency is missing would look on disk.
 */
export function logFailedPacks(log: ComfyLog, customNodesDir: string, packs: string[]): void {
  if (packs.length === 0) return;
  const rows: string[] = [];
  for (const spec of packs) {
    const [name = spec, module = DEFAULT_MISSING_MODULE, nodes = ""] = spec.split(":");
    const path = join(customNodesDir, name);
    _writePack(path, module, nodes.split(",").filter(Boolean));
    const message = `No module named '${module}'`;
    // logging.warning(traceback.format_exc()): frozen frames have no source line, and the text ends in "\n"
    const frames = _importFrames(path, module).map(([file, line, fn, code]) =>
      code ? `  File "${file}", line ${line}, in ${fn}\n    ${code}` : `  File "${file}", line ${line}, in ${fn}`,
    );
    log.info(["Traceback (most recent call last):", ...frames, `ModuleNotFoundError: ${message}`, ""].join("\n"));
    log.info(`Cannot import ${path} module for custom nodes: ${message}`);
    rows.push(`${(0).toFixed(1).padStart(6)} seconds (IMPORT FAILED): ${path}`);
  }
  log.info("\nImport times for custom nodes:");
  for (const row of rows) log.info(row);
  log.info("");
}

function _importFrames(packPath: string, module: string): PyFrame[] {
  return [
    [`${COMFY_ROOT}/nodes.py`, 2247, "load_custom_node", "module_spec.loader.exec_module(module)"],
    ["<frozen importlib._bootstrap_external>", 940, "exec_module", ""],
    ["<frozen importlib._bootstrap>", 241, "_call_with_frames_removed", ""],
    [join(packPath, "__init__.py"), 1, "<module>", `import ${module}`],
  ];
}

function _writePack(path: string, module: string, nodes: string[]): void {
  const init = join(path, "__init__.py");
  if (nodes.length === 0 || existsSync(init)) return;
  mkdirSync(path, { recursive: true });
  const mappings = nodes.map((node) => `    "${node}": object,`).join("\n");
  writeFileSync(init, `import ${module}\n\nNODE_CLASS_MAPPINGS = {\n${mappings}\n}\n`);
}
