import { readFile } from "node:fs/promises";
import { WorkerError } from "../errors.ts";
import { type ApiWorkflow, isUiWorkflow, parseApiWorkflow } from "./api.ts";
import { parseJsonText } from "./json-text.ts";
import { type ImageText, isPng, isWebp, readPngText, readWebpText } from "./png.ts";
import { parseUiWorkflow, type UiWorkflow } from "./ui.ts";

/** The two workflow formats: what POST /prompt takes, and what the editor saves. */
export type WorkflowFormat = "api" | "ui";

/** A workflow file after detection and validation; `format` says which of `api`/`ui` to use. */
export interface LoadedWorkflow {
  file: string;
  format: WorkflowFormat;
  api?: ApiWorkflow;
  /** Also set next to `api` when an image carries both, so its `models` metadata stays available. */
  ui?: UiWorkflow;
  /** Set when the workflow came out of an image's metadata. */
  container?: "png" | "webp";
}

/**
 * Reads a workflow from a path (or bytes named `name`): API or UI JSON, or a PNG/WebP with an embedded
 * `prompt` (preferred) or `workflow`. Throws E_INPUT naming the file, where, and what was expected.
 */
export async function loadWorkflowFile(source: string | Uint8Array, name?: string): Promise<LoadedWorkflow> {
  if (typeof source !== "string") return parseWorkflowBytes(source, name ?? "workflow");
  const bytes = await readFile(source).catch((error: NodeJS.ErrnoException) => {
    const code = error.code === "ENOENT" ? "E_NOT_FOUND" : "E_INPUT";
    const reason =
      error.code === "ENOENT"
        ? "no such file"
        : error.code === "EISDIR"
          ? "is a folder; give a workflow file (.json, or a .png/.webp with the workflow embedded)"
          : `cannot be read (${error.code ?? error.message})`;
    // the system's own words add nothing to "no such file" or "is a folder"
    const known = error.code === "ENOENT" || error.code === "EISDIR";
    throw new WorkerError(code, `${source}: ${reason}`, known ? {} : { cause: error });
  });
  return parseWorkflowBytes(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), name ?? source);
}

/** Detects and validates a workflow from a file's bytes (see loadWorkflowFile). */
export function parseWorkflowBytes(bytes: Uint8Array, file: string): LoadedWorkflow {
  if (isPng(bytes)) return _fromImage(readPngText(bytes, file), file, "png");
  if (isWebp(bytes)) return _fromImage(readWebpText(bytes, file), file, "webp");
  let text: string;
  try {
    text = new TextDecoder(_encoding(bytes), { fatal: true }).decode(bytes);
  } catch (error) {
    throw new WorkerError(
      "E_INPUT",
      `${file}: neither JSON text (UTF-8, or UTF-16 with a byte order mark) nor a PNG or WebP image`,
      {
        cause: error,
      },
    );
  }
  return parseWorkflowValue(parseJsonText(text, file), file);
}

/** Detects and validates an already parsed JSON value as an API- or UI-format workflow. */
export function parseWorkflowValue(value: unknown, file: string): LoadedWorkflow {
  if (isUiWorkflow(value)) return { file, format: "ui", ui: parseUiWorkflow(value, file) };
  if (_looksLikeApi(value)) return { file, format: "api", api: parseApiWorkflow(value, file) };
  throw new WorkerError(
    "E_INPUT",
    `${file}: not a ComfyUI workflow; expected API format ({"3": {"class_type": …, "inputs": {…}}}) or UI format (an object with a "nodes" array)`,
  );
}

// --- internal ---

// UTF-8 unless a UTF-16 byte order mark says otherwise (Windows PowerShell's `>` and Out-File write UTF-16LE);
// the decoder drops the mark
function _encoding(bytes: Uint8Array): "utf-8" | "utf-16le" | "utf-16be" {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return "utf-16le";
  return bytes[0] === 0xfe && bytes[1] === 0xff ? "utf-16be" : "utf-8";
}

function _fromImage(text: ImageText, file: string, container: "png" | "webp"): LoadedWorkflow {
  const { prompt, workflow } = text;
  const ui = workflow === undefined ? undefined : _embedded(workflow, file, "workflow", parseUiWorkflow);
  if (prompt !== undefined) {
    const api = _embedded(prompt, file, "prompt", parseApiWorkflow);
    return { file, format: "api", api, ...(ui ? { ui } : {}), container };
  }
  if (ui) return { file, format: "ui", ui, container };
  const found = Object.keys(text);
  const seen = found.length > 0 ? `it has ${found.map((k) => `"${k}"`).join(", ")}` : "it has no text metadata";
  throw new WorkerError(
    "E_INPUT",
    `${file}: no embedded ComfyUI workflow (expected a "prompt" or "workflow" ${container === "png" ? "text chunk" : "EXIF entry"}; ${seen}); images saved with --disable-metadata carry none`,
  );
}

function _embedded<T>(text: string, file: string, key: string, parse: (value: unknown, where: string) => T): T {
  const where = `${file} (embedded "${key}")`;
  return parse(parseJsonText(text, where), where);
}

function _looksLikeApi(value: unknown): boolean {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  return Object.values(value).some((node) => typeof node === "object" && node !== null && "class_type" in node);
}
