import { rename, stat, unlink, writeFile } from "node:fs/promises";
import { z } from "zod";
import { builtOnce } from "../lib/built-once.ts";
import type { Segment } from "./segments.ts";

// built when a download resumes, not at every command's start (lib/built-once.ts)
const partState = builtOnce(() =>
  z.object({
    version: z.literal(1),
    size: z.number().int().nonnegative(),
    /** The host's ETag or Last-Modified when the download began; null when it sent neither. */
    validator: z.string().nullable(),
    /** The sha256 the file must have, when one was known. */
    sha256: z.string().nullable(),
    segmentBytes: z.number().int().positive(),
    /** Bytes on disk from the start of each segment, in order. */
    written: z.array(z.number().int().nonnegative()),
  }),
);
/** The `.part.json` next to a `.part`: which bytes of which version of the file are already on disk. */
export type PartState = z.infer<ReturnType<typeof partState>>;

/** What the host says now; a saved state for anything else belongs to another version of the file. */
export interface RemoteIdentity {
  size: number;
  validator: string | null;
  sha256: string | null;
}

/** The saved state when it matches the remote file and the `.part` on disk; undefined otherwise (start over). */
export async function loadPartState(
  statePath: string,
  partPath: string,
  remote: RemoteIdentity,
): Promise<PartState | undefined> {
  const file = Bun.file(statePath);
  if (!(await file.exists())) return undefined;
  let parsed: ReturnType<ReturnType<typeof partState>["safeParse"]>;
  try {
    parsed = partState().safeParse(await file.json());
  } catch {
    return undefined; // torn or garbled JSON: the download starts over
  }
  if (!parsed.success) return undefined;
  const state = parsed.data;
  const sameFile =
    state.size === remote.size &&
    state.validator === remote.validator &&
    (state.sha256 === null || remote.sha256 === null || state.sha256 === remote.sha256);
  const segments = Math.ceil(state.size / state.segmentBytes);
  if (!sameFile || state.written.length !== segments) return undefined;
  const extent = state.written.reduce(
    (max, bytes, index) => (bytes > 0 ? Math.max(max, index * state.segmentBytes + bytes) : max),
    0,
  );
  const partSize = await stat(partPath).then(
    (info) => info.size,
    () => -1,
  );
  return extent <= partSize && state.written.every((bytes) => bytes <= state.segmentBytes) ? state : undefined;
}

/** Writes the state atomically (temp file + rename), so a kill mid-write leaves the previous state. */
export async function savePartState(
  statePath: string,
  remote: RemoteIdentity,
  segmentBytes: number,
  segments: readonly Segment[],
): Promise<void> {
  const state: PartState = {
    version: 1,
    ...remote,
    segmentBytes,
    written: segments.map((segment) => segment.written),
  };
  const temp = `${statePath}.tmp`;
  await writeFile(temp, JSON.stringify(state));
  await rename(temp, statePath);
}

/** Removes a state file and its temp sibling; missing files are fine. */
export async function removePartState(statePath: string): Promise<void> {
  await Promise.all([unlink(statePath).catch(() => {}), unlink(`${statePath}.tmp`).catch(() => {})]);
}
