/**
 * Custom node packs that failed to import at ComfyUI's start-up, read from its output. ComfyUI keeps running
 * without them, so a workflow using their nodes would only fail as "unknown node". The formats are nodes.py's
 * (load_custom_node and init_external_custom_nodes, ComfyUI 0.28.2):
 *
 *   logging.warning(traceback.format_exc())                       → "Traceback (most recent call last):" … "ModuleNotFoundError: No module named 'x'"
 *   logging.warning(f"Cannot import {module_path} module for custom nodes: {e}")
 *   logging.warning(f"Error while calling comfy_entrypoint in {module_path}: {e}")
 *   logging.info("\nImport times for custom nodes:") then "{:6.1f} seconds{}: {}" rows, " (IMPORT FAILED)" for a failure
 *
 * Newer releases put a coloured "[WARNING] " / "[INFO] " in front of every line (app/logger.py); it is stripped.
 */
import type { Dirent } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { WorkerError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { plainComfyLine } from "./log-line.ts";
import type { ComfyHandle } from "./supervisor.ts";

/** One pack that did not import, with the first line of its error. */
export interface FailedPack {
  /** The pack's folder (or file) name under custom_nodes. */
  name: string;
  path: string;
  /** First line of the error: "ModuleNotFoundError: No module named 'x'" when the traceback was seen. */
  reason: string;
}

const CANNOT_IMPORT_RE = /^Cannot import (.+) module for custom nodes: (.*)$/;
const ENTRYPOINT_RE = /^Error while calling comfy_entrypoint in (.+?): (.*)$/;
const TABLE_RE = /^Import times for custom nodes:\s*$/;
const ROW_RE = /^\s*\d+(?:\.\d+)? seconds( \(IMPORT FAILED\))?: (.+?)\s*$/;
const EXCEPTION_RE = /^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)): (.*)$/;
const CUSTOM_NODES_RE = /[/\\]custom_nodes[/\\]/;

/** Reads ComfyUI's output line by line and keeps the failed packs of the current run. */
export class ImportFailureReader {
  #failed = new Map<string, FailedPack>();
  #inTraceback = false;
  #lastException: string | undefined;
  #inTable = false;

  /** One output line, as the supervisor passes it. */
  read(raw: string): void {
    const line = plainComfyLine(raw);
    if (line === "Traceback (most recent call last):") {
      this.#inTraceback = true;
      return;
    }
    if (this.#inTraceback) {
      const exception = EXCEPTION_RE.exec(line);
      if (exception) [this.#inTraceback, this.#lastException] = [false, line];
      return;
    }
    const failure = CANNOT_IMPORT_RE.exec(line) ?? ENTRYPOINT_RE.exec(line);
    if (failure) {
      this.#add(failure[1] as string, this.#reason(failure[2] ?? ""));
      return;
    }
    if (TABLE_RE.test(line)) {
      this.#inTable = true;
      return;
    }
    const row = this.#inTable ? ROW_RE.exec(line) : null;
    if (!row) {
      // the table ends at its closing logging.info("") or any other line
      this.#inTable = false;
      return;
    }
    if (row[1] && !this.#failed.has(row[2] as string))
      this.#add(row[2] as string, "the import raised (no error line was printed)");
  }

  /** The failed packs seen since the last reset, in the order ComfyUI reported them. */
  failed(): FailedPack[] {
    return [...this.#failed.values()].map((pack) => ({ ...pack }));
  }

  /** Forgets everything (a new ComfyUI process starts). */
  reset(): void {
    this.#failed.clear();
    [this.#inTraceback, this.#lastException, this.#inTable] = [false, undefined, false];
  }

  // the traceback's last line names the exception type; "Cannot import …: e" only has str(e)
  #reason(text: string): string {
    const exception = this.#lastException;
    this.#lastException = undefined;
    const first = text.split("\n")[0]?.trim() ?? "";
    if (exception?.endsWith(`: ${first}`)) return exception;
    return first || exception || "the import raised";
  }

  #add(path: string, reason: string): void {
    // comfy_extras/ and comfy_api_nodes/ files use the same loader; they are ComfyUI's own, not packs
    if (!CUSTOM_NODES_RE.test(path)) return;
    this.#failed.set(path, { name: basename(path.replace(/[/\\]+$/, "")), path, reason });
  }
}

const readers = new WeakMap<object, ImportFailureReader>();

/**
 * The reader attached to a supervised (or emulated) ComfyUI: subscribed to its output and reset on every spawn.
 * Call it before ComfyUI starts so no start-up line is missed; later calls return the same reader.
 */
export function importFailuresOf(
  comfy: Pick<ComfyHandle, "onLine"> & Partial<Pick<ComfyHandle, "onSpawn">>,
): ImportFailureReader {
  let reader = readers.get(comfy);
  if (!reader) {
    const created = new ImportFailureReader();
    // a handle without output (attached to a ComfyUI we did not start) has nothing to read
    if (typeof comfy.onLine === "function") comfy.onLine((line) => created.read(line));
    comfy.onSpawn?.(() => created.reset());
    readers.set(comfy, created);
    reader = created;
  }
  return reader;
}

/** The start-up log's account: one warning per failed pack with the first line of its error. */
export function logImportFailures(reader: ImportFailureReader, log: Logger): void {
  for (const pack of reader.failed()) {
    log.warn(`custom node pack ${pack.name} failed to import at start-up: ${pack.reason}`, { path: pack.path });
  }
}

/** A node type the workflow uses that ComfyUI does not have, with its pack as the editor saved it (UI files). */
export interface MissingNode {
  class_type: string;
  pack?: string;
}

// enough for any real pack's Python sources; a bigger folder is read only this far
const SCAN_MAX_FILES = 2_000;
const SCAN_MAX_BYTES = 32 * 1_048_576;

/**
 * E_NODE_PACK_FAILED when a missing node type belongs to a pack that failed to import: matched by the UI's
 * pack id (cnr_id / aux_id), else by the type's name appearing quoted in the pack's Python sources (its
 * NODE_CLASS_MAPPINGS keys are string literals). Undefined when no failed pack claims any of them.
 */
export async function failedPackError(missing: MissingNode[], packs: FailedPack[]): Promise<WorkerError | undefined> {
  if (packs.length === 0 || missing.length === 0) return undefined;
  for (const node of missing) {
    const pack = _byId(node.pack, packs) ?? (await _bySource(node.class_type, packs));
    if (!pack) continue;
    const message = `node pack ${pack.name} failed to import at start-up: ${pack.reason} (the workflow's ${node.class_type} comes from it); install what it needs and restart`;
    return new WorkerError("E_NODE_PACK_FAILED", message, {
      details: { node_type: node.class_type, failed_node_pack: pack, unknown_nodes: missing },
    });
  }
  return undefined;
}

const sources = new Map<string, Promise<string>>();

function _byId(id: string | undefined, packs: FailedPack[]): FailedPack | undefined {
  if (!id) return undefined;
  const want = _norm(id.split("/").pop() ?? id);
  return packs.find((pack) => _norm(pack.name) === want);
}

async function _bySource(classType: string, packs: FailedPack[]): Promise<FailedPack | undefined> {
  const quoted = [`"${classType}"`, `'${classType}'`];
  for (const pack of packs) {
    let text = sources.get(pack.path);
    if (!text) {
      text = _readSources(pack.path);
      sources.set(pack.path, text);
    }
    const body = await text;
    if (quoted.some((q) => body.includes(q))) return pack;
  }
  return undefined;
}

// "ComfyUI-Impact-Pack", "comfyui-impact-pack" and "comfyui_impact_pack" are one pack
function _norm(name: string): string {
  return name
    .toLowerCase()
    .replace(/\.git$/, "")
    .replace(/[^a-z0-9]/g, "");
}

async function _readSources(path: string): Promise<string> {
  const files: string[] = [];
  await _walk(path, files).catch(() => {});
  let text = "";
  for (const file of files) {
    if (text.length > SCAN_MAX_BYTES) break;
    text += await readFile(file, "utf8").catch(() => "");
  }
  return text;
}

async function _walk(dir: string, out: string[]): Promise<void> {
  if (dir.endsWith(".py")) {
    out.push(dir);
    return;
  }
  const entries: Dirent[] = await readdir(dir, { withFileTypes: true });
  for (const entry of entries) {
    if (out.length >= SCAN_MAX_FILES) return;
    if (entry.name.startsWith(".") || entry.name === "__pycache__" || entry.name === "node_modules") continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) await _walk(full, out);
    else if (entry.name.endsWith(".py")) out.push(full);
  }
}

/**
 * Runs a node-type check; when it fails with E_UNKNOWN_NODE and a pack that failed to import at start-up
 * provides one of the missing types, that is the error instead ("node pack X failed to import …").
 */
export async function explainUnknownNodes<T>(
  comfy: Pick<ComfyHandle, "onLine"> & Partial<Pick<ComfyHandle, "onSpawn">>,
  check: () => T,
): Promise<T> {
  try {
    return check();
  } catch (error) {
    if (!(error instanceof WorkerError) || error.code !== "E_UNKNOWN_NODE") throw error;
    const listed = Array.isArray(error.details.unknown_nodes) ? (error.details.unknown_nodes as unknown[]) : [];
    const missing = listed.map((n) => (typeof n === "string" ? { class_type: n } : (n as MissingNode)));
    throw (await failedPackError(missing, importFailuresOf(comfy).failed())) ?? error;
  }
}
