import { mkdir, open, readdir, rm } from "node:fs/promises";
import { basename, dirname, extname, join, relative, resolve, sep } from "node:path";
import { WorkerError } from "../errors.ts";

/** One output file of a job result (SPEC §6): inline base64 or a URL to fetch. */
export interface OutputItem {
  filename: string;
  subfolder: string;
  type: "base64" | "s3_url";
  data: string;
}

/** Where a file went; `requested` is set when that name was taken and the next free one was used. */
export interface SavedOutput {
  path: string;
  requested?: string;
}

export interface SaveOutputsResult {
  saved: SavedOutput[];
  /** Files that could not be saved, each with why (the rest are saved regardless). */
  failed: Array<{ item: OutputItem; error: Error }>;
}

/** Fetches the bytes behind an `s3_url` output; throws a WorkerError when the URL is refused. */
export type FetchOutput = (url: string) => Promise<Response>;

// some workers send base64 as a data: URI
const DATA_URI_PREFIX = /^data:[^,]*;base64,/i;
// ComfyUI names outputs prefix_00001_.png; the next free name keeps that pattern with the next number
const COMFY_COUNTER = /^(.*_)(\d{5,})(_?)$/;
const MAX_FREE_NAME_TRIES = 100_000;

/**
 * Saves every output under `outDir` (keeping ComfyUI's subfolders, never escaping `outDir`), never overwriting
 * a file that is there: a taken name becomes the next free one (ComfyUI's counter, else `-2`, `-3`, …).
 */
export async function saveOutputFiles(
  items: OutputItem[],
  outDir: string,
  fetchOutput?: FetchOutput,
): Promise<SaveOutputsResult> {
  const result: SaveOutputsResult = { saved: [], failed: [] };
  for (const item of items) {
    try {
      result.saved.push(await _saveOne(item, outDir, fetchOutput));
    } catch (error) {
      result.failed.push({ item, error: writeError(error, join(outDir, item.subfolder, item.filename)) });
    }
  }
  return result;
}

async function _saveOne(item: OutputItem, outDir: string, fetchOutput?: FetchOutput): Promise<SavedOutput> {
  // fetch first: a refused or failed URL leaves no empty file behind
  const body: Buffer | Response =
    item.type === "base64"
      ? Buffer.from(item.data.replace(DATA_URI_PREFIX, ""), "base64")
      : await _fetch(item, fetchOutput);
  const wanted = _target(outDir, item);
  const path = await reserveFreePath(wanted);
  try {
    if (body instanceof Response) await Bun.write(path, body);
    else await Bun.write(path, body);
  } catch (error) {
    await rm(path, { force: true });
    // a body that broke off while it was written is a failed download, not a folder that refuses files
    if (body instanceof Response && !_isDiskError(error)) throw _downloadError(item, error);
    throw error;
  }
  const shown = join(outDir, relative(resolve(outDir), path));
  return path === wanted
    ? { path: shown }
    : { path: shown, requested: join(outDir, relative(resolve(outDir), wanted)) };
}

async function _fetch(item: OutputItem, fetchOutput?: FetchOutput): Promise<Response> {
  if (!fetchOutput) throw new WorkerError("E_INPUT", `output ${item.filename} is a URL and nothing may fetch it here`);
  const res = await fetchOutput(item.data).catch((error: unknown) => {
    throw _downloadError(item, error);
  });
  if (!res.ok) {
    await res.body?.cancel();
    throw new WorkerError("E_DOWNLOAD", `output ${item.filename}: ${new URL(item.data).host} answered ${res.status}`);
  }
  return res;
}

// errors of the disk or the folder; anything else while a fetched body is written came from the network
const DISK_ERRORS = new Set(["EACCES", "EPERM", "ENOENT", "ENOTDIR", "EISDIR", "ENOSPC", "EROFS", "EEXIST", "EDQUOT"]);

function _isDiskError(error: unknown): boolean {
  return DISK_ERRORS.has(String((error as NodeJS.ErrnoException)?.code));
}

function _downloadError(item: OutputItem, error: unknown): Error {
  if (error instanceof WorkerError) return error;
  const why = (error as NodeJS.ErrnoException)?.code ?? (error as Error)?.message ?? String(error);
  return new WorkerError("E_DOWNLOAD", `output ${item.filename}: fetching ${item.data} failed (${why})`);
}

function _target(outDir: string, item: OutputItem): string {
  const root = resolve(outDir);
  const target = resolve(root, item.subfolder, item.filename);
  if (!target.startsWith(root + sep))
    throw new WorkerError("E_INPUT", `output name ${item.subfolder}/${item.filename} escapes ${outDir}`);
  return target;
}

/**
 * Creates `wanted`, or the next free name beside it, exclusively (`wx`: no race with another process saving
 * into the same folder) and returns the path now reserved.
 */
export async function reserveFreePath(wanted: string): Promise<string> {
  try {
    return await _reserve(wanted);
  } catch (error) {
    throw writeError(error, wanted);
  }
}

// what the file system says when it refuses a write, for someone who chose the folder (`--out`)
const WRITE_REFUSALS: Record<string, string> = {
  ENOTDIR: "a part of that path is a file, not a folder",
  // mkdir's answer when the folder to make is a file (an exclusive create's EEXIST is a taken name instead)
  EEXIST: "a part of that path is a file, not a folder",
  EISDIR: "that is a folder",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EROFS: "the file system is read-only",
  ENOSPC: "no space left on the disk",
  EDQUOT: "the disk quota is used up",
  ENAMETOOLONG: "the name is too long",
};

/** A file system refusal as E_USAGE naming the path and why (and the flag that chose it); other errors as they are. */
export function writeError(error: unknown, path: string, flag = "--out"): Error {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (error instanceof WorkerError || typeof code !== "string") return error as Error;
  const why = WRITE_REFUSALS[code] ?? (error as Error).message;
  return new WorkerError("E_USAGE", `cannot write ${path}: ${why} (${code}); choose another ${flag}`, { cause: error });
}

async function _reserve(wanted: string): Promise<string> {
  await mkdir(dirname(wanted), { recursive: true });
  if (await _create(wanted)) return wanted;
  // taken: read the folder once instead of trying name after name, since a folder that collected N runs of
  // the same workflow (`run --emulate` restarts ComfyUI's counter every time) would cost N opens per file
  const taken = new Set(await readdir(dirname(wanted)));
  for (let n = 1; n < MAX_FREE_NAME_TRIES; n++) {
    const path = nextName(wanted, n);
    if (!taken.has(basename(path)) && (await _create(path))) return path;
  }
  throw new WorkerError("E_INPUT", `no free name beside ${wanted} after ${MAX_FREE_NAME_TRIES} tries`);
}

// exclusive create (`wx`): false when the name is taken, even by another process since the folder was read
async function _create(path: string): Promise<boolean> {
  try {
    await (await open(path, "wx")).close();
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
}

/** The `n`-th alternative to a taken name: ComfyUI's counter + n, else `name-<n+1>.ext`. */
export function nextName(path: string, n: number): string {
  const ext = extname(path);
  const stem = basename(path, ext);
  const counter = stem.match(COMFY_COUNTER);
  const next = counter
    ? `${counter[1]}${String(Number(counter[2]) + n).padStart((counter[2] as string).length, "0")}${counter[3]}`
    : `${stem}-${n + 1}`;
  return join(dirname(path), `${next}${ext}`);
}
