import { appendFile, mkdir, readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { z } from "zod";
import type { Config } from "../config.ts";
import { WorkerError } from "../errors.ts";
import { shownUrl } from "./endpoint-url.ts";

/** One remote run as the ledger keeps it (a JSON line). */
export const LedgerEntry = z.object({
  time: z.string(),
  // an endpoint URL's user name and password are never written, nor shown from an older ledger
  endpoint: z.string().transform(shownUrl),
  job_id: z.string(),
  workflow: z.string(),
  status: z.string(),
  delay_ms: z.number().nullable(),
  execution_ms: z.number().nullable(),
  billed_s: z.number().nullable().default(null),
  /** Estimated $, null when no price was known. */
  cost: z.number().nullable(),
});
export type LedgerEntry = z.infer<typeof LedgerEntry>;

/** RUNS_LEDGER, else `$XDG_STATE_HOME/comfy-worker/runs.jsonl` (XDG default `~/.local/state`). */
export function ledgerPath(config: Pick<Config, "RUNS_LEDGER" | "env">): string {
  if (config.RUNS_LEDGER) return config.RUNS_LEDGER;
  const state = config.env.XDG_STATE_HOME || join(config.env.HOME || homedir(), ".local", "state");
  return join(state, "comfy-worker", "runs.jsonl");
}

/** Appends one run; a line under the pipe buffer size is written whole even with several writers (O_APPEND). */
export async function appendRun(path: string, entry: LedgerEntry): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await appendFile(path, `${JSON.stringify(LedgerEntry.parse(entry))}\n`);
}

/** Every run in the ledger since `sinceMs` (epoch); lines that don't parse are counted, not fatal. */
export async function readRuns(path: string, sinceMs = 0): Promise<{ runs: LedgerEntry[]; skipped: number }> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { runs: [], skipped: 0 };
    throw new WorkerError(
      "E_CONFIG",
      `cannot read the runs ledger ${path} (${code ?? error}); set RUNS_LEDGER to a file`,
    );
  }
  const runs: LedgerEntry[] = [];
  let skipped = 0;
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const parsed = _parse(line);
    // a line without a readable time cannot be placed in time: it is counted with the lines that are no runs
    if (!parsed || Number.isNaN(Date.parse(parsed.time))) skipped++;
    else if (Date.parse(parsed.time) >= sinceMs) runs.push(parsed);
  }
  return { runs, skipped };
}

/** Totals over runs: count per status, billed seconds, estimated cost (runs without a price counted apart). */
export function ledgerTotals(runs: LedgerEntry[]) {
  const byStatus: Record<string, number> = {};
  let billedS = 0;
  let cost = 0;
  let unpriced = 0;
  for (const run of runs) {
    byStatus[run.status] = (byStatus[run.status] ?? 0) + 1;
    billedS += run.billed_s ?? Math.ceil((run.execution_ms ?? 0) / 1000);
    if (run.cost === null) unpriced++;
    else cost += run.cost;
  }
  return { runs: runs.length, by_status: byStatus, billed_s: billedS, cost: Math.round(cost * 1e6) / 1e6, unpriced };
}

function _parse(line: string): LedgerEntry | undefined {
  try {
    const parsed = LedgerEntry.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
