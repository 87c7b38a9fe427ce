/**
 * Verify levels for one weight file (SPEC §7): exists ⊂ size ⊂ header ⊂ sha256, each level including the
 * cheaper ones. Every outcome, good or bad, is returned as data.
 */
import { stat } from "node:fs/promises";
import { type HashOptions, hashFile } from "./hash.ts";
import { checkSafetensors, isSafetensorsName } from "./safetensors.ts";

/** How hard to look at a present file. */
export const VERIFY_LEVELS = ["exists", "size", "header", "sha256"] as const;
export type VerifyLevel = (typeof VERIFY_LEVELS)[number];

/** A weight's state after verification (the `status` of `check --json`). */
export type WeightStatus = "present" | "missing" | "corrupt" | "size_mismatch" | "hash_mismatch";

/** What a manifest or the workflow's metadata says the file should be. */
export interface Expected {
  size?: number;
  sha256?: string;
}

/** One file's verification outcome; `reason` says what is wrong in operator terms. */
export type VerifyResult =
  | { status: "missing" }
  | { status: "present"; path: string; size: number; sha256?: string }
  | { status: "corrupt"; path: string; size: number; reason: string }
  | { status: "size_mismatch"; path: string; size: number; reason: string }
  | { status: "hash_mismatch"; path: string; size: number; sha256: string; reason: string };

const ZIP_MAGIC = "PK\x03\x04";
const ZIP_END_MAGIC = "PK\x05\x06";
// the end-of-central-directory record sits in the last 22 bytes plus an optional comment of up to 64 KiB
const ZIP_TAIL_BYTES = 22 + 65_535;

/** Verifies the file at `path` (undefined = not found) up to `level`; never throws for bad content. */
export async function verifyFile(
  path: string | undefined,
  level: VerifyLevel,
  expected: Expected = {},
  options: HashOptions = {},
): Promise<VerifyResult> {
  const info = path ? await stat(path).catch(() => undefined) : undefined;
  if (!path || !info) return { status: "missing" };
  const size = info.size;
  // a diffusers folder (or any directory) has no single file to look into
  if (info.isDirectory() || level === "exists") return { status: "present", path, size };
  if (size === 0) return { status: "corrupt", path, size, reason: "file is empty" };
  if (expected.size !== undefined && expected.size !== size) {
    return { status: "size_mismatch", path, size, reason: `${size} bytes, expected ${expected.size}` };
  }
  if (level === "size") return { status: "present", path, size };
  const problem = await headerProblem(path, size);
  if (problem) return { status: "corrupt", path, size, reason: problem };
  if (level === "header") return { status: "present", path, size };
  const { sha256 } = await hashFile(path, options);
  const want = expected.sha256?.toLowerCase();
  if (want && want !== sha256) {
    return { status: "hash_mismatch", path, size, sha256, reason: `sha256 ${sha256}, expected ${want}` };
  }
  return { status: "present", path, size, sha256 };
}

/** Why the file's structure is wrong (safetensors header, GGUF magic, truncated torch zip), or undefined. */
export async function headerProblem(path: string, size: number): Promise<string | undefined> {
  if (isSafetensorsName(path)) {
    const check = await checkSafetensors(path);
    return check.ok ? undefined : check.reason;
  }
  const file = Bun.file(path);
  const head = Buffer.from(await file.slice(0, 4).arrayBuffer()).toString("latin1");
  if (/\.gguf$/i.test(path)) return head === "GGUF" ? undefined : "not a GGUF file (no GGUF magic)";
  // torch.save writes a zip archive; a cut-off copy loses the central directory at the end
  if (head === ZIP_MAGIC) {
    const tail = Buffer.from(await file.slice(Math.max(0, size - ZIP_TAIL_BYTES), size).arrayBuffer());
    return tail.includes(ZIP_END_MAGIC, 0, "latin1") ? undefined : "zip archive without its end record: truncated";
  }
  // legacy pickles and other formats have no cheap structural check
  return undefined;
}
