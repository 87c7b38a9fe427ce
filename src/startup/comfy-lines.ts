/**
 * What ComfyUI's own output says about its start and its model loads. The formats are ComfyUI's logging
 * calls: nodes.py's import-times table (`"{:6.1f} seconds{}: {}"`, with " (IMPORT FAILED)" for a pack that
 * raised), server.py's "To see the GUI go to:", model_management.py's "Requested to load X" and
 * model_patcher.py's "loaded completely|partially …" (positional MB numbers in older releases,
 * "N MB loaded" in newer ones).
 */

import { plainComfyLine } from "../comfy/log-line.ts";

/** One row of ComfyUI's "Import times for custom nodes:" table. */
export interface PackImport {
  /** The pack's folder or file name under custom_nodes. */
  name: string;
  path: string;
  seconds: number;
  failed: boolean;
}

/** A recognised line; `undefined` from parseComfyLine for everything else. */
export type ComfyLineFact =
  | { kind: "import-table" }
  | { kind: "pack-import"; pack: PackImport }
  | { kind: "listening" }
  | { kind: "model-requested"; model: string }
  | { kind: "model-loaded"; mode: "completely" | "partially"; loaded_mb?: number };

const IMPORT_TABLE_RE = /^Import times for custom nodes:\s*$/;
const PACK_ROW_RE = /^\s*(\d+(?:\.\d+)?) seconds( \(IMPORT FAILED\))?: (.+?)\s*$/;
const GUI_RE = /To see the GUI go to:/;
const REQUESTED_RE = /^Requested to load (\S+)/;
const LOADED_RE = /^loaded (completely|partially)\b(.*)$/;
const NEW_LOADED_MB_RE = /([\d.]+) MB loaded/;
const OLD_LOADED_MB_RE = /^\s+[\d.e+-]+\s+([\d.]+)\s/;

/**
 * Reads one output line. Table rows are only taken after the table's heading (`inTable`), because a
 * "0.1 seconds: x" line elsewhere means nothing; the caller keeps that flag (see ComfyLineReader).
 */
export function parseComfyLine(line: string, inTable: boolean): ComfyLineFact | undefined {
  const text = plainComfyLine(line);
  if (IMPORT_TABLE_RE.test(text)) return { kind: "import-table" };
  if (inTable) {
    const row = PACK_ROW_RE.exec(text);
    if (row) return { kind: "pack-import", pack: _pack(row) };
  }
  if (GUI_RE.test(text)) return { kind: "listening" };
  const requested = REQUESTED_RE.exec(text);
  if (requested?.[1]) return { kind: "model-requested", model: requested[1] };
  const loaded = LOADED_RE.exec(text);
  if (loaded) {
    const rest = loaded[2] ?? "";
    const mb = NEW_LOADED_MB_RE.exec(rest)?.[1] ?? OLD_LOADED_MB_RE.exec(rest)?.[1];
    return {
      kind: "model-loaded",
      mode: loaded[1] === "partially" ? "partially" : "completely",
      ...(mb !== undefined && Number.isFinite(Number(mb)) ? { loaded_mb: Math.round(Number(mb)) } : {}),
    };
  }
  return undefined;
}

/** Feeds lines in order and keeps the one bit of state the table needs. */
export class ComfyLineReader {
  #inTable = false;

  read(line: string): ComfyLineFact | undefined {
    const fact = parseComfyLine(line, this.#inTable);
    if (fact?.kind === "import-table") this.#inTable = true;
    else if (this.#inTable && fact?.kind !== "pack-import") this.#inTable = false;
    return fact;
  }
}

function _pack(row: RegExpExecArray): PackImport {
  const path = row[3] ?? "";
  const name =
    path
      .replace(/[/\\]+$/, "")
      .split(/[/\\]/)
      .pop() ?? path;
  return { name, path, seconds: Number(row[1]), failed: row[2] !== undefined };
}
