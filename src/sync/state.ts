import { mkdir, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { z } from "zod";
import type { UploadedPart } from "./s3/ops.ts";

/**
 * The resume record of one multipart upload: which upload id, for which version of which file, with which part
 * size, and the parts already acknowledged. Kept on local disk (not on the volume: several machines may sync) and
 * rewritten atomically after every finished part, so a kill -9 loses at most the parts in flight.
 */
export const UploadState = z.object({
  version: z.literal(1),
  target: z.string(),
  key: z.string(),
  uploadId: z.string().min(1),
  size: z.number().int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  partSize: z.number().int().positive(),
  parts: z.array(z.object({ number: z.number().int().positive(), etag: z.string().min(1) })),
});
export type UploadState = z.infer<typeof UploadState>;

/** Where resume records live: `<cache>/comfy-worker/sync`, cache = XDG_CACHE_HOME or ~/.cache. */
export function defaultStateDir(env: Readonly<Record<string, string | undefined>>): string {
  const cache = env.XDG_CACHE_HOME || join(env.HOME || "/tmp", ".cache");
  return join(cache, "comfy-worker", "sync");
}

/** The record file of `key` on `target` (endpoint + bucket). */
export function statePath(dir: string, target: string, key: string): string {
  return join(dir, `${new Bun.CryptoHasher("sha1").update(`${target}\n${key}`).digest("hex")}.json`);
}

/** Reads a record; a missing, unreadable or malformed one is no record. */
export async function loadState(path: string): Promise<UploadState | undefined> {
  try {
    const parsed = UploadState.safeParse(await Bun.file(path).json());
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Writes a record atomically (temp + rename). */
export async function saveState(path: string, state: UploadState): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  await Bun.write(temp, `${JSON.stringify(state)}\n`);
  await rename(temp, path);
}

/** Forgets a record once its upload is complete (or abandoned). */
export async function dropState(path: string): Promise<void> {
  await rm(path, { force: true });
}

/** The parts of a record, as the upload knows them. */
export function statedParts(state: UploadState): UploadedPart[] {
  return state.parts.map((part) => ({ ...part }));
}
