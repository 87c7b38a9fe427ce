/**
 * Where the proxy keeps the outputs of remote prompts and how `/view` finds them. Every file is announced under
 * the subfolder `remote/…`, so it never shadows a file of the local ComfyUI with the same name, and it is kept
 * on disk at `<out>/<subfolder>/<name>` (temp previews under `<out>/temp/…`) without overwriting earlier files.
 */
import { mkdir, stat } from "node:fs/promises";
import { basename, extname, isAbsolute, join, relative, resolve } from "node:path";
import { z } from "zod";
import { WorkerError } from "../errors.ts";
import { guardedFetch, type UrlGuard } from "../lib/url-guard.ts";
import { addPngInfo } from "./png-info.ts";

export const REMOTE_SUBFOLDER = "remote";

const ResultFile = z.looseObject({
  filename: z.string().min(1),
  subfolder: z.string().default(""),
  node_id: z.string(),
  type: z.enum(["base64", "s3_url"]),
  data: z.string(),
  mime: z.string().optional(),
});
const JobResult = z.looseObject({
  images: z.array(ResultFile).default([]),
  videos: z.array(ResultFile).default([]),
  audio: z.array(ResultFile).default([]),
  files: z.array(ResultFile).default([]),
  text: z.array(z.looseObject({ node_id: z.string(), text: z.string() })).default([]),
});
type ResultFile = z.infer<typeof ResultFile>;

/** One file a node wrote as the remote stream named it (`type` is ComfyUI's folder: output or temp). */
export interface AnnouncedFile {
  node: string;
  filename: string;
  subfolder: string;
  type: string;
}

/** A node's UI output, as ComfyUI's `executed` event and `/history` carry it. */
export type UiOutput = Record<string, unknown[]>;

export interface SaveOptions {
  outDir: string;
  /** For bucket URLs in the result (PRIVATE_HOSTS_ALLOWED). */
  guard: UrlGuard;
  fetch?: typeof fetch;
  /** The prompt's `extra_data.extra_pnginfo`, added to PNGs that lack it (see png-info.ts). */
  extraPnginfo?: unknown;
}

// the result groups files by kind; ComfyUI's UI dict has its own keys (video savers report under images)
const UI_KEYS: Record<"images" | "videos" | "audio" | "files", string> = {
  images: "images",
  videos: "images",
  audio: "audio",
  files: "files",
};

/** Saves every file of a COMPLETED job's output and returns each node's UI output, in result order. */
export async function saveResult(
  output: unknown,
  announced: readonly AnnouncedFile[],
  options: SaveOptions,
): Promise<Map<string, UiOutput>> {
  const parsed = JobResult.safeParse(output);
  if (!parsed.success)
    throw new WorkerError("E_COMFY_UNAVAILABLE", "the endpoint's result has no images/videos/audio/files lists", {
      details: { issues: parsed.error.issues.slice(0, 3) },
    });
  const ui = new Map<string, UiOutput>();
  for (const group of ["images", "videos", "audio", "files"] as const) {
    for (const file of parsed.data[group]) {
      const type = _folderType(file, announced);
      const saved = await _save(file, type, options);
      const entry = ui.get(file.node_id) ?? {};
      const key = UI_KEYS[group];
      entry[key] = [...(entry[key] ?? []), saved];
      if (group === "videos") entry.animated = [...(entry.animated ?? []), true];
      ui.set(file.node_id, entry);
    }
  }
  for (const text of parsed.data.text) {
    const entry = ui.get(text.node_id) ?? {};
    entry.text = [...(entry.text ?? []), text.text];
    ui.set(text.node_id, entry);
  }
  return ui;
}

function _folderType(file: ResultFile, announced: readonly AnnouncedFile[]): "output" | "temp" {
  const match = announced.find(
    (a) => a.node === file.node_id && a.filename === file.filename && a.subfolder === file.subfolder,
  );
  return match?.type === "temp" ? "temp" : "output";
}

async function _save(file: ResultFile, type: "output" | "temp", options: SaveOptions) {
  const bytes = addPngInfo(await _bytes(file, options), options.extraPnginfo);
  const subfolder = file.subfolder ? `${REMOTE_SUBFOLDER}/${file.subfolder}` : REMOTE_SUBFOLDER;
  const dir = _typeDir(options.outDir, type);
  const target = resolve(dir, subfolder);
  if (!_inside(dir, target))
    throw new WorkerError("E_INPUT", `the endpoint named an output outside its folder: ${file.subfolder}`);
  await mkdir(target, { recursive: true });
  const filename = await _freeName(target, basename(file.filename));
  await Bun.write(join(target, filename), bytes);
  return { filename, subfolder, type };
}

async function _bytes(file: ResultFile, options: SaveOptions): Promise<Uint8Array> {
  if (file.type === "base64") return Buffer.from(file.data.replace(/^data:[^,]*,/, ""), "base64");
  const what = `output ${file.filename}`;
  const res = await guardedFetch(file.data, { signal: AbortSignal.timeout(120_000) }, what, {
    ...options.guard,
    protocols: ["https:", "http:"],
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  if (!res.ok) {
    await res.body?.cancel();
    throw new WorkerError(
      "E_COMFY_UNAVAILABLE",
      `${what}: the bucket answered HTTP ${res.status} (expired presigned URL?)`,
    );
  }
  return new Uint8Array(await res.arrayBuffer());
}

// never overwrite: "name.png" → "name (1).png", as ComfyUI's upload does
async function _freeName(dir: string, name: string): Promise<string> {
  const ext = extname(name);
  const stem = name.slice(0, name.length - ext.length);
  let candidate = name;
  for (let i = 1; await _exists(join(dir, candidate)); i++) candidate = `${stem} (${i})${ext}`;
  return candidate;
}

function _typeDir(outDir: string, type: string): string {
  return type === "output" ? resolve(outDir) : resolve(outDir, type);
}

/**
 * What `/view` should serve for this query: a stored remote output (path + name), a status (ComfyUI's 400/403/404
 * rules), or undefined when the query is not about the proxy's files (then ComfyUI answers it).
 */
export async function resolveStoredView(
  query: URLSearchParams,
  outDir: string,
): Promise<{ path: string; filename: string } | { status: 400 | 403 | 404 } | undefined> {
  const subfolder = query.get("subfolder") ?? "";
  const type = query.get("type") ?? "output";
  if (subfolder !== REMOTE_SUBFOLDER && !subfolder.startsWith(`${REMOTE_SUBFOLDER}/`)) return undefined;
  if (type !== "output" && type !== "temp") return undefined;
  const raw = query.get("filename");
  if (!raw) return { status: 404 };
  if (raw.startsWith("/") || raw.includes("..")) return { status: 400 };
  const dir = _typeDir(outDir, type);
  const full = isAbsolute(subfolder) ? subfolder : join(dir, subfolder);
  if (!_inside(dir, full)) return { status: 403 };
  const filename = basename(raw);
  const path = join(full, filename);
  return (await _exists(path)) ? { path, filename } : undefined;
}

function _inside(base: string, path: string): boolean {
  const rel = relative(base, path);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

async function _exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}
