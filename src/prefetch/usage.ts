/**
 * Which weights this endpoint's jobs load, shared between workers through the volume they all mount.
 * Each worker appends to its own file (`<models>/.comfy-worker/usage/<worker>.jsonl`), so no two
 * processes ever write one file; a reader merges them all and tolerates a line cut short by a crash.
 */
import { appendFile, mkdir, readdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { z } from "zod";
import { downloadRoot } from "../weights/destination.ts";
import type { FolderRoots } from "../weights/folders.ts";

/** One weight a job loaded. */
export interface UsedWeight {
  folder: string;
  name: string;
}

/** A weight with how often and how recently jobs on this endpoint loaded it. */
export interface UsageRank extends UsedWeight {
  uses: number;
  lastMs: number;
}

const UsageLine = z.object({ t: z.number(), w: z.array(z.tuple([z.string(), z.string()])) });
const SAFE_ID_RE = /[^A-Za-z0-9._-]/g;
/** A worker's own file is cut back to its newest half above this, so the volume never fills with history. */
const MAX_FILE_BYTES = 1024 * 1024;
/** At most this many workers' files are merged (the newest), and this much of each is read. */
const MAX_FILES = 256;

/** `<models>/.comfy-worker`: next to the model folders, on the volume when the models are. */
export function volumeStateDir(roots: FolderRoots, modelsDir?: string): string {
  return join(dirname(downloadRoot(roots, "checkpoints", modelsDir)), ".comfy-worker");
}

/** Appends one line per job to this worker's usage file; never throws (usage is a hint, not a duty). */
export class UsageRecorder {
  readonly path: string;
  #ready: Promise<void> | undefined;

  constructor(stateDir: string, workerId: string) {
    this.path = join(stateDir, "usage", `${workerId.replace(SAFE_ID_RE, "_") || "worker"}.jsonl`);
  }

  async record(weights: readonly UsedWeight[], now = Date.now()): Promise<void> {
    if (weights.length === 0) return;
    const line = `${JSON.stringify({ t: now, w: weights.map((w) => [w.folder, w.name]) })}\n`;
    try {
      this.#ready ??= this.#prepare();
      await this.#ready;
      await appendFile(this.path, line);
    } catch {
      // a read-only or full volume must not fail a job
    }
  }

  // keeps the file bounded: its newest half is written to a temp file and renamed over it (atomic)
  async #prepare(): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    const size = await stat(this.path).then(
      (s) => s.size,
      () => 0,
    );
    if (size <= MAX_FILE_BYTES) return;
    const text = await readFile(this.path, "utf8");
    const tail = text.slice(text.indexOf("\n", Math.floor(text.length / 2)) + 1);
    const temp = `${this.path}.${process.pid}.tmp`;
    await writeFile(temp, tail);
    await rename(temp, this.path);
  }
}

/** Every worker's usage merged: most used first, ties broken by the most recent use. */
export async function readUsage(stateDir: string): Promise<UsageRank[]> {
  const dir = join(stateDir, "usage");
  const names = await readdir(dir).catch(() => [] as string[]);
  const files = names.filter((name) => name.endsWith(".jsonl")).slice(-MAX_FILES);
  const ranks = new Map<string, UsageRank>();
  for (const name of files) {
    const text = await readFile(join(dir, name), "utf8").catch(() => "");
    for (const line of text.slice(-MAX_FILE_BYTES).split("\n")) _count(ranks, line);
  }
  return [...ranks.values()].sort((a, b) => b.uses - a.uses || b.lastMs - a.lastMs);
}

function _count(ranks: Map<string, UsageRank>, line: string): void {
  if (!line.trim()) return;
  let parsed: z.infer<typeof UsageLine>;
  try {
    const result = UsageLine.safeParse(JSON.parse(line));
    if (!result.success) return;
    parsed = result.data;
  } catch {
    return; // a line cut short by a crash or by the tail read
  }
  for (const [folder, name] of parsed.w) {
    const key = `${folder}\0${name}`;
    const rank = ranks.get(key) ?? { folder, name, uses: 0, lastMs: 0 };
    rank.uses++;
    rank.lastMs = Math.max(rank.lastMs, parsed.t);
    ranks.set(key, rank);
  }
}
