import { realpathSync } from "node:fs";
import { mkdir, stat } from "node:fs/promises";
import { basename, extname, isAbsolute, join, normalize, relative, resolve } from "node:path";
import type { TypeDirs } from "./outputs.ts";

export type DirType = keyof TypeDirs;

const ANNOTATIONS: [suffix: string, type: DirType][] = [
  [" [output]", "output"],
  [" [input]", "input"],
  [" [temp]", "temp"],
];

/** A `"name.png [output]"` annotation split off, as folder_paths.annotated_filepath does. */
export function splitAnnotation(name: string): { name: string; type?: DirType } {
  for (const [suffix, type] of ANNOTATIONS) {
    // ComfyUI checks the bracket only and cuts one more char, so "x.png[output]" loses its last letter too
    if (name.endsWith(suffix.trim())) return { name: name.slice(0, -suffix.length), type };
  }
  return { name };
}

/** The file an (optionally annotated) name refers to, or undefined when it would leave its directory. */
export function annotatedPath(name: string, dirs: TypeDirs, fallback: DirType): string | undefined {
  const split = splitAnnotation(name);
  const base = dirs[split.type ?? fallback];
  const path = resolve(base, split.name);
  return _inside(base, path) ? path : undefined;
}

/** folder_paths.is_within_directory: both sides through realpath, so a symlink out of the directory fails. */
export function containedPath(name: string, dirs: TypeDirs, fallback: DirType): boolean {
  const split = splitAnnotation(name);
  const base = dirs[split.type ?? fallback];
  try {
    return _inside(realpathSync(base), realpathSync(resolve(base, split.name)));
  } catch {
    return false;
  }
}

export type ViewResult = { status: 400 | 403 | 404 } | { status: 200; path: string; filename: string };

/** GET /view's checks in ComfyUI's order: 400 bad name or type, 403 escaping subfolder, 404 missing. */
export async function resolveView(query: URLSearchParams, dirs: TypeDirs): Promise<ViewResult> {
  const raw = query.get("filename");
  if (raw === null) return { status: 404 };
  const split = splitAnnotation(raw);
  if (!split.name) return { status: 400 };
  if (split.name.startsWith("/") || split.name.includes("..")) return { status: 400 };
  const type = split.type ?? query.get("type") ?? "output";
  if (type !== "output" && type !== "input" && type !== "temp") return { status: 400 };
  let dir = dirs[type];
  const subfolder = query.get("subfolder");
  if (subfolder !== null) {
    const full = isAbsolute(subfolder) ? subfolder : join(dir, subfolder);
    if (!_inside(dir, full)) return { status: 403 };
    dir = full;
  }
  const filename = basename(split.name);
  const path = join(dir, filename);
  const info = await stat(path).catch(() => undefined);
  return info?.isFile() ? { status: 200, path, filename } : { status: 404 };
}

export interface UploadRequest {
  file: File;
  overwrite?: string;
  subfolder?: string;
  type?: string;
}

export type UploadResult = { status: 400 } | { status: 200; body: { name: string; subfolder: string; type: DirType } };

/** POST /upload/image: same content keeps the existing name, different content becomes "stem (N).ext". */
export async function saveUpload(req: UploadRequest, dirs: TypeDirs): Promise<UploadResult> {
  const type = (req.type || "input") as DirType;
  if (!(type in dirs) || !req.file.name) return { status: 400 };
  const subfolder = req.subfolder ?? "";
  const dir = dirs[type];
  const folder = join(dir, subfolder ? normalize(subfolder) : "");
  let filename = req.file.name;
  if (!_inside(dir, resolve(folder, filename))) return { status: 400 };
  await mkdir(folder, { recursive: true });
  const bytes = new Uint8Array(await req.file.arrayBuffer());
  if (req.overwrite !== "true" && req.overwrite !== "1") {
    const ext = extname(filename);
    const stem = filename.slice(0, filename.length - ext.length);
    for (let i = 1; await Bun.file(join(folder, filename)).exists(); i++) {
      if (await _sameContent(join(folder, filename), bytes)) return _uploaded(filename, subfolder, type);
      filename = `${stem} (${i})${ext}`;
    }
  }
  await Bun.write(join(folder, filename), bytes);
  return _uploaded(filename, subfolder, type);
}

function _uploaded(name: string, subfolder: string, type: DirType): UploadResult {
  return { status: 200, body: { name, subfolder, type } };
}

async function _sameContent(path: string, bytes: Uint8Array): Promise<boolean> {
  const hash = (data: Uint8Array) => new Bun.CryptoHasher("sha256").update(data).digest("hex");
  const existing = new Uint8Array(await Bun.file(path).arrayBuffer());
  return existing.length === bytes.length && hash(existing) === hash(bytes);
}

function _inside(base: string, path: string): boolean {
  const rel = relative(resolve(base), resolve(path));
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}
